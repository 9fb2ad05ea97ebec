//! Images run the wrong way: no function mounted, a FUNCTION_PATH that does not exist, a
//! cache folder the user cannot write. Each stops with one clear message and exit 64.

use super::*;

/// One error line (fnshim's JSON log), saying every one of `words`.
fn assert_says(output: &str, words: &[&str]) {
    let errors = output
        .lines()
        .filter(|l| l.contains(r#""level":"ERROR""#))
        .count();
    assert_eq!(errors, 1, "one error message, not {errors}:\n{output}");
    assert_mentions(output, words);
}

fn assert_mentions(output: &str, words: &[&str]) {
    for word in words {
        assert!(
            output.contains(word),
            "the message should mention {word:?}:\n{output}"
        );
    }
}

/// FUNCTION_PATH=/app/function does not exist in any image: without a mount, no start.
#[test]
fn an_image_run_without_a_mounted_function_exits_64() {
    for runtime in ["node", "custom"] {
        let (code, output) = Run::new(image(runtime)).run_to_exit();
        assert_eq!(code, 64, "fnshim/{runtime} without a function:\n{output}");
        assert_says(
            &output,
            &[
                "invalid configuration",
                "FUNCTION_PATH",
                "/app/function",
                "does not exist: mount",
            ],
        );
    }
}

#[test]
fn a_bad_function_path_exits_64_with_a_clear_message() {
    let (code, output) = Run::new(image("python"))
        .function(&examples().join("python-hello"), true)
        .env("FUNCTION_PATH", "/app/functoin")
        .run_to_exit();
    assert_eq!(code, 64, "{output}");
    assert_says(&output, &["FUNCTION_PATH", "/app/functoin"]);
}

/// A user other than `fn` (as `docker run --user` or Kubernetes' runAsUser choose) cannot
/// write the image's cache folder: fnshim names CACHE_DIR and why.
#[test]
fn an_unwritable_cache_folder_exits_64_naming_cache_dir() {
    let (code, output) = Run::new(image("node"))
        .function(&examples().join("node-hello"), true)
        .option("--user", "12345:12345")
        .run_to_exit();
    assert_eq!(code, 64, "{output}");
    assert_says(
        &output,
        &["CACHE_DIR", "/var/cache/fnshim", "Permission denied"],
    );
}

#[test]
fn an_unknown_option_to_the_entrypoint_exits_64() {
    let (code, output) = Run::new(image("custom")).arg("--bogus").run_to_exit();
    assert_eq!(code, 64, "{output}");
    assert_mentions(&output, &["unknown option \"--bogus\"", "usage: fnshim"]);
}

//! Functions that cannot load (syntax error, missing export, exception at import) make fnshim
//! exit 65 with the language's own message; a runtime missing from PATH makes it exit 69.

use std::process::Command;

use super::*;

/// Starts fnshim on one broken entry and checks exit code 65 and every `needle` in its stderr.
fn fails_to_load(lang: Lang, source: &str, needles: &[&str]) {
    let served = start(&[(lang.entry(), source)], &[]);
    let code = served.wait_code(SLOW_START);
    assert_eq!(code, 65, "{served}");
    let stderr = served.stderr();
    for needle in needles {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}{served}");
    }
}

fn syntax_error_exits_65_with_the_languages_message(lang: Lang) {
    let source = match lang {
        Lang::Python => "def handler(event, context)\n    return 1\n",
        _ => "export function handler(event {\n  return 1;\n}\n",
    };
    fails_to_load(lang, source, &["SyntaxError", lang.entry()]);
}
per_language!(syntax_error_exits_65_with_the_languages_message);

fn missing_handler_export_exits_65_naming_it(lang: Lang) {
    let source = match lang {
        Lang::Python => "def other_name(event, context):\n    return 1\n",
        _ => "export function other_name(event) { return 1; }\n",
    };
    fails_to_load(lang, source, &["handler", "other_name"]);
}
per_language!(missing_handler_export_exits_65_naming_it);

fn exception_at_import_exits_65_with_its_type_and_message(lang: Lang) {
    let (source, error_type) = match lang {
        Lang::Python => (
            "import os\nraise LookupError('import-time failure')\n",
            "LookupError",
        ),
        _ => (
            "throw new RangeError('import-time failure');\nexport function handler() {}\n",
            "RangeError",
        ),
    };
    fails_to_load(lang, source, &[error_type, "import-time failure"]);
}
per_language!(exception_at_import_exits_65_with_its_type_and_message);

#[test]
fn node_commonjs_syntax_error_exits_65() {
    let served = start(
        &[(
            "index.js",
            "exports.handler = (event) => {\n  return {;\n};\n",
        )],
        &[],
    );
    assert_eq!(served.wait_code(SLOW_START), 65, "{served}");
    assert!(served.stderr().contains("SyntaxError"), "{served}");
}

#[test]
fn typescript_under_node_without_type_stripping_is_a_clear_load_error() {
    let served = start(
        &[(
            "index.ts",
            "export function handler(e: unknown): number { return 1; }\n",
        )],
        &[("FUNCTION_RUNTIME", "node")],
    );
    let code = served.wait_code(SLOW_START);
    let node_strips = Command::new("node")
        .args(["-p", "process.features.typescript ? 'yes' : 'no'"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "yes")
        .unwrap_or(false);
    if node_strips {
        panic!(
            "this node strips types: the test expected Node 20; update it to serve the .ts{served}"
        );
    }
    assert_eq!(code, 65, "{served}");
    let stderr = served.stderr();
    assert!(
        stderr.contains("UnsupportedRuntime") && stderr.contains("needs Node 22.6 or later"),
        "say why a .ts cannot run under node{served}"
    );
}

/// A PATH holding only an empty folder: no node, deno or python3.
fn without_runtimes(lang: Lang, env: &[(&str, &str)]) -> Served {
    let empty = tempfile::tempdir().unwrap();
    let mut env = env.to_vec();
    env.push(("PATH", empty.path().to_str().unwrap()));
    let served = start(&[(lang.entry(), &lang.probe())], &env);
    served.wait_exit(SLOW_START);
    served
}

fn runtime_missing_from_path_exits_69(lang: Lang) {
    let runtime = match lang {
        Lang::Node => "node",
        Lang::Deno => "deno",
        Lang::Python => "python3",
    };
    // Without deno on PATH a .ts entry falls back to node; FUNCTION_RUNTIME pins deno.
    let env: &[(&str, &str)] = if lang == Lang::Deno {
        &[("FUNCTION_RUNTIME", "deno")]
    } else {
        &[]
    };
    let served = without_runtimes(lang, env);
    assert_eq!(served.wait_code(SLOW_START), 69, "{served}");
    assert!(
        served.stderr().contains(runtime),
        "name the missing runtime {runtime}{served}"
    );
}
per_language!(runtime_missing_from_path_exits_69);

#[test]
fn ts_entry_without_deno_falls_back_to_node_and_says_so() {
    let served = without_runtimes(Lang::Deno, &[]);
    assert_eq!(served.wait_code(SLOW_START), 69, "{served}");
    assert!(
        served.stderr().contains("node"),
        "a .ts without deno needs node{served}"
    );
}

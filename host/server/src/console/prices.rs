//! The price table of the console's cost estimates, in one place: the
//! defaults are `assets/prices.json` (AWS's us-east-1 list prices, its
//! `source` says which); a JSON file named by `$STEPBOX_CONSOLE_PRICES`
//! overrides any of its members (read on each request, so an edit shows at
//! the next page load).

use serde_json::Value;

/// The environment variable naming a file of prices that override the defaults.
pub const ENV_VAR: &str = "STEPBOX_CONSOLE_PRICES";

const DEFAULTS: &str = include_str!("assets/prices.json");

/// The defaults with the override file's members over them.
pub fn table() -> Result<Value, String> {
    let mut table: Value = serde_json::from_str(DEFAULTS).map_err(|e| format!("assets/prices.json: {e}"))?;
    let Some(path) = std::env::var_os(ENV_VAR).filter(|p| !p.is_empty()) else {
        return Ok(table);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("${ENV_VAR} ({}): {e}", path.to_string_lossy()))?;
    let overrides: Value = serde_json::from_str(&text).map_err(|e| format!("${ENV_VAR} ({}): {e}", path.to_string_lossy()))?;
    let Value::Object(overrides) = overrides else {
        return Err(format!("${ENV_VAR} ({}): not a JSON object", path.to_string_lossy()));
    };
    if let Value::Object(t) = &mut table {
        t.extend(overrides);
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_defaults_parse_and_price_a_transition() {
        let t = super::table().unwrap();
        assert_eq!(t["standardPerTransition"], serde_json::json!(0.000025));
    }
}

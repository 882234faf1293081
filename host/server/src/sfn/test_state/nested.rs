//! States inside Map and Parallel states. TestState's `stateName` may name
//! one; AWS then tests it as it runs in an iteration (with `$$.Map.Item`
//! filled in) or a branch.

use serde_json::{Map, Value};

/// Where a state found by [`find`] sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Within {
    /// A top-level state of the definition.
    Top,
    /// A state of a Map's ItemProcessor (or Iterator).
    Map,
    /// A state of a Parallel's branch.
    Parallel,
}

/// The state called `name`: among `states`, else inside any of their Map or
/// Parallel states (depth first, in definition order).
pub(super) fn find<'a>(states: &'a Map<String, Value>, name: &str) -> Option<(&'a Map<String, Value>, Within)> {
    if let Some(Value::Object(s)) = states.get(name) {
        return Some((s, Within::Top));
    }
    states.values().filter_map(Value::as_object).find_map(|s| inside(s, name))
}

/// Whether `state` (a Map or Parallel) has a state called `name` inside it.
pub(super) fn contains(state: &Map<String, Value>, name: &str) -> bool {
    inside(state, name).is_some()
}

fn inside<'a>(state: &'a Map<String, Value>, name: &str) -> Option<(&'a Map<String, Value>, Within)> {
    children(state).find_map(|(states, within)| match find(states, name)? {
        (s, Within::Top) => Some((s, within)),
        deeper => Some(deeper),
    })
}

/// The `States` objects directly inside a Map or Parallel state.
fn children(state: &Map<String, Value>) -> impl Iterator<Item = (&Map<String, Value>, Within)> {
    let processor = ["ItemProcessor", "Iterator"].into_iter().find_map(|k| state.get(k));
    let map = processor.and_then(|p| p.get("States")).and_then(Value::as_object).map(|s| (s, Within::Map));
    let branches = state.get("Branches").and_then(Value::as_array).into_iter().flatten();
    let parallel = branches.filter_map(|b| b.get("States")?.as_object()).map(|s| (s, Within::Parallel));
    map.into_iter().chain(parallel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn states_are_found_at_any_depth_with_where_they_sit() {
        let def = json!({
            "A": {"Type": "Pass", "Next": "M"},
            "M": {"Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {
                "P": {"Type": "Parallel", "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}], "Next": "I"},
                "I": {"Type": "Task", "Resource": "r", "End": true}}}, "End": true}
        });
        let states = def.as_object().unwrap();
        assert_eq!(find(states, "A").unwrap().1, Within::Top);
        assert_eq!(find(states, "I").unwrap().1, Within::Map);
        assert_eq!(find(states, "B").unwrap().1, Within::Parallel);
        assert!(find(states, "Z").is_none());
        assert!(contains(states["M"].as_object().unwrap(), "B"));
        assert!(!contains(states["M"].as_object().unwrap(), "A"));
    }
}

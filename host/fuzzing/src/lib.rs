//! The fuzz targets' bodies: each takes arbitrary bytes and drives one of
//! stepbox's parsers and evaluators of untrusted text (definitions, JSONPath,
//! intrinsic functions, JSONata; with the `server` feature the SigV4
//! Authorization header and query, function uploads, and whole requests
//! through the request router). A panic is the finding, except one raised
//! in jsonata-core that stepbox catches ([`install_panic_hook`]). `fuzz/` runs them
//! under libFuzzer on nightly (`scripts/fuzz.sh`); the inputs it found, kept
//! in `regressions/TARGET/`, and the seeds in `seeds/TARGET/` run here on
//! stable as tests.

use serde_json::{Map, Value};
use stepbox_asl::jsonata::{Bindings, Expression};
use stepbox_asl::{Intrinsic, JsonPath, Scope, StateMachine};

#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
mod router;
#[cfg(feature = "server")]
pub use router::router;
#[cfg(feature = "server")]
pub use server::{authorization, upload};

/// The targets by name, as `fuzz/fuzz_targets/NAME.rs` and the corpus directories call them.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("definition", definition),
    ("jsonpath", jsonpath),
    ("intrinsic", intrinsic),
    ("jsonata", jsonata),
    #[cfg(feature = "server")]
    ("authorization", authorization),
    #[cfg(feature = "server")]
    ("upload", upload),
    #[cfg(feature = "server")]
    ("router", router),
];

/// libFuzzer's panic hook aborts at every panic, caught or not. jsonata-core
/// panics on a few extreme arguments (integer overflows: `$substring('a',
/// 1e21)`, `[-1e300..1e300]`), which stepbox's evaluator catches and turns
/// into the state's failure (AWS's internal-error sentence): not a finding.
/// This hook lets a panic raised in jsonata-core's source unwind (to that
/// catch; when nothing catches it, out of the fuzz target, which aborts: a
/// finding still) and hands every other panic to the hook it replaces
/// (libFuzzer's, which aborts). Every target installs it first.
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.location().is_some_and(|l| l.file().contains("jsonata-core")) {
                return;
            }
            previous(info);
        }));
    });
}

/// A state machine definition: parsed and validated.
pub fn definition(data: &[u8]) {
    install_panic_hook();
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = StateMachine::parse(text);
    }
}

/// `PATH\nDOCUMENT`: the path parsed (as a path and as a reference path)
/// and evaluated on the document.
pub fn jsonpath(data: &[u8]) {
    install_panic_hook();
    let Some((source, doc)) = split(data) else { return };
    if let Ok(p) = JsonPath::parse(source) {
        let _ = p.eval(&doc);
        let _ = p.get(&doc);
        let mut copy = doc.clone();
        let _ = p.take(&mut copy);
    }
    let _ = JsonPath::parse_reference(source);
}

/// `CALL\nDOCUMENT`: an intrinsic function call parsed and evaluated with
/// the document as input and context.
pub fn intrinsic(data: &[u8]) {
    install_panic_hook();
    let Some((source, doc)) = split(data) else { return };
    if let Ok(call) = Intrinsic::parse(source) {
        let _ = call.eval(&Scope::new(&doc, &doc));
    }
}

/// `EXPRESSION\nDOCUMENT`: a JSONata expression parsed and evaluated with
/// the document as `$states.input` (debug builds also hold stepbox's direct
/// evaluator to jsonata-core's answer). Long texts are left out: they only
/// make evaluation slow.
pub fn jsonata(data: &[u8]) {
    install_panic_hook();
    if data.len() > 512 {
        return;
    }
    let Some((source, doc)) = split(data) else { return };
    if let Ok(e) = Expression::parse(source) {
        let vars = Map::new();
        let _ = e.evaluate(&Bindings::new(&doc, None, None, &Value::Null, &vars));
    }
}

/// The text before the first newline, and the JSON after it (`null` when
/// that is not JSON).
fn split(data: &[u8]) -> Option<(&str, Value)> {
    let text = std::str::from_utf8(data).ok()?;
    let (source, doc) = text.split_once('\n').unwrap_or((text, ""));
    Some((source, serde_json::from_str(doc).unwrap_or(Value::Null)))
}

#[cfg(test)]
mod tests {
    use super::TARGETS;
    use std::path::Path;

    /// Every kept input of every target, seeds and regressions, runs without a panic.
    #[test]
    fn found_inputs_and_seeds_run_without_panicking() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut ran = 0;
        for (name, target) in TARGETS {
            for kind in ["seeds", "regressions"] {
                let Ok(dir) = std::fs::read_dir(root.join(kind).join(name)) else { continue };
                for entry in dir {
                    let path = entry.unwrap().path();
                    target(&std::fs::read(&path).unwrap());
                    ran += 1;
                }
            }
        }
        assert!(ran >= TARGETS.len(), "every target has seeds: {ran} inputs ran");
    }
}

//! Which example component (crate under `examples/tasks/`) re-implements each
//! Python Lambda handler of the corpus.

use crate::case::Case;

/// `(handler file name, component crate)`, one per Python handler in the corpus.
pub const HANDLER_COMPONENTS: &[(&str, &str)] = &[
    ("id_function.py", "lambda-identity"),
    ("echo_function.py", "lambda-return-hello-world"),
    ("raise_exception.py", "lambda-raise"),
    ("raise_custom_exception.py", "lambda-raise-custom"),
    ("large_output_string.py", "lambda-large-output"),
    ("wait_60_seconds.py", "lambda-wait-60s"),
    ("return_bytes_str.py", "lambda-return-bytes"),
    ("return_decorated_input.py", "lambda-decorated-input"),
];

/// The example component crate for a corpus handler file, matched by file name
/// (`tests/aws/.../id_function.py` and `id_function.py` both give `lambda-identity`).
pub fn component_for_handler(handler_file: &str) -> Option<&'static str> {
    let file = handler_file.rsplit(['/', '\\']).next().unwrap_or(handler_file);
    HANDLER_COMPONENTS.iter().find(|(h, _)| *h == file).map(|(_, c)| *c)
}

/// The `.wasm` file name cargo gives a component crate (`lambda-identity` → `lambda_identity.wasm`).
pub fn component_wasm_file(crate_name: &str) -> String {
    format!("{}.wasm", crate_name.replace('-', "_"))
}

/// A corpus function to register with the engine before running a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionBinding {
    /// The function name the definition/input uses (e.g. `fn-ref-var-u0000001`);
    /// ARNs are `arn:aws:lambda:us-east-1:111111111111:function:<name>`.
    pub function_name: String,
    /// The component crate implementing it (e.g. `lambda-return-bytes`).
    pub component: &'static str,
}

impl Case {
    /// The functions this case calls, each bound to its component. `Err` names a
    /// handler with no component.
    pub fn function_bindings(&self) -> Result<Vec<FunctionBinding>, String> {
        self.lambdas
            .iter()
            .map(|(name, lambda)| {
                component_for_handler(&lambda.handler_file)
                    .map(|component| FunctionBinding { function_name: name.clone(), component })
                    .ok_or_else(|| format!("no component for Lambda handler {}", lambda.handler_file))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_by_file_name() {
        assert_eq!(
            component_for_handler("tests/aws/services/stepfunctions/templates/services/lambdafunctions/id_function.py"),
            Some("lambda-identity")
        );
        assert_eq!(component_for_handler("raise_custom_exception.py"), Some("lambda-raise-custom"));
        assert_eq!(component_for_handler("raise_exception.py"), Some("lambda-raise"));
        assert_eq!(component_for_handler("nope.py"), None);
        assert_eq!(component_wasm_file("lambda-wait-60s"), "lambda_wait_60s.wasm");
    }

    #[test]
    fn every_component_is_an_example_crate() {
        let tasks = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tasks");
        for (_, component) in HANDLER_COMPONENTS {
            let manifest = tasks.join(component).join("Cargo.toml");
            let text = std::fs::read_to_string(&manifest)
                .unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
            assert!(text.contains(&format!("name = \"{component}\"")), "{}", manifest.display());
        }
    }
}

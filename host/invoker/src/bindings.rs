//! Service integrations bound to functions (`--bind RESOURCE=FUNCTION`):
//! any `arn:aws:states:::SERVICE:ACTION[.sync|.sync:2|.waitForTaskToken]` or
//! `arn:aws:states:::aws-sdk:SERVICE:ACTION` runs a registered function,
//! which receives `{"Resource", "Parameters"}` (`"Arguments"` in JSONata) and
//! returns the integration's response; the error it fails with is the
//! state's error, its cause passed on verbatim (no Lambda envelope), so a
//! function emulates a service by failing as it would
//! (`DynamoDB.ConditionalCheckFailedException`, …).

use serde_json::{Value, json};
use std::collections::HashMap;
use stepbox_asl::resource::{INTEGRATION_PREFIX, Resource, Target};
use stepbox_engine::TaskFailure;

/// Resource -> function. A binding without a pattern suffix serves the
/// resource's `.sync`, `.sync:2` and `.waitForTaskToken` forms too, unless
/// one of those is bound itself.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    /// Keyed by the resource without `arn:aws:states:::`.
    functions: HashMap<String, String>,
}

/// A `--bind` that names no service integration or no function.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--bind {spec}: {reason}")]
pub struct BadBinding {
    pub spec: String,
    pub reason: String,
}

impl Bindings {
    /// Bindings from `RESOURCE=FUNCTION` specs; RESOURCE may leave out
    /// `arn:aws:states:::` (`sqs:sendMessage`, `aws-sdk:s3:getObject`).
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<Bindings, BadBinding> {
        let mut functions = HashMap::new();
        for spec in specs {
            let spec = spec.as_ref();
            let bad = |reason: &str| BadBinding { spec: spec.into(), reason: reason.into() };
            let (resource, function) = spec.rsplit_once('=').ok_or_else(|| bad("expected RESOURCE=FUNCTION"))?;
            let (resource, function) = (resource.trim(), function.trim());
            if function.is_empty() {
                return Err(bad("no function named"));
            }
            let arn = if resource.starts_with("arn:") { resource.to_string() } else { format!("{INTEGRATION_PREFIX}{resource}") };
            match Resource::parse(&arn) {
                Ok(r) if r.target == Target::Service => {
                    functions.insert(key(&r.arn).to_string(), function.to_string());
                }
                _ => return Err(bad("not a service integration (arn:aws:states:::SERVICE:ACTION or arn:aws:states:::aws-sdk:SERVICE:ACTION)")),
            }
        }
        Ok(Bindings { functions })
    }

    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }

    /// The function bound to `r`, if any.
    pub fn function_for(&self, r: &Resource) -> Option<&str> {
        let exact = key(&r.arn);
        let base = exact.strip_suffix(r.pattern.suffix()).unwrap_or(exact);
        self.functions.get(exact).or_else(|| self.functions.get(base)).map(String::as_str)
    }
}

fn key(arn: &str) -> &str {
    arn.strip_prefix(INTEGRATION_PREFIX).unwrap_or(arn)
}

/// What a bound function receives.
pub(crate) fn request(resource: &Resource, input: Value, jsonata: bool) -> Value {
    let field = if jsonata { "Arguments" } else { "Parameters" };
    json!({"Resource": resource.arn, field: input})
}

/// The failure of a service integration nothing provides.
pub(crate) fn unprovided(resource: &Resource, builtins: &str) -> TaskFailure {
    let arn = &resource.arn;
    TaskFailure::new(
        "States.Runtime",
        format!(
            "stepbox cannot run the service integration '{arn}': nothing provides it. Provide it in one of three ways: \
             mock the state in a test case (serve --mock-config FILE and StartExecution on …:stateMachine:NAME#CASE, or run \
             --mock-config FILE --test-case CASE); bind it to a function (--bind {arn}=FUNCTION); or use a built-in \
             integration ({builtins})."
        ),
    )
}

/// The failure of a binding whose function does not exist.
pub(crate) fn missing_function(resource: &Resource, function: &str) -> TaskFailure {
    TaskFailure::new(
        "States.Runtime",
        format!("The service integration '{}' is bound to function '{function}', which does not exist.", resource.arn),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(arn: &str) -> Resource {
        Resource::parse(arn).expect("a resource")
    }

    #[test]
    fn a_binding_serves_its_resource_and_its_patterns() {
        let b = Bindings::parse(&["sqs:sendMessage=queue", "arn:aws:states:::aws-sdk:s3:getObject=objects", "sqs:sendMessage.waitForTaskToken=waiter"]).unwrap();
        assert_eq!(b.function_for(&resource("arn:aws:states:::sqs:sendMessage")), Some("queue"));
        assert_eq!(b.function_for(&resource("arn:aws:states:::sqs:sendMessage.waitForTaskToken")), Some("waiter"));
        assert_eq!(b.function_for(&resource("arn:aws:states:::aws-sdk:s3:getObject")), Some("objects"));
        assert_eq!(b.function_for(&resource("arn:aws:states:::sns:publish")), None);
        let b = Bindings::parse(&["glue:startJobRun=jobs"]).unwrap();
        assert_eq!(b.function_for(&resource("arn:aws:states:::glue:startJobRun.sync")), Some("jobs"));
    }

    #[test]
    fn bindings_name_a_service_integration_and_a_function() {
        assert!(Bindings::parse(&["sqs:sendMessage"]).unwrap_err().reason.contains("RESOURCE=FUNCTION"));
        assert!(Bindings::parse(&["sqs:sendMessage="]).is_err());
        assert!(Bindings::parse(&["lambda:invoke=f"]).unwrap_err().reason.contains("not a service integration"));
        assert!(Bindings::parse(&["arn:aws:lambda:us-east-1:1:function:f=g"]).is_err());
    }
}

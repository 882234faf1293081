//! A Task state's `Resource`, parsed once when the definition loads: which
//! Lambda function, activity or service integration it names, and how an
//! integration waits for its job.

use std::fmt;

/// The prefix of every service integration.
pub const INTEGRATION_PREFIX: &str = "arn:aws:states:::";

/// How a service integration waits for its job (the resource's suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    RequestResponse,
    Sync,
    Sync2,
    WaitForTaskToken,
}

impl Pattern {
    pub fn suffix(self) -> &'static str {
        match self {
            Pattern::RequestResponse => "",
            Pattern::Sync => ".sync",
            Pattern::Sync2 => ".sync:2",
            Pattern::WaitForTaskToken => ".waitForTaskToken",
        }
    }
}

/// What a Task resource names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`
    LambdaFunction {
        name: String,
        qualifier: Option<String>,
        region: String,
    },
    /// `arn:aws:states:::lambda:invoke[.waitForTaskToken]`
    LambdaInvoke,
    /// `arn:aws:states:REGION:ACCOUNT:activity:NAME`
    Activity,
    /// `arn:aws:states:::states:startExecution[.sync|.sync:2|.waitForTaskToken]`
    /// and `arn:aws:states:::aws-sdk:sfn:startExecution`.
    StartExecution,
    /// `arn:aws:states:::aws-sdk:sfn:sendTaskSuccess|sendTaskFailure|sendTaskHeartbeat`.
    SendTask(TaskOutcome),
    /// `arn:aws:states:::http:invoke`
    HttpInvoke,
    /// Any other service integration: `arn:aws:states:::SERVICE:ACTION`,
    /// including `aws-sdk:SERVICE:ACTION`.
    Service,
    /// Anything else: handed to the invoker as is.
    Other,
}

/// What an `aws-sdk:sfn:sendTask…` call sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskOutcome {
    Success,
    Failure,
    Heartbeat,
}

/// A Task state's `Resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// As written.
    pub arn: String,
    pub target: Target,
    /// How the integration waits (always request-response outside
    /// `arn:aws:states:::` integrations).
    pub pattern: Pattern,
    /// `resourceType` of `Task*` events: `lambda`, `sqs`, `aws-sdk:sfn`…
    /// (empty outside service integrations).
    pub service: String,
    /// `resource` of `Task*` events: the action with its pattern
    /// (`sendMessage.waitForTaskToken`).
    pub action: String,
}

/// Why a resource cannot name anything (a definition error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable(pub String);

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Resource {
    /// Parses a Task resource. Every `arn:` resource of a recognised shape
    /// parses, whether or not stepbox can run it (what it cannot run fails
    /// when the state runs, as before); only what no ARN of its kind looks
    /// like is [`Unusable`].
    pub fn parse(arn: &str) -> Result<Resource, Unusable> {
        let unusable = || Unusable(format!("Value is not a valid resource ARN: {arn}"));
        if !arn.starts_with("arn:") {
            return Err(unusable());
        }
        let (base, pattern) = split_pattern(arn);
        let mut r = Resource {
            arn: arn.to_string(),
            target: Target::Other,
            pattern,
            service: String::new(),
            action: String::new(),
        };
        if let Some(rest) = base.strip_prefix(INTEGRATION_PREFIX) {
            let (service, action) = match rest.strip_prefix("aws-sdk:") {
                Some(r) => {
                    let (s, a) = r.split_once(':').unwrap_or((r, ""));
                    (format!("aws-sdk:{s}"), a)
                }
                None => {
                    let (s, a) = rest.split_once(':').unwrap_or((rest, ""));
                    (s.to_string(), a)
                }
            };
            if service.is_empty() || action.is_empty() {
                return Err(unusable());
            }
            r.target = integration_target(&service, action);
            r.action = format!("{action}{}", pattern.suffix());
            r.service = service;
            return Ok(r);
        }
        let fields: Vec<&str> = arn.split(':').collect();
        match fields.as_slice() {
            [_, _, "lambda", region, _, "function", name, rest @ ..] => {
                if name.is_empty() || rest.len() > 1 {
                    return Err(unusable());
                }
                r.target = Target::LambdaFunction {
                    name: name.to_string(),
                    qualifier: rest.first().map(|q| q.to_string()),
                    region: region.to_string(),
                };
            }
            [_, _, "states", _, _, "activity", name] => {
                if name.is_empty() {
                    return Err(unusable());
                }
                r.target = Target::Activity;
            }
            _ => {}
        }
        Ok(r)
    }

    /// What an unusable resource stands as while its definition's
    /// diagnostics are collected.
    pub(crate) fn unparsed(arn: &str) -> Resource {
        Resource {
            arn: arn.to_string(),
            target: Target::Other,
            pattern: Pattern::RequestResponse,
            service: String::new(),
            action: String::new(),
        }
    }

    /// `.waitForTaskToken`, `.sync` and `.sync:2` Tasks carry a task token.
    pub fn has_token(&self) -> bool {
        [Pattern::WaitForTaskToken, Pattern::Sync, Pattern::Sync2]
            .iter()
            .any(|p| self.arn.ends_with(p.suffix()))
    }
}

/// Splits `arn:aws:states:::SERVICE:ACTION[.sync|.sync:2|.waitForTaskToken]`.
fn split_pattern(resource: &str) -> (&str, Pattern) {
    if !resource.starts_with(INTEGRATION_PREFIX) {
        return (resource, Pattern::RequestResponse);
    }
    for p in [Pattern::WaitForTaskToken, Pattern::Sync2, Pattern::Sync] {
        if let Some(base) = resource.strip_suffix(p.suffix()) {
            return (base, p);
        }
    }
    (resource, Pattern::RequestResponse)
}

fn integration_target(service: &str, action: &str) -> Target {
    match (service, action) {
        ("lambda", "invoke") => Target::LambdaInvoke,
        ("states", "startExecution") | ("aws-sdk:sfn", "startExecution") => Target::StartExecution,
        ("aws-sdk:sfn", "sendTaskSuccess") => Target::SendTask(TaskOutcome::Success),
        ("aws-sdk:sfn", "sendTaskFailure") => Target::SendTask(TaskOutcome::Failure),
        ("aws-sdk:sfn", "sendTaskHeartbeat") => Target::SendTask(TaskOutcome::Heartbeat),
        ("http", "invoke") => Target::HttpInvoke,
        _ => Target::Service,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arn: &str) -> Resource {
        Resource::parse(arn).unwrap_or_else(|e| panic!("{arn}: {e}"))
    }

    #[test]
    fn targets_patterns_and_event_names() {
        let r = parse("arn:aws:states:::sqs:sendMessage.waitForTaskToken");
        assert_eq!((&r.target, r.pattern), (&Target::Service, Pattern::WaitForTaskToken));
        assert_eq!((r.service.as_str(), r.action.as_str()), ("sqs", "sendMessage.waitForTaskToken"));
        assert!(r.has_token());
        let r = parse("arn:aws:states:::states:startExecution.sync:2");
        assert_eq!((&r.target, r.pattern), (&Target::StartExecution, Pattern::Sync2));
        let r = parse("arn:aws:states:::lambda:invoke.waitForTaskToken");
        assert_eq!((&r.target, r.action.as_str()), (&Target::LambdaInvoke, "invoke.waitForTaskToken"));
        let r = parse("arn:aws:states:::aws-sdk:sfn:sendTaskSuccess");
        assert_eq!(r.target, Target::SendTask(TaskOutcome::Success));
        assert_eq!((r.service.as_str(), r.action.as_str()), ("aws-sdk:sfn", "sendTaskSuccess"));
        assert_eq!(parse("arn:aws:states:::aws-sdk:sfn:startExecution").target, Target::StartExecution);
        assert_eq!(parse("arn:aws:states:::aws-sdk:s3:getObject").target, Target::Service);
        assert_eq!(parse("arn:aws:states:::http:invoke").target, Target::HttpInvoke);
        assert_eq!(parse("arn:aws:states:us-east-1:111111111111:activity:a").target, Target::Activity);
        assert_eq!(
            parse("arn:aws:lambda:us-east-1:111111111111:function:f:prod").target,
            Target::LambdaFunction { name: "f".into(), qualifier: Some("prod".into()), region: "us-east-1".into() }
        );
        let r = parse("arn:aws:lambda:us-east-1:111111111111:function:f");
        assert_eq!((r.service.as_str(), r.action.as_str(), r.has_token()), ("", "", false));
        // Shapes stepbox cannot run still parse: they fail when they run.
        assert_eq!(parse("arn:aws:ecs:us-east-1:111111111111:task/x").target, Target::Other);
    }

    #[test]
    fn what_no_arn_looks_like_is_unusable() {
        for arn in [
            "not-an-arn",
            "arn:aws:lambda:us-east-1:111111111111:function:",
            "arn:aws:lambda:us-east-1:111111111111:function:f:1:2",
            "arn:aws:states:us-east-1:111111111111:activity:",
            "arn:aws:states:::sqs",
            "arn:aws:states:::sqs:",
            "arn:aws:states:::aws-sdk:sfn",
            "arn:aws:states:::",
        ] {
            assert!(Resource::parse(arn).is_err(), "{arn}");
        }
    }
}

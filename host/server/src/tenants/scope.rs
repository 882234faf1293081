//! Isolation on the Step Functions API: a tenant's requests name only its
//! own account's resources. Every resource of a tenant has its account in
//! its ARN (the request's server state makes ARNs in it, see
//! [`AppState::for_account`](crate::AppState::for_account)), and the store
//! keys everything by ARN, so checking the ARNs a request names, once, here,
//! keeps each tenant in its account; lists are scoped by account in the
//! store ([`StateMachines::list_state_machines_in`](stepbox_store::StateMachines::list_state_machines_in)).

use serde_json::{Map, Value};
use stepbox_engine::{CallbackError, TaskToken};
use stepbox_types::Arn;

use super::Caller;
use crate::sfn::ApiError;

/// The request members that name a resource by ARN.
const ARN_MEMBERS: [&str; 7] = [
    "stateMachineArn",
    "executionArn",
    "activityArn",
    "resourceArn",
    "mapRunArn",
    "stateMachineVersionArn",
    "stateMachineAliasArn",
];

impl Caller {
    /// The account a tenant's requests act in; none for single-user mode and operators.
    pub fn account(&self) -> Option<&str> {
        match self {
            Caller::Tenant(t) => Some(&t.account),
            Caller::Anyone | Caller::Admin => None,
        }
    }
}

/// Refuses a Step Functions request naming another account's resource as AWS
/// does across accounts (AccessDeniedException), and another tenant's task
/// token as one that is not a token (InvalidToken).
pub(crate) fn check_sfn(caller: &Caller, op: &str, input: &Map<String, Value>) -> Result<(), ApiError> {
    let Some(account) = caller.account() else { return Ok(()) };
    let routes = input.get("routingConfiguration").and_then(Value::as_array).into_iter().flatten();
    let named = ARN_MEMBERS
        .iter()
        .filter_map(|m| input.get(*m))
        .chain(routes.filter_map(|r| r.get("stateMachineVersionArn")))
        .filter_map(Value::as_str);
    for arn in named {
        // ARNs that do not parse are the operation's own error to give.
        let (sm_arn, _case) = crate::sfn::test_case::split(arn);
        if let Ok(parsed) = Arn::parse(sm_arn)
            && parsed.account() != account
        {
            return Err(ApiError::new(
                "AccessDeniedException",
                format!(
                    "User: arn:aws:iam::{account}:root is not authorized to perform: states:{op} on resource: {arn} \
                     because no resource-based policy allows the states:{op} action"
                ),
            ));
        }
    }
    if let Some(definition) = input.get("definition").and_then(Value::as_str)
        && let Ok(parsed) = serde_json::from_str::<Value>(definition)
        && let Some(arn) = foreign_activity(&parsed, account)
    {
        return Err(ApiError::new(
            "AccessDeniedException",
            format!(
                "User: arn:aws:iam::{account}:root is not authorized to perform: states:GetActivityTask on resource: \
                 {arn} because no resource-based policy allows the states:GetActivityTask action"
            ),
        ));
    }
    if let Some(token) = input.get("taskToken").and_then(Value::as_str)
        && let Some((execution, _)) = TaskToken::parse(token)
        && Arn::parse(&execution).is_ok_and(|a| a.account() != account)
    {
        let e = CallbackError::InvalidToken("Invalid token".into());
        return Err(ApiError::new(e.api_name(), e.to_string()));
    }
    Ok(())
}

/// An activity of another account that a definition's Task states name
/// (anywhere: Parallel branches and Map processors included).
fn foreign_activity<'a>(v: &'a Value, account: &str) -> Option<&'a str> {
    match v {
        Value::Object(m) => m.iter().find_map(|(k, v)| match (k.as_str(), v) {
            ("Resource", Value::String(r)) => {
                Arn::parse(r).ok().filter(|a| a.is_states("activity") && a.account() != account).map(|_| r.as_str())
            }
            _ => foreign_activity(v, account),
        }),
        Value::Array(items) => items.iter().find_map(|v| foreign_activity(v, account)),
        _ => None,
    }
}

/// Whether `arn` is in `account`.
pub(crate) fn in_account(arn: &str, account: &str) -> bool {
    Arn::parse(arn).is_ok_and(|a| a.account() == account)
}

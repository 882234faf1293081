//! notify-approver: asks a human to approve an order.
//!
//! Runs in a `.waitForTaskToken` Task state (`examples/approval/`): it gets
//! the order and the task token (`{"order": …, "taskToken": "…"}`, the token
//! also arrives in the context) and "notifies" the approver by logging the
//! AWS CLI commands that approve or reject the order. A real deployment would
//! send an email or a chat message instead; the workflow waits until
//! SendTaskSuccess or SendTaskFailure arrives with that token.
use stepbox_guest::{Context, TaskError, Value, json, log};

fn handle(input: Value, ctx: &Context) -> Result<Value, TaskError> {
    let token = match input.get("taskToken").and_then(Value::as_str) {
        Some(t) => t.to_string(),
        None => ctx
            .task_token
            .clone()
            .ok_or_else(|| TaskError::new("MissingToken", "no task token: use a .waitForTaskToken resource"))?,
    };
    let order = input.get("order").cloned().unwrap_or(Value::Null);
    let id = match order.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "?".into(),
    };
    log::info(&format!("order {id} needs approval; task token: {token}"));
    log::info(&format!(
        "approve: aws stepfunctions send-task-success --task-token '{token}' --task-output '{{\"approved\": true}}'"
    ));
    log::info(&format!(
        "reject:  aws stepfunctions send-task-failure --task-token '{token}' --error Rejected --cause 'why'"
    ));
    // The output is the TaskSubmitted event's payload: it carries the token for whoever reads the history.
    Ok(json!({"notified": true, "order": id, "taskToken": token}))
}

stepbox_guest::export_task!(handle);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_token_from_the_input_or_the_context() {
        let ctx = Context { task_token: Some("ctx-token".into()), ..Context::default() };
        let out = handle(json!({"order": {"id": 7}, "taskToken": "t"}), &ctx).unwrap();
        assert_eq!(out, json!({"notified": true, "order": "7", "taskToken": "t"}));
        assert!(handle(json!({"order": {"id": 7}}), &ctx).is_ok());
        let e = handle(json!({}), &Context::default()).unwrap_err();
        assert_eq!(e, TaskError::new("MissingToken", "no task token: use a .waitForTaskToken resource"));
    }
}

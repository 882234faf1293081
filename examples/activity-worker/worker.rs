//! The worker loop of `examples/activity-worker` (also compiled into the
//! integration tests): poll GetActivityTask, heartbeat, do the work, answer
//! with SendTaskSuccess or SendTaskFailure.

use aws_sdk_sfn::Client;
use serde_json::{Value, json};

/// What the worker does with one task's input: the order review of
/// `examples/workflows/order.asl.json`'s world. Orders up to `limit` are
/// approved; larger ones fail with `OrderTooLarge`, which a Catch can route.
pub fn review(input: &Value, limit: f64) -> Result<Value, (String, String)> {
    let total = input.get("total").and_then(Value::as_f64).ok_or_else(|| {
        ("InvalidOrder".to_string(), "the order has no numeric \"total\"".to_string())
    })?;
    if total > limit {
        return Err(("OrderTooLarge".into(), format!("total {total} is over the limit of {limit}")));
    }
    Ok(json!({"approved": true, "total": total, "reviewer": "activity-worker"}))
}

/// Take tasks of `activity_arn` until `max_tasks` were answered (`None`: forever).
/// Each GetActivityTask long-polls up to 60 s, as AWS; an empty answer polls again.
pub async fn work(
    client: &Client,
    activity_arn: &str,
    worker_name: &str,
    limit: f64,
    max_tasks: Option<usize>,
) -> Result<usize, aws_sdk_sfn::Error> {
    let mut answered = 0;
    while max_tasks.is_none_or(|max| answered < max) {
        let task = client.get_activity_task().activity_arn(activity_arn).worker_name(worker_name).send().await?;
        let Some(token) = task.task_token() else { continue };
        // Tell the state machine we are alive (resets its HeartbeatSeconds).
        client.send_task_heartbeat().task_token(token).send().await?;
        let input: Value = serde_json::from_str(task.input().unwrap_or("{}")).unwrap_or(Value::Null);
        match review(&input, limit) {
            Ok(output) => {
                client.send_task_success().task_token(token).output(output.to_string()).send().await?;
            }
            Err((error, cause)) => {
                client.send_task_failure().task_token(token).error(error).cause(cause).send().await?;
            }
        }
        answered += 1;
    }
    Ok(answered)
}

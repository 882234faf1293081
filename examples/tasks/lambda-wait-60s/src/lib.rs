//! lambda-wait-60s: the conformance corpus Lambda `wait_60_seconds.py`.
//!
//! ```python
//! import time
//!
//! def handler(event, context):
//!     time.sleep(60)
//!     return event
//! ```
//!
//! Sleeps 60 seconds (`std::thread::sleep`, a WASI clock wait), then returns
//! its input. The corpus uses it to trigger `States.Timeout` via a shorter
//! `TimeoutSeconds`.
use std::time::Duration;
use stepbox_guest::{Context, TaskError, Value};

fn handle(input: Value, _ctx: &Context) -> Result<Value, TaskError> {
    std::thread::sleep(Duration::from_secs(60));
    Ok(input)
}

stepbox_guest::export_task!(handle);

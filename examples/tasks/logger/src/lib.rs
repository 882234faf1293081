//! logger: writes log lines, returns its input unchanged.
//!
//! Writes one structured line at each level (debug, info, warn, error) through
//! `stepbox_guest::log`, one line to stdout (`println!`) and one to stderr
//! (`eprintln!`). When the input has a string `message` field, that text is
//! logged too. Use it to check that the host captures a task's log tail.
use stepbox_guest::{Context, TaskError, Value, log};

fn handle(input: Value, ctx: &Context) -> Result<Value, TaskError> {
    log::debug(&format!("logger: debug line (request {})", ctx.request_id));
    log::info(&format!("logger: state '{}' attempt {}", ctx.state_name, ctx.retry_count + 1));
    log::warn("logger: warn line");
    log::error("logger: error line");
    if let Some(Value::String(message)) = input.get("message") {
        log::info(message);
    }
    println!("logger: stdout line");
    eprintln!("logger: stderr line");
    Ok(input)
}

stepbox_guest::export_task!(handle);

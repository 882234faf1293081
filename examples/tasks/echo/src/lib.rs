//! echo: returns its input unchanged.
use stepbox_guest::{Context, TaskError, Value};

fn handle(input: Value, _ctx: &Context) -> Result<Value, TaskError> {
    Ok(input)
}

stepbox_guest::export_task!(handle);

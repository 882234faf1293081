//! lambda-large-output: the conformance corpus Lambda `large_output_string.py`.
//!
//! ```python
//! def handler(event, context):
//!     # Returns > 256 KB of data as a UTF-8 encoded string.
//!     size_in_bytes = 257 * 1024
//!     ascii_string = "a" * size_in_bytes
//!     utf8_encoded_string = ascii_string.encode("utf-8")
//!     return utf8_encoded_string
//! ```
//!
//! Returns a JSON string of 257 × 1024 `a` characters (263,170 bytes of JSON
//! text). That exceeds Step Functions' 256 KiB (262,144 bytes) payload limit, so
//! the engine must fail the state with `States.DataLimitExceeded`. (Python's
//! Lambda runtime passes returned `bytes` through raw; a component returns JSON
//! text, so the payload is the quoted string, which is just as oversized.)
use stepbox_guest::{Context, TaskError, Value};

/// Bytes of text the Python handler returns.
const SIZE_IN_BYTES: usize = 257 * 1024;

fn handle(_input: Value, _ctx: &Context) -> Result<Value, TaskError> {
    Ok(Value::String("a".repeat(SIZE_IN_BYTES)))
}

stepbox_guest::export_task!(handle);

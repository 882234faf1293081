//! Amazon States Language: the pure part of stepbox (no tokio, no wasmtime).
//!
//! * [`StateMachine::parse`] parses and validates a definition, compiling every
//!   path, payload template, intrinsic function and Choice rule once.
//! * [`State`] methods ([`State::effective_input`], [`State::select_result`],
//!   [`State::output`]) implement the JSONPath I/O pipeline.
//! * A Task state's `Resource` is parsed when the definition loads
//!   ([`Resource`]: a Lambda function, `lambda:invoke`, an activity,
//!   `states:startExecution`, `aws-sdk:sfn:*`, `http:invoke` or another
//!   service integration); one no ARN of its kind looks like is an
//!   `INVALID_RESOURCE` diagnostic.
//! * All data-flow failures are [`RuntimeError`]s; those a value read at run
//!   time causes (a path into the input, an expression's result) come from
//!   one table, [`catalogue`].

pub mod catalogue;
pub mod choice;
pub mod definition;
pub mod error;
pub mod intrinsics;
pub mod io;
pub mod jsonata;
pub mod path;
pub mod resource;
pub mod template;
mod timestamp;
mod util;

pub use choice::{ChoiceRule, Rule, parse_timestamp};
pub use definition::{
    Catcher, IoPath, Jitter, MapMode, MapSpec, NumSpec, QueryLanguage, ResultPath, Retrier, State,
    StateKind, StateMachine, StrSpec, WaitSpec, error_matches,
};
pub use error::{Diagnostic, RuntimeError, Severity, errors, invalid_definition_message};
pub use intrinsics::{Intrinsic, Scope};
pub use path::{Cow, JsonPath, Root};
pub use resource::Resource;
pub use template::Template;
pub use util::{base64, compact, hash, json_eq, json_type_name, uuid_v4};

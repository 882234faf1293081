//! Task tokens: how a waiting Task state (`.waitForTaskToken`, activities)
//! hears from the outside world. The engine registers a token and waits on
//! its [`CallbackWaiter`]; SendTaskSuccess/Failure/Heartbeat (or an activity
//! worker picking the task up) arrive through [`Callbacks::signal`].

use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use tokio::sync::mpsc;

/// What the outside world says about a waiting task.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// SendTaskHeartbeat: resets the HeartbeatSeconds timer.
    Heartbeat,
    /// An activity worker received the task (GetActivityTask).
    Started { worker_name: Option<String> },
    /// SendTaskSuccess with its output.
    Succeeded(Value),
    /// SendTaskFailure (either field may be absent, as in AWS).
    Failed { error: Option<String>, cause: Option<String> },
}

/// Why a signal was refused; the variants are Step Functions' API errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// Not a token this service issued.
    #[error("Invalid Token: '{0}'")]
    InvalidToken(String),
    /// The task already ended (completed, failed or timed out).
    #[error("Task Timed Out: 'Provided task does not exist anymore'")]
    TaskTimedOut,
    /// A well-formed token no running task waits on.
    #[error("Task Does Not Exist: the task for this token is not known")]
    TaskDoesNotExist,
}

impl CallbackError {
    /// The API error name (`__type`).
    pub fn api_name(&self) -> &'static str {
        match self {
            CallbackError::InvalidToken(_) => "InvalidToken",
            CallbackError::TaskTimedOut => "TaskTimedOut",
            CallbackError::TaskDoesNotExist => "TaskDoesNotExist",
        }
    }
}

/// The engine's side of a registered token: signals arrive here in order.
pub struct CallbackWaiter {
    rx: mpsc::UnboundedReceiver<Signal>,
}

impl CallbackWaiter {
    /// The next signal, or `None` when the registry dropped the token.
    pub async fn next(&mut self) -> Option<Signal> {
        self.rx.recv().await
    }
}

/// Where task tokens live while their tasks wait.
pub trait Callbacks: Send + Sync {
    /// Starts waiting on `token` for the task of execution `execution_arn`.
    fn register(&self, token: &str, execution_arn: &str) -> CallbackWaiter;
    /// Delivers a signal to the task waiting on `token`. A terminal signal
    /// (success/failure) closes the token.
    fn signal(&self, token: &str, signal: Signal) -> Result<(), CallbackError>;
    /// The task stopped waiting (it ended, timed out or was aborted): later
    /// signals for `token` get `TaskTimedOut`.
    fn close(&self, token: &str);
}

/// A task token: base64 of `EXECUTION_ARN#STATE#NONCE`, opaque to clients.
pub struct TaskToken;

impl TaskToken {
    pub fn new(execution_arn: &str, state: &str) -> String {
        stepbox_asl::base64::encode(
            format!("{execution_arn}#{state}#{}", stepbox_asl::uuid_v4()).as_bytes(),
        )
    }

    /// The execution ARN and state name a token was issued for, if it is one of ours.
    pub fn parse(token: &str) -> Option<(String, String)> {
        let bytes = stepbox_asl::base64::decode(token)?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.rsplitn(3, '#');
        let _nonce = parts.next()?;
        let state = parts.next()?;
        let arn = parts.next()?;
        arn.starts_with("arn:").then(|| (arn.to_string(), state.to_string()))
    }
}

/// How many ended tokens are remembered (to answer TaskTimedOut rather than
/// TaskDoesNotExist); older ones are forgotten first.
const CLOSED_MEMORY: usize = 100_000;

/// The in-memory token registry.
#[derive(Default)]
pub struct MemoryCallbacks {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    waiting: HashMap<String, mpsc::UnboundedSender<Signal>>,
    closed: HashSet<String>,
    closed_order: VecDeque<String>,
}

impl Inner {
    fn remember_closed(&mut self, token: &str) {
        if self.closed.insert(token.to_string()) {
            self.closed_order.push_back(token.to_string());
            while self.closed_order.len() > CLOSED_MEMORY {
                if let Some(old) = self.closed_order.pop_front() {
                    self.closed.remove(&old);
                }
            }
        }
    }
}

impl MemoryCallbacks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Tokens currently waited on.
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    /// The tokens the tasks of `execution_arn` wait on now, with their
    /// states' names, sorted (the console's approve and reject buttons).
    pub fn waiting_for(&self, execution_arn: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .lock()
            .waiting
            .keys()
            .filter_map(|t| TaskToken::parse(t).filter(|(arn, _)| arn == execution_arn).map(|(_, state)| (t.clone(), state)))
            .collect();
        out.sort();
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Callbacks for MemoryCallbacks {
    fn register(&self, token: &str, _execution_arn: &str) -> CallbackWaiter {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().waiting.insert(token.to_string(), tx);
        CallbackWaiter { rx }
    }

    fn signal(&self, token: &str, signal: Signal) -> Result<(), CallbackError> {
        let mut g = self.lock();
        let terminal = matches!(signal, Signal::Succeeded(_) | Signal::Failed { .. });
        let Some(tx) = g.waiting.get(token) else {
            if g.closed.contains(token) {
                return Err(CallbackError::TaskTimedOut);
            }
            if TaskToken::parse(token).is_some() {
                return Err(CallbackError::TaskDoesNotExist);
            }
            return Err(CallbackError::InvalidToken("Invalid token".into()));
        };
        if tx.send(signal).is_err() {
            // The waiter went away without closing (its execution was dropped).
            g.waiting.remove(token);
            g.remember_closed(token);
            return Err(CallbackError::TaskTimedOut);
        }
        if terminal {
            g.waiting.remove(token);
            g.remember_closed(token);
        }
        Ok(())
    }

    fn close(&self, token: &str) {
        let mut g = self.lock();
        g.waiting.remove(token);
        g.remember_closed(token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn signals_reach_the_waiter_and_terminal_ones_close_the_token() {
        let cb = MemoryCallbacks::new();
        let token = TaskToken::new("arn:aws:states:us-east-1:1:execution:sm:e", "S");
        assert_eq!(
            TaskToken::parse(&token),
            Some(("arn:aws:states:us-east-1:1:execution:sm:e".into(), "S".into()))
        );
        let mut w = cb.register(&token, "e");
        let other = TaskToken::new("arn:aws:states:us-east-1:1:execution:sm:f", "T");
        let _other = cb.register(&other, "f");
        assert_eq!(cb.waiting_for("arn:aws:states:us-east-1:1:execution:sm:e"), vec![(token.clone(), "S".to_string())]);
        cb.close(&other);
        cb.signal(&token, Signal::Heartbeat).unwrap();
        cb.signal(&token, Signal::Succeeded(serde_json::json!(1))).unwrap();
        assert_eq!(w.next().await, Some(Signal::Heartbeat));
        assert_eq!(w.next().await, Some(Signal::Succeeded(serde_json::json!(1))));
        assert_eq!(cb.signal(&token, Signal::Heartbeat), Err(CallbackError::TaskTimedOut));
        assert_eq!(cb.waiting(), 0);
        assert!(cb.waiting_for("arn:aws:states:us-east-1:1:execution:sm:e").is_empty());
    }

    #[test]
    fn unknown_tokens_are_invalid_or_missing() {
        let cb = MemoryCallbacks::new();
        assert!(matches!(
            cb.signal("NoSuchTaskToken", Signal::Heartbeat),
            Err(CallbackError::InvalidToken(_))
        ));
        let token = TaskToken::new("arn:aws:states:r:1:execution:sm:e", "S");
        assert_eq!(cb.signal(&token, Signal::Heartbeat), Err(CallbackError::TaskDoesNotExist));
        cb.close(&token);
        assert_eq!(cb.signal(&token, Signal::Heartbeat), Err(CallbackError::TaskTimedOut));
    }
}

//! hostile: a test guest that misbehaves as its input asks, to prove the
//! sandbox contains it. `{"attack": NAME}` with NAME one of:
//! `loop`, `memory`, `recursion`, `shadow-recursion`, `panic`, `huge-output`, `read-passwd`,
//! `env`, `args`, `sleep`, `log-flood`, `network`, `scratch`, `heartbeat`, `context`,
//! `fail-with-request-id` (fails with its context's request id as the message), `count` (how many
//! times this instance has been called: always 1 in a fresh instance); anything else
//! echoes the input (so the same component also serves normal invocations).

use std::io::Write;

use stepbox_guest::{Context, TaskError, Value, json};

fn handle(input: Value, ctx: &Context) -> Result<Value, TaskError> {
    match input.get("attack").and_then(Value::as_str).unwrap_or("") {
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "memory" => {
            // Grow without bound, touching every page.
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![0xAB; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "recursion" => Ok(json!(recurse(std::hint::black_box(1)))),
        "shadow-recursion" => Ok(json!(recurse_shadow(std::hint::black_box(1)))),
        "panic" => panic!("hostile guest panicked on purpose"),
        "count" => {
            static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            Ok(json!({ "calls": CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1 }))
        }
        "huge-output" => Ok(Value::String("x".repeat(10 << 20))),
        "read-passwd" => match std::fs::read_to_string("/etc/passwd") {
            Ok(text) => Ok(json!({"leaked": text})),
            Err(e) => Err(TaskError::new("Denied", e.to_string())),
        },
        "env" => Ok(json!({"vars": std::env::vars().collect::<Vec<_>>()})),
        "args" => Ok(json!({"args": std::env::args().collect::<Vec<_>>()})),
        "sleep" => {
            // Blocks inside a host call (WASI poll), where epochs cannot interrupt.
            std::thread::sleep(std::time::Duration::from_secs(3600));
            Ok(json!("woke up"))
        }
        "log-flood" => loop {
            stepbox_guest::log::info(&"flood ".repeat(10_000));
            let _ = writeln!(std::io::stdout(), "{}", "stdout flood ".repeat(1000));
        },
        "network" => match std::net::TcpStream::connect("127.0.0.1:9") {
            Ok(_) => Ok(json!("connected")),
            Err(e) => Err(TaskError::new("Denied", e.to_string())),
        },
        "context" => Ok(json!({
            "execution_name": ctx.execution_name,
            "execution_arn": ctx.execution_arn,
            "state_name": ctx.state_name,
            "retry_count": ctx.retry_count,
            "remaining_time_ms": ctx.remaining_time_ms,
            "task_token": ctx.task_token,
            "request_id": ctx.request_id,
        })),
        "fail-with-request-id" => Err(TaskError::new("RequestIdError", ctx.request_id.clone())),
        "heartbeat" => {
            for _ in 0..3 {
                stepbox_guest::heartbeat();
            }
            Ok(json!("beat"))
        }
        "scratch" => {
            let path = "/tmp/scratch.txt";
            std::fs::write(path, b"written by the guest")
                .map_err(|e| TaskError::new("Denied", e.to_string()))?;
            let back = std::fs::read_to_string(path).map_err(|e| TaskError::new("Denied", e.to_string()))?;
            Ok(json!({"read_back": back}))
        }
        _ => Ok(input),
    }
}

/// Small frames on the wasm call stack: exhausts the engine's native stack limit.
#[inline(never)]
fn recurse(n: u64) -> u64 {
    if std::hint::black_box(n) == 0 { 0 } else { std::hint::black_box(recurse(std::hint::black_box(n + 1))) ^ n }
}

/// Big frames on the shadow stack in linear memory: runs off its bottom.
#[inline(never)]
fn recurse_shadow(n: u64) -> u64 {
    let mut pad = [n; 512];
    std::hint::black_box(&mut pad);
    if pad[0] == 0 { 0 } else { recurse_shadow(std::hint::black_box(n + 1)) + pad[511] }
}

stepbox_guest::export_task!(handle);

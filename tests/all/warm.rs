//! Warm instances: an invocation may run in an instance prepared ahead on
//! idle CPU. It must still be a new, never-called instance under the
//! invocation's own limits, failing the same named ways.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stepbox_sandbox::{Function, Invocation, InvokeError, Limits, Request, Sandbox, SandboxConfig, TaskContext};

/// The preparer at normal priority: in the idle class it gets no time while
/// the rest of the suite keeps both cores busy, for minutes on a loaded CI
/// machine (its class is the sandbox's unit test).
fn sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::new(SandboxConfig { max_concurrent_instances: 16, warm_on_idle_cpu: false, ..config }).expect("sandbox")
}

fn load(sandbox: &Sandbox, name: &str) -> Arc<Function> {
    sandbox.compile(&stepbox_components::bytes(name).expect("component built")).expect("compiles")
}

async fn invoke(sandbox: &Sandbox, function: &Arc<Function>, input: Value, limits: &Limits) -> Invocation {
    let input = input.to_string();
    sandbox.invoke(function, Request { input: &input, context: TaskContext::default(), limits, on_heartbeat: None }).await
}

fn error_name(inv: &Invocation) -> &str {
    inv.result.as_ref().err().map(InvokeError::error_name).unwrap_or("<succeeded>")
}

/// Waits until `function` has an instance ready (the preparer shares the
/// cores with the rest of the suite: allow a minute).
async fn wait_ready(sandbox: &Sandbox, function: &Function) {
    let start = Instant::now();
    while sandbox.warm_stats(Some(function)).ready == 0 {
        assert!(start.elapsed() < Duration::from_secs(60), "no instance was prepared within a minute");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Invokes once an instance is ready until an invocation takes it (an
/// invocation never waits for the preparer: when that lowest-priority
/// thread holds the function's slot at that moment, as it may for long on a
/// loaded machine, the invocation instantiates inline), and returns the
/// invocation that took it.
async fn invoke_warm(sandbox: &Sandbox, function: &Arc<Function>, input: Value, limits: &Limits) -> Invocation {
    for _ in 0..20 {
        wait_ready(sandbox, function).await;
        let taken = sandbox.warm_stats(None).taken;
        let inv = invoke(sandbox, function, input.clone(), limits).await;
        if sandbox.warm_stats(None).taken == taken + 1 {
            return inv;
        }
    }
    panic!("20 invocations with an instance ready took none of them");
}

#[tokio::test]
async fn an_invocation_takes_a_prepared_instance_that_was_never_called() {
    let sandbox = sandbox(SandboxConfig::default());
    let hostile = load(&sandbox, "hostile");
    let limits = Limits::default();
    let count = json!({ "attack": "count" });
    let first = invoke(&sandbox, &hostile, count.clone(), &limits).await;
    assert_eq!(first.result.as_deref(), Ok(r#"{"calls":1}"#));
    for _ in 0..3 {
        let inv = invoke_warm(&sandbox, &hostile, count.clone(), &limits).await;
        assert_eq!(inv.result.as_deref(), Ok(r#"{"calls":1}"#), "a prepared instance had been called before");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_instances_fail_the_same_named_ways() {
    let sandbox = sandbox(SandboxConfig::default());
    let hostile = load(&sandbox, "hostile");
    let limits = |timeout_ms| Limits {
        timeout: Duration::from_millis(timeout_ms),
        memory_bytes: 64 << 20,
        ..Limits::default()
    };
    // Only the loop gets a short timeout: the rest must fail their own way
    // even on a busy machine.
    let cases = [
        ("loop", "Sandbox.Timedout", limits(200)),
        ("memory", "Sandbox.OutOfMemory", limits(30_000)),
        ("panic", "Sandbox.Trap", limits(30_000)),
        ("recursion", "Sandbox.Trap", limits(30_000)),
        ("huge-output", "States.DataLimitExceeded", limits(30_000)),
        ("fail-with-request-id", "RequestIdError", limits(30_000)),
    ];
    for (attack, expected, limits) in cases {
        let input = json!({ "attack": attack });
        // The first invocation asks for instances under these limits.
        let inline = invoke(&sandbox, &hostile, input.clone(), &limits).await;
        assert_eq!(error_name(&inline), expected, "{attack} inline: {:?}", inline.result);
        let warm = invoke_warm(&sandbox, &hostile, input, &limits).await;
        assert_eq!(error_name(&warm), expected, "{attack} warm: {:?}", warm.result);
        if attack == "panic" {
            let cause = warm.result.unwrap_err().cause();
            assert!(cause.contains("hostile guest panicked on purpose"), "{cause}");
        }
        if attack == "loop" {
            assert!(warm.stopped_after >= limits.timeout, "stopped early: {:?}", warm.stopped_after);
        }
    }
}

#[tokio::test]
async fn an_instance_prepared_under_other_limits_is_not_used() {
    let sandbox = sandbox(SandboxConfig::default());
    let echo = load(&sandbox, "echo");
    let small = Limits { memory_bytes: 16 << 20, ..Limits::default() };
    let large = Limits { memory_bytes: 64 << 20, ..Limits::default() };
    invoke(&sandbox, &echo, json!({}), &small).await.result.expect("echo");
    wait_ready(&sandbox, &echo).await;
    let taken = sandbox.warm_stats(None).taken;
    let inv = invoke(&sandbox, &echo, json!({"a": 1}), &large).await;
    assert_eq!(inv.result.as_deref(), Ok(r#"{"a":1}"#));
    assert_eq!(sandbox.warm_stats(None).taken, taken, "an instance limited to 16 MiB served a 64 MiB invocation");
    // The next one is prepared under the newer limits.
    let inv = invoke_warm(&sandbox, &echo, json!({"b": 2}), &large).await;
    assert_eq!(inv.result.as_deref(), Ok(r#"{"b":2}"#));
}

#[tokio::test]
async fn fuel_spent_instantiating_is_charged_to_the_invocation() {
    let sandbox = sandbox(SandboxConfig { fuel: true, ..SandboxConfig::default() });
    let echo = load(&sandbox, "echo");
    let limits = Limits { fuel: Some(50_000_000), ..Limits::default() };
    let inline = invoke(&sandbox, &echo, json!({"x": 1}), &limits).await;
    let warm = invoke_warm(&sandbox, &echo, json!({"x": 1}), &limits).await;
    assert_eq!(warm.result, inline.result);
    assert!(inline.fuel_consumed.is_some_and(|f| f > 0), "{:?}", inline.fuel_consumed);
    assert_eq!(warm.fuel_consumed, inline.fuel_consumed, "same work, same fuel, prepared or not");

    let hostile = load(&sandbox, "hostile");
    let tight = Limits { fuel: Some(5_000_000), timeout: Duration::from_secs(30), ..Limits::default() };
    let loop_input = json!({ "attack": "loop" });
    let inline = invoke(&sandbox, &hostile, loop_input.clone(), &tight).await;
    assert_eq!(error_name(&inline), "Sandbox.OutOfFuel");
    let warm = invoke_warm(&sandbox, &hostile, loop_input, &tight).await;
    assert_eq!(error_name(&warm), "Sandbox.OutOfFuel", "{:?}", warm.result);
    assert_eq!(warm.fuel_consumed, Some(5_000_000));
}

#[tokio::test]
async fn a_scratch_directory_invocation_never_takes_a_prepared_instance() {
    let sandbox = sandbox(SandboxConfig::default());
    let hostile = load(&sandbox, "hostile");
    let limits = Limits { scratch_dir: true, ..Limits::default() };
    for _ in 0..3 {
        let inv = invoke(&sandbox, &hostile, json!({ "attack": "scratch" }), &limits).await;
        assert!(inv.result.is_ok(), "{:?}", inv.result);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sandbox.warm_stats(None), Default::default());
}

#[tokio::test]
async fn a_function_that_cannot_be_instantiated_keeps_failing_by_itself() {
    // 64 KiB is less than the component's initial memory: instantiation
    // itself exceeds the limit, so the preparer cannot make one either.
    let sandbox = sandbox(SandboxConfig::default());
    let echo = load(&sandbox, "echo");
    let tiny = Limits { memory_bytes: 64 << 10, ..Limits::default() };
    for _ in 0..3 {
        let inv = invoke(&sandbox, &echo, json!({}), &tiny).await;
        assert_eq!(error_name(&inv), "Sandbox.OutOfMemory", "{:?}", inv.result);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sandbox.warm_stats(Some(&echo)).ready, 0);
    assert_eq!(sandbox.warm_stats(None).taken, 0);
}

#[tokio::test]
async fn an_instance_nobody_takes_is_dropped_after_the_idle_time() {
    let sandbox = sandbox(SandboxConfig { warm_idle: Duration::from_millis(200), ..SandboxConfig::default() });
    let echo = load(&sandbox, "echo");
    invoke(&sandbox, &echo, json!({}), &Limits::default()).await.result.expect("echo");
    wait_ready(&sandbox, &echo).await;
    let start = Instant::now();
    while sandbox.warm_stats(Some(&echo)).ready > 0 {
        assert!(start.elapsed() < Duration::from_secs(60), "the idle instance was never dropped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sandbox.warm_stats(None).ready, 0);
}

#[tokio::test]
async fn with_warm_instances_off_every_invocation_instantiates_inline() {
    let sandbox = sandbox(SandboxConfig { warm_instances: false, ..SandboxConfig::default() });
    let hostile = load(&sandbox, "hostile");
    for _ in 0..3 {
        let inv = invoke(&sandbox, &hostile, json!({ "attack": "count" }), &Limits::default()).await;
        assert_eq!(inv.result.as_deref(), Ok(r#"{"calls":1}"#));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sandbox.warm_stats(None), Default::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_instances_do_not_take_the_slots_of_concurrent_invocations() {
    // Two instances may run at once; a ready instance of another function
    // must not leave room for only one of them.
    let sandbox = Sandbox::new(SandboxConfig { max_concurrent_instances: 2, ..SandboxConfig::default() }).expect("sandbox");
    let echo = load(&sandbox, "echo");
    invoke(&sandbox, &echo, json!({}), &Limits::default()).await.result.expect("echo");
    wait_ready(&sandbox, &echo).await;
    let hostile = load(&sandbox, "hostile");
    let limits = Limits { timeout: Duration::from_millis(300), ..Limits::default() };
    let sleeping = json!({ "attack": "sleep" });
    let (a, b) = tokio::join!(
        invoke(&sandbox, &hostile, sleeping.clone(), &limits),
        invoke(&sandbox, &hostile, sleeping.clone(), &limits)
    );
    assert_eq!(error_name(&a), "Sandbox.Timedout", "{:?}", a.result);
    assert_eq!(error_name(&b), "Sandbox.Timedout", "{:?}", b.result);
}

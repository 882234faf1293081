//! The sandbox contains hostile guests: each fails its own invocation with a
//! named error within its limits, and the same sandbox keeps serving.

use std::time::Duration;

use serde_json::{Value, json};
use stepbox_sandbox::{Function, Invocation, InvokeError, Limits, Origin, Request, Sandbox, SandboxConfig, TaskContext};
use stepbox_tests::shared_sandbox;

fn load(name: &str) -> std::sync::Arc<Function> {
    let wasm = stepbox_components::bytes(name).expect("component built by host/components");
    shared_sandbox().compile(&wasm).expect("component compiles")
}

async fn invoke(function: &std::sync::Arc<Function>, input: Value, limits: &Limits) -> Invocation {
    let input = input.to_string();
    shared_sandbox()
        .invoke(function, Request { input: &input, context: TaskContext::default(), limits, on_heartbeat: None })
        .await
}

async fn attack(name: &str, limits: &Limits) -> Invocation {
    invoke(&load("hostile"), json!({ "attack": name }), limits).await
}

fn error_name(inv: &Invocation) -> &str {
    inv.result.as_ref().err().map(InvokeError::error_name).unwrap_or("<succeeded>")
}

fn short_timeout() -> Limits {
    Limits { timeout: Duration::from_millis(200), ..Limits::default() }
}

#[tokio::test]
async fn echo_returns_its_input() {
    let echo = load("echo");
    let input = json!({"a": [1, 2.5, "three"], "b": {"c": null}});
    let inv = invoke(&echo, input.clone(), &Limits::default()).await;
    let output: Value = serde_json::from_str(inv.result.as_ref().unwrap()).unwrap();
    assert_eq!(output, input);
}

/// The guest must be stopped within one epoch tick + `slack` of its deadline
/// (measured to the moment it stopped, before the store is torn down). Up to
/// ten attempts, stopping at the first within the bound, so a test thread or
/// epoch ticker descheduled by a busy 2-core machine (the rest of the suite
/// runs alongside) does not fail it; a broken deadline fails every attempt.
async fn assert_times_out_promptly(attack_name: &str, slack: Duration) {
    let limits = short_timeout();
    let tick = shared_sandbox().config().epoch_tick;
    let bound = tick + slack;
    let mut overshoots = Vec::new();
    for _ in 0..10 {
        let inv = attack(attack_name, &limits).await;
        assert_eq!(error_name(&inv), "Sandbox.Timedout", "{attack_name}: {:?}", inv.result);
        assert!(inv.stopped_after >= limits.timeout, "{attack_name} stopped before its deadline: {:?}", inv.stopped_after);
        assert!(inv.duration >= inv.stopped_after);
        let overshoot = inv.stopped_after - limits.timeout;
        if overshoot <= bound {
            return;
        }
        overshoots.push(overshoot);
    }
    panic!("{attack_name}: every overshoot exceeds one tick + {slack:?} ({bound:?}): {overshoots:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_times_out() {
    assert_times_out_promptly("loop", Duration::from_millis(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleeping_in_a_host_call_times_out() {
    // A guest blocked in a host call is not reached by the epoch: tokio's
    // timer (1 ms wheel, then a wake-up on a busy worker) cuts it off, so the
    // bound is a few milliseconds rather than one tick; a missing guard would
    // let the guest sleep for its full hour.
    assert_times_out_promptly("sleep", Duration::from_millis(5)).await;
}

#[tokio::test]
async fn memory_bomb_hits_the_memory_limit() {
    let limits = Limits { memory_bytes: 32 << 20, ..Limits::default() };
    let inv = attack("memory", &limits).await;
    assert_eq!(error_name(&inv), "Sandbox.OutOfMemory", "{:?}", inv.result);
    // Its "Max Memory Used": near the limit, never past it.
    assert!(inv.max_memory_used > 24 << 20 && inv.max_memory_used <= 32 << 20, "{}", inv.max_memory_used);
}

/// The most memory an invocation held: what its guest grew its memory to.
#[tokio::test]
async fn an_invocation_reports_the_most_memory_it_held() {
    let small = invoke(&load("processed"), json!({"a": 1}), &Limits::default()).await;
    let roomy = Limits { max_output_bytes: 8 << 20, ..Limits::default() };
    let big = invoke(&load("processed"), json!({"a": "x".repeat(4 << 20)}), &roomy).await;
    assert!(small.result.is_ok() && big.result.is_ok(), "{:?} {:?}", small.result, big.result);
    assert!(small.max_memory_used > 0, "an instance has memory");
    assert!(big.max_memory_used >= small.max_memory_used + (4 << 20), "{} vs {}", big.max_memory_used, small.max_memory_used);
}

#[tokio::test]
async fn deep_recursion_is_a_trap() {
    let inv = attack("recursion", &Limits::default()).await;
    assert_eq!(error_name(&inv), "Sandbox.Trap", "{:?}", inv.result);
    let cause = inv.result.unwrap_err().cause();
    assert!(cause.contains("stack overflow"), "{cause}");

    // Recursion with big frames runs off the shadow stack in linear memory.
    let inv = attack("shadow-recursion", &Limits::default()).await;
    assert_eq!(error_name(&inv), "Sandbox.Trap", "{:?}", inv.result);
}

#[tokio::test]
async fn panic_is_a_trap_carrying_the_panic_message() {
    let inv = attack("panic", &Limits::default()).await;
    assert_eq!(error_name(&inv), "Sandbox.Trap");
    let cause = inv.result.unwrap_err().cause();
    assert!(cause.contains("hostile guest panicked on purpose"), "{cause}");
}

#[tokio::test]
async fn huge_output_exceeds_the_data_limit() {
    let inv = attack("huge-output", &Limits::default()).await;
    assert_eq!(error_name(&inv), "States.DataLimitExceeded", "{:?}", inv.result);
}

#[tokio::test]
async fn fuel_budget_stops_a_loop() {
    // Fuel is counted only by a sandbox configured for it.
    let sandbox = Sandbox::new(SandboxConfig { fuel: true, max_concurrent_instances: 4, ..SandboxConfig::default() })
        .expect("sandbox");
    let hostile = sandbox.compile(&stepbox_components::bytes("hostile").unwrap()).expect("compiles");
    let limits = Limits { fuel: Some(5_000_000), timeout: Duration::from_secs(30), ..Limits::default() };
    let input = json!({ "attack": "loop" }).to_string();
    let request = |limits| Request { input: &input, context: TaskContext::default(), limits, on_heartbeat: None };
    let inv = sandbox.invoke(&hostile, request(&limits)).await;
    assert_eq!(error_name(&inv), "Sandbox.OutOfFuel", "{:?}", inv.result);
    assert_eq!(inv.fuel_consumed, Some(5_000_000));
    // Without a budget the same sandbox runs a task to completion, counting.
    let echo = sandbox.compile(&stepbox_components::bytes("echo").unwrap()).expect("compiles");
    let unlimited = Limits::default();
    let inv = sandbox.invoke(&echo, Request { input: "{}", ..request(&unlimited) }).await;
    assert_eq!(inv.result.as_deref(), Ok("{}"));
    assert!(inv.fuel_consumed.is_some_and(|used| used > 0), "{:?}", inv.fuel_consumed);
}

#[tokio::test]
async fn a_fuel_budget_on_a_sandbox_without_fuel_is_refused_not_ignored() {
    assert!(!shared_sandbox().config().fuel, "the default sandbox does not count fuel");
    let limits = Limits { fuel: Some(5_000_000), timeout: Duration::from_secs(30), ..Limits::default() };
    let inv = attack("loop", &limits).await;
    assert_eq!(error_name(&inv), "Lambda.ServiceException", "{:?}", inv.result);
    let cause = inv.result.unwrap_err().cause();
    assert!(cause.contains("fuel budget") && cause.contains("SandboxConfig::fuel"), "{cause}");
    assert_eq!(inv.fuel_consumed, None);
}

#[tokio::test]
async fn a_sandbox_without_fuel_counts_it_for_the_functions_compiled_counting() {
    // The plain engine stays uncounted; a second, counting one runs the
    // functions compiled for it (a server's `stepbox:fuel` functions).
    let sandbox = shared_sandbox();
    assert!(!sandbox.config().fuel);
    let hostile = sandbox.compile_counting(&stepbox_components::bytes("hostile").unwrap(), None).expect("compiles");
    let echo_wasm = stepbox_components::bytes("echo").unwrap();
    let (counted, plain) = (sandbox.compile_counting(&echo_wasm, None).unwrap(), sandbox.compile(&echo_wasm).unwrap());
    assert!(hostile.counts_fuel() && counted.counts_fuel() && !plain.counts_fuel());
    assert_ne!(sandbox.artifact_key_of(&counted), sandbox.artifact_key_of(&plain), "artifacts of two engines");
    assert_eq!(sandbox.artifact_key_of(&plain), sandbox.artifact_key(&plain.sha256));

    let limits = Limits { fuel: Some(5_000_000), timeout: Duration::from_secs(30), ..Limits::default() };
    let input = json!({ "attack": "loop" }).to_string();
    let request = |input, limits| Request { input, context: TaskContext::default(), limits, on_heartbeat: None };
    let inv = sandbox.invoke(&hostile, request(&input, &limits)).await;
    assert_eq!(error_name(&inv), "Sandbox.OutOfFuel", "{:?}", inv.result);
    assert_eq!(inv.fuel_consumed, Some(5_000_000));
    let unlimited = Limits::default();
    let inv = sandbox.invoke(&counted, request("{}", &unlimited)).await;
    assert_eq!(inv.result.as_deref(), Ok("{}"));
    assert!(inv.fuel_consumed.is_some_and(|used| used > 0), "{:?}", inv.fuel_consumed);
    let inv = sandbox.invoke(&plain, request("{}", &unlimited)).await;
    assert_eq!((inv.result.as_deref(), inv.fuel_consumed), (Ok("{}"), None));
    // A budget still needs a function compiled counting.
    let inv = sandbox.invoke(&plain, request("{}", &limits)).await;
    assert_eq!(error_name(&inv), "Lambda.ServiceException", "{:?}", inv.result);
}

#[tokio::test]
async fn the_host_filesystem_env_args_and_network_are_not_visible() {
    let passwd = attack("read-passwd", &Limits::default()).await;
    assert_eq!(error_name(&passwd), "Denied", "read /etc/passwd: {:?}", passwd.result);

    // SAFETY-free check that the host does have variables to leak.
    assert!(std::env::vars().count() > 0);
    let env = attack("env", &Limits::default()).await;
    let vars: Value = serde_json::from_str(env.result.as_ref().unwrap()).unwrap();
    assert_eq!(vars["vars"], json!([]));

    let args = attack("args", &Limits::default()).await;
    let args: Value = serde_json::from_str(args.result.as_ref().unwrap()).unwrap();
    assert_eq!(args["args"], json!([]));

    let net = attack("network", &Limits::default()).await;
    assert_eq!(error_name(&net), "Denied", "network: {:?}", net.result);
}

#[tokio::test]
async fn scratch_directory_only_when_granted() {
    let denied = attack("scratch", &Limits::default()).await;
    assert_eq!(error_name(&denied), "Denied", "{:?}", denied.result);

    let granted = attack("scratch", &Limits { scratch_dir: true, ..Limits::default() }).await;
    let out: Value = serde_json::from_str(granted.result.as_ref().unwrap()).unwrap();
    assert_eq!(out["read_back"], "written by the guest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_flood_is_capped_and_times_out() {
    let limits = Limits { max_log_bytes: 10_000, ..short_timeout() };
    let inv = attack("log-flood", &limits).await;
    assert_eq!(error_name(&inv), "Sandbox.Timedout");
    assert_eq!(inv.logs.text.len(), 10_000);
    assert!(inv.logs.dropped_bytes > 0);
}

/// After every attack, the same sandbox serves 1,000 normal invocations
/// correctly, concurrently, with fresh instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_attacks_then_serves_a_thousand_invocations() {
    let limits = short_timeout();
    for name in ["loop", "memory", "recursion", "panic", "huge-output", "sleep", "log-flood"] {
        let inv = attack(name, &Limits { memory_bytes: 32 << 20, ..limits.clone() }).await;
        assert!(inv.result.is_err(), "{name} should fail");
    }
    let hostile = load("hostile");
    let echo = load("echo");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000u32 {
        let function = if i % 2 == 0 { hostile.clone() } else { echo.clone() };
        tasks.spawn(async move {
            let input = json!({"i": i, "attack": "none"});
            let inv = invoke(&function, input.clone(), &Limits::default()).await;
            let out: Value = serde_json::from_str(inv.result.as_ref().expect("normal invocation")).unwrap();
            assert_eq!(out, input);
        });
    }
    let mut done = 0;
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
        done += 1;
    }
    assert_eq!(done, 1000);
}

/// More invocations at once than the pool has instances wait for one, in
/// the sandbox, instead of failing on the pool's limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocations_beyond_the_instance_limit_wait_for_an_instance() {
    let sandbox = Sandbox::new(SandboxConfig { max_concurrent_instances: 2, ..SandboxConfig::default() }).expect("sandbox");
    let hostile = sandbox.compile(&stepbox_components::bytes("hostile").unwrap()).expect("compiles");
    let limits = Limits { timeout: Duration::from_millis(200), ..Limits::default() };
    let input = json!({ "attack": "sleep" }).to_string();
    let mut running = tokio::task::JoinSet::new();
    // More than the pool's instances, warm-instance reserve included.
    for _ in 0..16 {
        let (sandbox, hostile, limits, input) = (sandbox.clone(), hostile.clone(), limits.clone(), input.clone());
        running.spawn(async move {
            let request = Request { input: &input, context: TaskContext::default(), limits: &limits, on_heartbeat: None };
            sandbox.invoke(&hostile, request).await
        });
    }
    while let Some(inv) = running.join_next().await {
        let inv = inv.unwrap();
        assert_eq!(error_name(&inv), "Sandbox.Timedout", "{:?}", inv.result);
    }
}

#[test]
fn registration_refuses_what_is_not_a_task_component() {
    let sandbox = shared_sandbox();
    let err = sandbox.compile(b"hello").unwrap_err().to_string();
    assert!(err.contains("magic"), "{err}");

    let core_module = wat::parse_str("(module)").unwrap();
    let err = sandbox.compile(&core_module).unwrap_err().to_string();
    assert!(err.contains("core WebAssembly module"), "{err}");

    let empty_component = wat::parse_str("(component)").unwrap();
    let err = sandbox.compile(&empty_component).unwrap_err().to_string();
    assert!(err.contains("missing export `handle`"), "{err}");

    let wrong_type = wat::parse_str(
        r#"(component
             (core module $m (func (export "f")))
             (core instance $i (instantiate $m))
             (func (export "handle") (canon lift (core func $i "f"))))"#,
    )
    .unwrap();
    let err = sandbox.compile(&wrong_type).unwrap_err().to_string();
    assert!(err.contains("`handle`"), "{err}");

    let extra_import = wat::parse_str(
        r#"(component (import "evil:net/sockets" (instance)))"#,
    )
    .unwrap();
    let err = sandbox.compile(&extra_import).unwrap_err().to_string();
    assert!(err.contains("evil:net/sockets") || err.contains("handle"), "{err}");
}

#[tokio::test]
async fn artifacts_are_cached_on_disk_and_corruption_recompiles() {
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig { cache_dir: Some(dir.path().to_path_buf()), ..SandboxConfig::default() };
    let wasm = stepbox_components::bytes("echo").unwrap();

    let first = Sandbox::new(config.clone()).unwrap().compile(&wasm).unwrap();
    assert_eq!(first.origin, Origin::Compiled);
    let second_sandbox = Sandbox::new(config.clone()).unwrap();
    let second = second_sandbox.compile(&wasm).unwrap();
    assert_eq!(second.origin, Origin::Cached);

    let artifact = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
    assert!(artifact.file_name().unwrap().to_str().unwrap().starts_with(&first.sha256));
    // Corrupt it in place while `second` is still alive and in use.
    std::fs::write(&artifact, b"garbage").unwrap();
    let inv = second_sandbox
        .invoke(&second, Request { input: "{}", context: TaskContext::default(), limits: &Limits::default(), on_heartbeat: None })
        .await;
    assert_eq!(inv.result.unwrap(), "{}");
    let third = Sandbox::new(config).unwrap().compile(&wasm).unwrap();
    assert_eq!(third.origin, Origin::Compiled);
}

/// Artifacts kept in memory, as a durable server keeps them in its store.
#[derive(Default)]
struct KeptArtifacts(std::sync::Mutex<std::collections::BTreeMap<String, Vec<u8>>>);

impl stepbox_sandbox::ArtifactStore for KeptArtifacts {
    fn load(&self, key: &str) -> Option<Vec<u8>> {
        self.0.lock().unwrap().get(key).cloned()
    }
    fn save(&self, key: &str, artifact: &[u8]) {
        self.0.lock().unwrap().insert(key.to_string(), artifact.to_vec());
    }
}

/// A registry with an artifact store looks there before compiling and keeps
/// what it compiled there; a damaged stored artifact is compiled again and
/// replaced. (The shared sandbox has no cache directory: without the store,
/// every registration compiles.)
#[tokio::test]
async fn a_registry_keeps_artifacts_in_its_store() {
    use stepbox_sandbox::Registry;
    let wasm = stepbox_components::bytes("echo").unwrap();
    let kept = std::sync::Arc::new(KeptArtifacts::default());
    let registry = |store: Option<&std::sync::Arc<KeptArtifacts>>| {
        let r = Registry::new(shared_sandbox().clone());
        if let Some(store) = store {
            assert!(r.keep_artifacts_in(store.clone()));
        }
        r
    };

    let first = registry(Some(&kept)).register("echo", &wasm, Limits::default()).unwrap();
    assert_eq!(first.function.origin, Origin::Compiled);
    let key = shared_sandbox().artifact_key(&first.function.sha256);
    assert!(key.starts_with(&first.function.sha256));
    assert_eq!(kept.0.lock().unwrap().keys().collect::<Vec<_>>(), [&key]);

    let restarted = registry(Some(&kept));
    let second = restarted.register("echo", &wasm, Limits::default()).unwrap();
    assert_eq!(second.function.origin, Origin::Cached);
    assert_eq!(restarted.artifact_keys().into_iter().collect::<Vec<_>>(), [key.clone()]);
    let inv = invoke(&second.function, json!({"from": "the store"}), &Limits::default()).await;
    assert_eq!(inv.result.unwrap(), r#"{"from":"the store"}"#);

    let without = registry(None).register("echo", &wasm, Limits::default()).unwrap();
    assert_eq!(without.function.origin, Origin::Compiled);

    kept.0.lock().unwrap().insert(key.clone(), b"garbage".to_vec());
    let third = registry(Some(&kept)).register("echo", &wasm, Limits::default()).unwrap();
    assert_eq!(third.function.origin, Origin::Compiled);
    assert_ne!(kept.0.lock().unwrap()[&key], b"garbage");
}

#[tokio::test]
async fn logs_from_stdout_stderr_and_log_lines_are_captured() {
    let logger = load("logger");
    let inv = invoke(&logger, json!({"message": "custom line"}), &Limits::default()).await;
    assert!(inv.result.is_ok(), "{:?}", inv.result);
    let text = &inv.logs.text;
    for expected in ["DEBUG ", "INFO ", "WARN ", "ERROR ", "custom line"] {
        assert!(text.contains(expected), "missing {expected:?} in {text:?}");
    }
    assert!(text.lines().count() >= 6, "{text:?}");
}

#[tokio::test]
async fn heartbeats_reach_the_host() {
    let beats = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = beats.clone();
    let hostile = load("hostile");
    let input = json!({"attack": "heartbeat"}).to_string();
    let limits = Limits::default();
    let inv = shared_sandbox()
        .invoke(
            &hostile,
            Request {
                input: &input,
                context: TaskContext::default(),
                limits: &limits,
                on_heartbeat: Some(std::sync::Arc::new(move || {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                })),
            },
        )
        .await;
    assert_eq!(inv.result.unwrap(), r#""beat""#);
    assert_eq!(beats.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[test]
fn pooling_falls_back_to_on_demand_when_the_reservation_fails() {
    assert_eq!(shared_sandbox().allocator(), stepbox_sandbox::Allocator::Pooling);
    // 200,000 slots of a 4 GiB reservation each exceed the 47-bit address space.
    let huge = SandboxConfig { max_concurrent_instances: 100_000, ..SandboxConfig::default() };
    let sandbox = Sandbox::new(huge).expect("falls back instead of failing");
    assert_eq!(sandbox.allocator(), stepbox_sandbox::Allocator::OnDemand);
    let echo = sandbox.compile(&stepbox_components::bytes("echo").unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let inv = rt.block_on(sandbox.invoke(
        &echo,
        Request { input: "[1]", context: TaskContext::default(), limits: &Limits::default(), on_heartbeat: None },
    ));
    assert_eq!(inv.result.unwrap(), "[1]");
}

#[tokio::test]
async fn the_task_sees_its_context() {
    let hostile = load("hostile");
    let input = json!({"attack": "context"}).to_string();
    let limits = Limits { timeout: Duration::from_secs(2), ..Limits::default() };
    let context = TaskContext {
        execution_name: "exec-1".into(),
        execution_arn: "arn:aws:states:us-east-1:111111111111:execution:sm:exec-1".into(),
        state_name: "Work".into(),
        retry_count: 2,
        task_token: Some("token-123".into()),
        request_id: "req-9".into(),
    };
    let inv = shared_sandbox()
        .invoke(&hostile, Request { input: &input, context, limits: &limits, on_heartbeat: None })
        .await;
    let seen: Value = serde_json::from_str(&inv.result.unwrap()).unwrap();
    assert_eq!(seen["execution_name"], "exec-1");
    assert_eq!(seen["execution_arn"], "arn:aws:states:us-east-1:111111111111:execution:sm:exec-1");
    assert_eq!(seen["state_name"], "Work");
    assert_eq!(seen["retry_count"], 2);
    assert_eq!(seen["task_token"], "token-123");
    assert_eq!(seen["request_id"], "req-9");
    let remaining = seen["remaining_time_ms"].as_u64().unwrap();
    assert!(remaining > 0 && remaining <= 2000, "{remaining}");
}

/// A lean build (guest-sdk/README.md: `wasm32-unknown-unknown`, wrapped as a
/// component) imports no WASI at all and answers like the WASI build.
#[tokio::test]
async fn a_lean_build_imports_no_wasi_and_answers_like_the_wasi_build() {
    let engine = shared_sandbox().engine().clone();
    let wasm = stepbox_components::bytes("processed_lean").unwrap();
    let component = wasmtime::component::Component::new(&engine, &wasm).unwrap();
    let imports: Vec<String> = component.component_type().imports(&engine).map(|(name, _)| name.to_string()).collect();
    assert!(imports.iter().all(|name| !name.starts_with("wasi:")), "{imports:?}");

    // Enough allocations to outgrow the SDK's initial arena, in insertion order.
    let input = json!({"z": 1, "a": "x".repeat(200_000), "m": (0..2000).collect::<Vec<_>>()});
    let mut outputs = Vec::new();
    for name in ["processed", "processed_lean"] {
        let inv = invoke(&load(name), input.clone(), &Limits::default()).await;
        outputs.push(inv.result.unwrap_or_else(|e| panic!("{name}: {e:?}")));
    }
    assert_eq!(outputs[0], outputs[1]);
    assert!(outputs[1].starts_with(r#"{"z":1,"a":"#), "{}", &outputs[1][..20]);
}

/// A lean guest is contained like any other: its panic keeps its message (the
/// SDK's panic hook logs it), a memory bomb meets the memory limit, a loop the
/// deadline, and the next invocation works.
#[tokio::test]
async fn a_lean_build_is_contained_and_keeps_its_panic_message() {
    let hostile = load("hostile_lean");
    let inv = invoke(&hostile, json!({"attack": "panic"}), &Limits::default()).await;
    assert_eq!(error_name(&inv), "Sandbox.Trap", "{:?}", inv.result);
    let cause = inv.result.unwrap_err().cause();
    assert!(cause.contains("hostile guest panicked on purpose"), "{cause}");
    assert!(cause.contains("src/lib.rs"), "{cause}");

    // The memory bomb gets the default deadline, as the WASI build's does
    // (`memory_bomb_hits_the_memory_limit`): on a loaded machine, filling
    // 32 MiB can take longer than the loop's 200 ms.
    let inv = invoke(&hostile, json!({"attack": "memory"}), &Limits { memory_bytes: 32 << 20, ..Limits::default() }).await;
    assert_eq!(error_name(&inv), "Sandbox.OutOfMemory", "{:?}", inv.result);
    let inv = invoke(&hostile, json!({"attack": "loop"}), &Limits { memory_bytes: 32 << 20, ..short_timeout() }).await;
    assert_eq!(error_name(&inv), "Sandbox.Timedout", "{:?}", inv.result);

    let inv = invoke(&hostile, json!({"attack": "none", "n": 1}), &Limits::default()).await;
    assert_eq!(inv.result.unwrap(), r#"{"attack":"none","n":1}"#);
}

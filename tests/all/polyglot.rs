//! Lambda-style Python and JavaScript handlers (tests/functions/) built with
//! the installed toolchains (`stepbox toolchain install python js`, which
//! scripts/test.sh runs) and run in the sandbox as Lambda runs them. Builds
//! and compiled artifacts are kept under the target directory, so a rerun
//! builds nothing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use stepbox_sandbox::{Function, Invocation, InvokeError, Limits, Request, Sandbox, SandboxConfig, TaskContext};
use stepbox_toolchain::{BuildCache, BuildError, BuildRequest, Language, Runtime, Source, Toolchains};

mod environment;
mod examples;
mod lambda;
mod warm;

pub(super) fn kept(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

pub(super) fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        // Laid out as `stepbox --cache-dir` lays out its cache, which
        // `stepbox run` in these tests shares. Every Python (JavaScript)
        // fixture shares CPython's (SpiderMonkey's) compiled functions.
        let config = SandboxConfig {
            cache_dir: Some(cache_dir().join("artifacts")),
            compile_cache_dir: Some(cache_dir().join("compiled")),
            ..SandboxConfig::default()
        };
        Sandbox::new(config).expect("sandbox")
    })
}

/// The cache directory of these tests' sandbox (`stepbox --cache-dir`).
pub(super) fn cache_dir() -> PathBuf {
    kept("polyglot-cache")
}

pub(super) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/functions").join(name)
}

pub(super) fn toolchains() -> Toolchains {
    let toolchains = Toolchains::from_env();
    for language in Language::ALL {
        assert!(
            toolchains.installed(language).is_some(),
            "the {} toolchain is not installed under {}: run `{}` (scripts/test.sh does)",
            language.name(),
            toolchains.root().display(),
            language.install_command()
        );
    }
    toolchains
}

pub(super) fn build(runtime: Runtime, handler: &str, source: &Source) -> Result<Vec<u8>, BuildError> {
    let request = BuildRequest { runtime, handler, source };
    toolchains().build(&request, &BuildCache::new(Some(&kept("builds"))))
}

fn load(runtime: Runtime, handler: &str, dir: &str) -> Arc<Function> {
    let wasm = build(runtime, handler, &Source::Dir(fixture(dir))).unwrap_or_else(|e| panic!("building {dir}: {e}"));
    sandbox().compile(&wasm).unwrap_or_else(|e| panic!("compiling {dir}: {e}"))
}

async fn invoke_with(function: &Arc<Function>, input: Value, limits: &Limits) -> Invocation {
    let input = input.to_string();
    let context = TaskContext { request_id: "req-1".into(), ..TaskContext::default() };
    sandbox().invoke(function, Request { input: &input, context, limits, on_heartbeat: None }).await
}

async fn invoke(function: &Arc<Function>, input: Value) -> Invocation {
    invoke_with(function, input, &Limits::default()).await
}

fn output(inv: &Invocation) -> Value {
    let text = inv.result.as_ref().unwrap_or_else(|e| panic!("invocation failed: {e:?}\nlogs: {}", inv.logs.text));
    serde_json::from_str(text).unwrap()
}

fn task_error(inv: &Invocation) -> (String, String, Vec<String>) {
    match &inv.result {
        Err(InvokeError::Task { error, cause, stack_trace }) => (error.clone(), cause.clone(), stack_trace.clone()),
        other => panic!("expected a task error, got {other:?}\nlogs: {}", inv.logs.text),
    }
}

fn error_name(inv: &Invocation) -> &str {
    inv.result.as_ref().err().map(InvokeError::error_name).unwrap_or("<succeeded>")
}

fn short() -> Limits {
    Limits { timeout: Duration::from_millis(500), ..Limits::default() }
}

/// Room to grow to the memory cap on a busy machine before the deadline.
fn small_memory() -> Limits {
    Limits { timeout: Duration::from_secs(20), memory_bytes: 64 << 20, ..Limits::default() }
}

#[tokio::test]
async fn python_handler_runs_as_on_lambda() {
    let f = load(Runtime::Python312, "app.handler", "python");

    let inv = invoke(&f, json!({"name": "ada"})).await;
    assert_eq!(output(&inv), json!({"event": {"name": "ada"}, "shout": "ADA!"}));
    assert!(inv.logs.text.contains("echo req-1\n"), "print goes to the log: {}", inv.logs.text);
    assert!(inv.logs.text.contains("[WARNING]\twarned about ada"), "logging goes to the log: {}", inv.logs.text);
    assert!(!inv.logs.text.contains("not logged"), "the root logger keeps WARNING: {}", inv.logs.text);

    let ctx = output(&invoke(&f, json!({"action": "context"})).await);
    assert_eq!(ctx["aws_request_id"], "req-1");
    assert_eq!(ctx["function_version"], "$LATEST");
    assert_eq!(ctx["memory_limit_in_mb"], "128");
    let remaining = ctx["remaining"].as_u64().unwrap();
    assert!(remaining > 0 && remaining <= 3000, "remaining {remaining}");

    let (error, cause, trace) = task_error(&invoke(&f, json!({"action": "raise", "order": 7})).await);
    assert_eq!(error, "OrderRejected");
    assert_eq!(cause, "order 7 rejected");
    assert_eq!(trace.len(), 1, "only the handler's frame: {trace:?}");
    assert!(trace[0].starts_with("  File \"/var/task/app.py\", line "), "{trace:?}");
    assert!(trace[0].contains(", in handler\n    raise OrderRejected("), "{trace:?}");

    let (error, cause, _) = task_error(&invoke(&f, json!({"action": "unserializable"})).await);
    assert_eq!(error, "Runtime.MarshalError");
    assert!(cause.starts_with("Unable to marshal response: Object of type object is not JSON serializable"), "{cause}");
}

#[tokio::test]
async fn hostile_python_is_contained() {
    let f = load(Runtime::Python312, "app.handler", "python");
    let inv = invoke_with(&f, json!({"action": "loop"}), &short()).await;
    assert_eq!(error_name(&inv), "Sandbox.Timedout");
    let inv = invoke_with(&f, json!({"action": "grow"}), &small_memory()).await;
    assert_eq!(error_name(&inv), "Sandbox.OutOfMemory", "{:?}", inv.result);
    // Python's own recursion limit stops it first (1000 frames, formatted
    // into the stack trace).
    let inv = invoke_with(&f, json!({"action": "recurse"}), &small_memory()).await;
    assert_eq!(error_name(&inv), "RecursionError", "{:?}", inv.result);
    // The same function still answers.
    assert_eq!(output(&invoke(&f, json!({"name": "x"})).await)["shout"], "X!");
}

#[tokio::test]
async fn js_module_handler_runs_as_on_lambda() {
    for runtime in [Runtime::Nodejs20, Runtime::Nodejs22] {
        let f = load(runtime, "index.handler", "js-esm");
        let inv = invoke(&f, json!({"name": "ada"})).await;
        assert_eq!(output(&inv), json!({"event": {"name": "ada"}, "shout": "ADA!"}));
        assert!(inv.logs.text.contains("\treq-1\tINFO\techo req-1\n"), "console.log goes to the log: {}", inv.logs.text);

        let ctx = output(&invoke(&f, json!({"action": "context"})).await);
        assert_eq!(ctx["awsRequestId"], "req-1");
        assert_eq!(ctx["functionVersion"], "$LATEST");
        assert_eq!(ctx["memoryLimitInMB"], "128");
        let remaining = ctx["remaining"].as_u64().unwrap();
        assert!(remaining > 0 && remaining <= 3000, "remaining {remaining}");

        let (error, cause, _) = task_error(&invoke(&f, json!({"action": "raise", "order": 7})).await);
        assert_eq!(error, "OrderRejected");
        let cause: Value = serde_json::from_str(&cause).expect("the cause is Node's envelope");
        assert_eq!(cause["errorType"], "OrderRejected");
        assert_eq!(cause["errorMessage"], "order 7 rejected");
        let trace = cause["trace"].as_array().unwrap();
        assert_eq!(trace[0], "OrderRejected: order 7 rejected");
        assert!(trace.len() > 1 && trace[1].as_str().unwrap().starts_with("    at "), "{trace:?}");
    }
}

#[tokio::test]
async fn hostile_js_is_contained() {
    let f = load(Runtime::Nodejs22, "index.handler", "js-esm");
    let inv = invoke_with(&f, json!({"action": "loop"}), &short()).await;
    assert_eq!(error_name(&inv), "Sandbox.Timedout");
    let inv = invoke_with(&f, json!({"action": "grow"}), &small_memory()).await;
    assert_eq!(error_name(&inv), "Sandbox.OutOfMemory", "{:?}", inv.result);
    // SpiderMonkey's frames live in linear memory: deep recursion meets the cap.
    let inv = invoke_with(&f, json!({"action": "recurse"}), &small_memory()).await;
    assert_eq!(error_name(&inv), "Sandbox.OutOfMemory", "{:?}", inv.result);
    assert_eq!(output(&invoke(&f, json!({"name": "x"})).await)["shout"], "X!");
}

#[tokio::test]
async fn js_commonjs_handler_and_a_zip_of_it() {
    let f = load(Runtime::Nodejs20, "index.handler", "js-cjs");
    assert_eq!(output(&invoke(&f, json!({"name": "ada"})).await), json!({"shout": "ADA!", "requestId": "req-1"}));
    let (error, cause, _) = task_error(&invoke(&f, json!({"fail": "x"})).await);
    assert_eq!(error, "RangeError");
    assert!(cause.contains(r#""errorMessage":"cannot shout x""#), "{cause}");

    // The same sources zipped are the same build (the cache key is the files').
    let zip = zip_dir(&fixture("js-cjs"));
    let dir = Source::Dir(fixture("js-cjs"));
    assert_eq!(Source::Zip(zip.clone()).digest().unwrap(), dir.digest().unwrap());
    let from_zip = build(Runtime::Nodejs20, "index.handler", &Source::Zip(zip)).unwrap();
    assert_eq!(from_zip, build(Runtime::Nodejs20, "index.handler", &dir).unwrap());
}

#[tokio::test]
async fn a_python_syntax_error_fails_the_build_naming_file_and_line() {
    let err = build(Runtime::Python312, "app.handler", &Source::Dir(fixture("python-syntax-error"))).unwrap_err();
    match err {
        BuildError::Code { error_type, message } => {
            assert_eq!(error_type, "Runtime.UserCodeSyntaxError");
            assert_eq!(message, "Syntax error in module 'app': expected ':' (app.py, line 1)");
        }
        other => panic!("expected a code error, got {other:?}"),
    }
    let err = build(Runtime::Python312, "missing.handler", &Source::Dir(fixture("python"))).unwrap_err();
    assert_eq!(err.to_string(), "Runtime.ImportModuleError: Unable to import module 'missing': No module named 'missing'");
}

#[test]
fn a_missing_toolchain_names_the_command_that_installs_it() {
    let empty = tempfile::tempdir().unwrap();
    let toolchains = Toolchains::new(empty.path());
    let source = Source::Dir(fixture("python"));
    for (runtime, command) in [
        (Runtime::Python312, "stepbox toolchain install python"),
        (Runtime::Nodejs22, "stepbox toolchain install js"),
    ] {
        let request = BuildRequest { runtime, handler: "app.handler", source: &source };
        let err = toolchains.build(&request, &BuildCache::new(None)).unwrap_err();
        assert_eq!(err.to_string(), format!("the {} runtime needs its toolchain: run `{command}`", runtime.id()));
    }
}

#[test]
fn stepbox_build_then_invoke() {
    toolchains();
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("fn.wasm");
    let builds = kept("builds");
    let (code, out, err) = stepbox_tests::stepbox(&[
        "build", "--runtime", "python3.12", "--handler", "app.handler",
        fixture("python").to_str().unwrap(), "-o", wasm.to_str().unwrap(),
        "--build-cache", builds.to_str().unwrap(),
    ]);
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{out}{err}");
    let artifacts = kept("polyglot-artifacts");
    let (code, out, err) = stepbox_tests::stepbox(&[
        "invoke", wasm.to_str().unwrap(), "--input", r#"{"name":"cli"}"#, "--cache-dir", artifacts.to_str().unwrap(),
    ]);
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["shout"], "CLI!");
}

pub(super) fn zip_dir(dir: &Path) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    add_dir(&mut zip, dir, "");
    zip.finish().unwrap().into_inner()
}

fn add_dir(zip: &mut zip::ZipWriter<std::io::Cursor<Vec<u8>>>, dir: &Path, prefix: &str) {
    use std::io::Write;
    let options = zip::write::SimpleFileOptions::default();
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths {
        let name = format!("{prefix}{}", path.file_name().unwrap().to_str().unwrap());
        if path.ends_with("__pycache__") {
            continue;
        }
        if path.is_dir() {
            add_dir(zip, &path, &format!("{name}/"));
        } else {
            zip.start_file(name, options).unwrap();
            zip.write_all(&std::fs::read(&path).unwrap()).unwrap();
        }
    }
}

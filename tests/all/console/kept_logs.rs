//! The log of every Task attempt of a Standard execution is kept with the
//! execution in the store: `stepbox logs` (the console's invocations
//! endpoint) prints the same after the server restarts on its data
//! directory, where before they were in memory only.

use std::path::Path;
use std::time::Duration;

use stepbox_sandbox::Registry;
use stepbox_server::durable::DurableConfig;
use stepbox_server::{AppState, ServerConfig};
use stepbox_tests::shared_sandbox;

use super::{Harness, create_function, create_machine, example, run_to_end, start_on};

async fn start_durable(dir: &Path) -> Harness {
    let store = (0..100)
        .find_map(|_| stepbox_store::open_dir(dir).ok().or_else(|| {
            std::thread::sleep(Duration::from_millis(50)); // the last server's writer lets go of the file
            None
        }))
        .expect("open the store");
    let state = AppState::durable(ServerConfig::default(), Registry::new(shared_sandbox().clone()), store, DurableConfig::default());
    state.recover().await.expect("recover");
    start_on(state).await
}

async fn logs(h: &Harness, arn: &str) -> String {
    let (arn, endpoint) = (arn.to_string(), h.server.endpoint());
    let (code, out, err) =
        tokio::task::spawn_blocking(move || stepbox_tests::stepbox(&["logs", &arn, "--endpoint", &endpoint])).await.unwrap();
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_logs_outlive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let h = start_durable(dir.path()).await;
    for (name, component) in [("transform", "transform"), ("processed", "processed"), ("logger", "logger")] {
        create_function(&h, name, component).await;
    }
    let order = create_machine(&h, "order", &example("workflows/order.asl.json")).await;
    let arn = run_to_end(&h, &order, &example("workflows/order.input.json")).await;
    let before = logs(&h, &arn).await;
    // PriceOrder (transform), three Process iterations (processed), Notify (logger).
    assert_eq!(before.matches("== ").count(), 5, "{before}");
    assert!(before.contains("logger: state 'Notify' attempt 1"), "{before}");
    h.server.shutdown().await.unwrap();

    let h = start_durable(dir.path()).await;
    let after = logs(&h, &arn).await;
    assert_eq!(after, before, "the same attempts and logs after the restart");
    h.server.shutdown().await.unwrap();
}

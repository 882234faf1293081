//! `stepbox serve`: the Step Functions API and a Lambda-compatible function
//! API on one local endpoint (see the `stepbox-server` crate).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use stepbox_sandbox::Limits;
use stepbox_server::{AppState, MemoryStore, ServerConfig};

use crate::util;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8083")]
    addr: SocketAddr,
    /// Directory of task components registered at start: each NAME.wasm is
    /// function NAME (more can be created with the Lambda CreateFunction API).
    #[arg(long)]
    functions: Option<PathBuf>,
    /// Region used in ARNs.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Account id used in ARNs.
    #[arg(long, default_value = "111111111111")]
    account: String,
    /// Where precompiled artifacts are cached [default: ~/.cache/stepbox].
    #[arg(long, env = "STEPBOX_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

pub async fn run(args: ServeArgs, out: &mut (dyn Write + Send)) -> anyhow::Result<ExitCode> {
    let limits = Limits { timeout: Duration::from_secs(3), ..Limits::default() };
    let registry = util::registry(args.cache_dir, args.functions.as_deref(), &limits)?;
    let config = ServerConfig { region: args.region, account: args.account, ..ServerConfig::default() };
    let state = AppState::new(config, registry, Arc::new(MemoryStore::new()));
    let listener =
        tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("binding {}", args.addr))?;
    writeln!(out, "stepbox listening on http://{}", listener.local_addr()?)?;
    out.flush()?;
    let (stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown signal received");
        let _ = stop.send(true);
    });
    stepbox_server::serve(listener, state, rx).await?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

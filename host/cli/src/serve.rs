//! `stepbox serve`: the Step Functions API and a Lambda-compatible function
//! API on one local endpoint (see the `stepbox-server` crate).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use stepbox_sandbox::{ArtifactStore, Limits};
use stepbox_server::durable::{DurableConfig, StoredArtifacts};
use stepbox_server::tenants::TenantSet;
use stepbox_server::{AppState, ServerConfig};
use stepbox_types::Identity;

use crate::{testing, util};

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
    #[arg(long, default_value = Identity::DEFAULT_REGION)]
    region: String,
    /// Account id used in ARNs.
    #[arg(long, default_value = Identity::DEFAULT_ACCOUNT)]
    account: String,
    /// Where precompiled artifacts are cached [default: ~/.cache/stepbox].
    #[arg(long, env = "STEPBOX_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Data directory of the durable store (state machines, executions and
    /// their histories survive restarts; RUNNING Standard executions resume)
    /// [default: $XDG_DATA_HOME/stepbox, else ~/.local/share/stepbox].
    #[arg(long, env = "STEPBOX_DATA_DIR", conflicts_with_all = ["in_memory", "database_url"])]
    data: Option<PathBuf>,
    /// Keep everything in this PostgreSQL database instead of a data
    /// directory: postgres://USER[:PASS]@HOST[:PORT]/DB (its schema is
    /// created or upgraded at start).
    #[arg(long, env = "STEPBOX_DATABASE_URL", value_name = "URL", conflicts_with = "in_memory")]
    database_url: Option<String>,
    /// With --database-url: how long this host's leases of its running
    /// executions last unless renewed (renewed every third of it while it
    /// lives). Any number of `stepbox serve` share one database; when one
    /// dies, another takes over its executions once their leases expired
    /// and resumes them from their last checkpoint.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, requires = "database_url")]
    lease_seconds: f64,
    /// Keep everything in memory instead (lost when the server stops).
    #[arg(long)]
    in_memory: bool,
    /// With --in-memory: the most the store holds, in MiB (records and
    /// histories; not the running executions themselves). Past it, closed
    /// executions are evicted, oldest first (they no longer exist, as past
    /// their retention period); running ones never are.
    #[arg(long, value_name = "MIB", default_value_t = stepbox_server::DEFAULT_MEMORY_BUDGET_MIB, requires = "in_memory")]
    memory_budget_mib: u64,
    /// Closed executions older than this many days are deleted.
    #[arg(long, default_value_t = 90)]
    retention_days: u64,
    /// Top-level Waits longer than this many seconds become timers (the
    /// execution leaves memory until its due time).
    #[arg(long, default_value_t = 5)]
    suspend_waits_over: u64,
    /// A host HTTP Tasks (`arn:aws:states:::http:invoke`) may call besides
    /// loopback; repeatable, `*` allows any.
    #[arg(long = "http-allow", value_name = "HOST")]
    http_allow: Vec<String>,
    /// Give every function an instruction budget of N units of fuel per
    /// invocation (past it: Sandbox.OutOfFuel): the `--functions` ones and
    /// those made through the function API without a `stepbox:fuel` tag
    /// (a tag's budget wins). Counting costs guest code some speed; without
    /// this option only tagged functions count.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    fuel: Option<u64>,
    /// Do not prepare task instances ahead on idle CPU (each invocation then
    /// instantiates its component itself: slower, but no background thread).
    #[arg(long)]
    no_warm_instances: bool,
    /// Step Functions Local's mock configuration (MockConfigFile.json):
    /// StartExecution on `…:stateMachine:NAME#CASE` runs test case CASE,
    /// whose Task states answer with their mocked responses instead of
    /// calling their resources. Checked at start.
    #[arg(long, env = "SFN_MOCK_CONFIG", value_name = "FILE")]
    mock_config: Option<PathBuf>,
    /// Host several tenants: TOML naming each tenant's account, access keys
    /// and quotas (docs/tenants.md). Every request must then be signed
    /// (AWS Signature Version 4) with one of its keys and acts as that
    /// tenant's account. The file must not be readable by other users;
    /// SIGHUP reads it again.
    #[arg(long, value_name = "FILE")]
    tenants: Option<PathBuf>,
    /// Without --tenants, listen on an address other hosts can reach anyway:
    /// anyone who reaches it can run code and read every execution.
    #[arg(long, conflicts_with = "tenants")]
    insecure_no_auth: bool,
    #[command(flatten)]
    testing: testing::TestingArgs,
}

/// `$STEPBOX_DATA_DIR` is read by clap; else `$XDG_DATA_HOME/stepbox`, else `~/.local/share/stepbox`.
fn default_data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
        return Some(PathBuf::from(dir).join("stepbox"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local").join("share").join("stepbox"))
}

/// The tenants of `--tenants`, or single-user mode, which only a loopback
/// address gets unless `--insecure-no-auth` says otherwise.
fn tenants(args: &ServeArgs) -> anyhow::Result<Option<Arc<TenantSet>>> {
    match &args.tenants {
        Some(file) => Ok(Some(Arc::new(TenantSet::load(file)?))),
        None if args.addr.ip().is_loopback() || args.insecure_no_auth => Ok(None),
        None => anyhow::bail!(
            "refusing to serve {} without authentication: other hosts could reach it and run code as anyone; \
             give --tenants FILE, bind a loopback address, or pass --insecure-no-auth",
            args.addr
        ),
    }
}

/// The third line of output: who may call the server.
fn auth_line(tenants: Option<&TenantSet>, account: &str) -> String {
    match tenants {
        None => format!("auth: none (single-user mode: every request acts as account {account}, unauthenticated)"),
        Some(t) => {
            let n = t.current().tenants.len();
            format!("auth: AWS Signature Version 4 ({n} tenant{}; SIGHUP reloads the tenants file)", if n == 1 { "" } else { "s" })
        }
    }
}

/// Reads the tenants file again on each SIGHUP; an invalid one is refused
/// (logged) and the tenants in force stay.
fn reload_on_hangup(tenants: Arc<TenantSet>) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Installed before the server answers, so no SIGHUP finds the default action (exit).
        let mut hangup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                match tenants.reload() {
                    Ok(n) => tracing::info!(tenants = n, "tenants file reloaded"),
                    Err(e) => tracing::error!(error = %e, "tenants file not reloaded; the tenants in force stay"),
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = tenants;
    Ok(())
}

pub async fn run(args: ServeArgs, out: &mut (dyn Write + Send)) -> anyhow::Result<ExitCode> {
    let tenants = tenants(&args)?;
    let mock_config = args.mock_config.as_deref().map(testing::load_mock_config).transpose()?.map(Arc::new);
    let testing = args.testing.resolve()?;
    let bindings = stepbox_invoker::Bindings::parse(&testing.bind)?;
    let limits = Limits { timeout: Duration::from_secs(3), fuel: args.fuel, ..Limits::default() };
    // A durable server's store opens first: it also keeps the artifacts of
    // the functions registered from `--functions`.
    let store = if args.in_memory {
        None
    } else if let Some(url) = &args.database_url {
        if !(args.lease_seconds.is_finite() && args.lease_seconds >= 0.1) {
            anyhow::bail!("--lease-seconds must be at least 0.1, got {}", args.lease_seconds);
        }
        let store = stepbox_store::open_postgres_with(url, Duration::from_secs_f64(args.lease_seconds))?;
        Some((store.describe(), store))
    } else {
        let dir = args.data.or_else(default_data_dir).context("no --data directory and no HOME to default to")?;
        let store = stepbox_store::open_dir(&dir)?;
        Some((dir.display().to_string(), store))
    };
    let artifacts = store.as_ref().map(|(_, s)| StoredArtifacts::new(s.clone()) as Arc<dyn ArtifactStore>);
    let registry =
        util::registry(args.cache_dir, args.functions.as_deref(), &limits, !args.no_warm_instances, artifacts)?;
    let auth_line = auth_line(tenants.as_deref(), &args.account);
    if let Some(t) = &tenants {
        reload_on_hangup(t.clone())?;
    }
    let config = ServerConfig {
        tenants,
        identity: Identity::new(args.region, args.account),
        http_allow: args.http_allow,
        mock_config,
        wait_time_scale: testing.wait_time_scale,
        bindings,
        buckets: testing.buckets,
        tables: testing.dynamodb_tables,
        default_fuel: args.fuel,
        ..ServerConfig::default()
    };
    // What the second line of output says about the data (the first names the endpoint).
    let data_line;
    let durable = DurableConfig {
        suspend_waits_over: Duration::from_secs(args.suspend_waits_over),
        retention: Duration::from_secs(args.retention_days.saturating_mul(24 * 3600)),
    };
    let state = if let Some((place, store)) = store {
        let state = AppState::durable(config, registry, store, durable);
        let resumed = state.recover().await?;
        tracing::info!(data = %place, resumed, "durable store open");
        let executions = if resumed == 1 { "execution" } else { "executions" };
        data_line = format!("data: {place} ({resumed} running {executions} resumed)");
        state
    } else {
        data_line = format!(
            "data: in memory, up to {} MiB (nothing is kept when the server stops)",
            args.memory_budget_mib
        );
        let store = stepbox_store::Store::memory_with_budget(args.memory_budget_mib.saturating_mul(1 << 20));
        AppState::new(config, registry, Arc::new(store), durable)
    };
    let listener =
        tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("binding {}", args.addr))?;
    // The three start-up lines in one write: a reader that stops after the
    // lines it wants (and closes the pipe) finds every line written.
    let listening = format!("stepbox listening on http://{}", listener.local_addr()?);
    out.write_all(format!("{listening}\n{data_line}\n{auth_line}\n").as_bytes())?;
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

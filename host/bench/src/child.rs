//! A `stepbox serve` child process, for the benchmarks that run the real
//! binary: its address read from its first line, the rest of its output
//! drained (so it never blocks on a full pipe), killed when dropped.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::Context as _;

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `stepbox serve --addr 127.0.0.1:0 ARGS…`, its standard error to `stderr`.
pub fn serve<I, S>(stepbox: &Path, args: I, stderr: Stdio) -> anyhow::Result<Server>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    use std::io::BufRead;
    let mut child = Command::new(stepbox)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .context("spawn stepbox serve")?;
    let mut out = std::io::BufReader::new(child.stdout.take().context("stdout")?);
    let mut line = String::new();
    out.read_line(&mut line)?;
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let addr = line
        .trim()
        .strip_prefix("stepbox listening on http://")
        .with_context(|| format!("unexpected first line from stepbox serve: {line:?}"))?
        .parse()?;
    Ok(Server { child, addr })
}

//! `stepbox logs EXECUTION_ARN [-f]`: the log of every function invocation
//! an execution's Task states made, per state attempt, as a running `stepbox
//! serve` keeps them (its console's `GET /console/api/invocations`); `-f`
//! keeps printing new ones until the execution ends.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

/// How often `-f` asks for new invocations.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

#[derive(clap::Args)]
pub struct LogsArgs {
    /// The execution's ARN.
    execution_arn: String,
    /// The server: `stepbox serve`'s address, as http://HOST:PORT.
    #[arg(long, env = "STEPBOX_ENDPOINT", default_value = "http://127.0.0.1:8083")]
    endpoint: String,
    /// Keep printing new invocations' logs until the execution ends.
    #[arg(short = 'f', long)]
    follow: bool,
}

pub fn run(args: LogsArgs, out: &mut (dyn Write + Send)) -> anyhow::Result<ExitCode> {
    let host = args.endpoint.trim_start_matches("http://").trim_end_matches('/').to_string();
    anyhow::ensure!(!host.contains('/') && !args.endpoint.starts_with("https://"), "--endpoint must be http://HOST:PORT");
    let path = format!("/console/api/invocations?executionArn={}", encode(&args.execution_arn));
    let mut printed = 0;
    loop {
        // Whether it still runs is read first, so nothing logged before it ended is missed.
        let running = args.follow && status(&host, &args.execution_arn)? == "RUNNING";
        let list = request(&host, "GET", &path, None)?;
        let invocations = list["invocations"].as_array().cloned().unwrap_or_default();
        for i in invocations.iter().skip(printed) {
            print_invocation(out, i)?;
        }
        printed = printed.max(invocations.len());
        if !running {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(FOLLOW_EVERY);
    }
}

fn print_invocation(out: &mut (dyn Write + Send), i: &Value) -> std::io::Result<()> {
    let error = i["error"].as_str().map(|e| format!(", {e}")).unwrap_or_default();
    writeln!(
        out,
        "== {} attempt {} ({}, {:.1} ms{error})",
        i["stateName"].as_str().unwrap_or("?"),
        i["retryCount"].as_u64().unwrap_or(0) + 1,
        i["functionName"].as_str().unwrap_or("?"),
        i["durationMs"].as_f64().unwrap_or(0.0),
    )?;
    if i["logDroppedBytes"].as_u64().is_some_and(|n| n > 0) {
        writeln!(out, "[{} earlier bytes not kept]", i["logDroppedBytes"])?;
    }
    let log = i["logTail"].as_str().unwrap_or("");
    write!(out, "{log}")?;
    if !log.is_empty() && !log.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(())
}

fn status(host: &str, arn: &str) -> anyhow::Result<String> {
    let d = request(host, "POST", "/", Some(("DescribeExecution", json!({"executionArn": arn}))))?;
    Ok(d["status"].as_str().unwrap_or("").to_string())
}

/// One HTTP/1.1 request (the connection closed after it); the JSON answer.
fn request(host: &str, method: &str, path: &str, sfn: Option<(&str, Value)>) -> anyhow::Result<Value> {
    let mut stream = TcpStream::connect(host).with_context(|| format!("connecting to {host}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let (extra, body) = match sfn {
        Some((op, params)) => (
            format!("Content-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AWSStepFunctions.{op}\r\n"),
            params.to_string(),
        ),
        None => (String::new(), String::new()),
    };
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n{body}", body.len())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").context("a malformed HTTP answer")?;
    let code = head.split_whitespace().nth(1).unwrap_or("");
    let json: Value = serde_json::from_str(body).unwrap_or(Value::String(body.to_string()));
    if code != "200" {
        let message = json["message"].as_str().map(str::to_string).unwrap_or_else(|| body.to_string());
        match json["__type"].as_str() {
            Some(t) => bail!("{t}: {message}"),
            None => bail!("HTTP {code}: {message}"),
        }
    }
    Ok(json)
}

/// Percent-encoding of a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

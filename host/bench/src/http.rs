//! Just enough HTTP/1.1 for the benchmarks' load generators: keep-alive
//! connections, Content-Length bodies both ways.

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One keep-alive HTTP/1.1 connection speaking just enough of the protocol
/// for awsJson1_0 requests (Content-Length bodies both ways).
pub struct Connection {
    stream: BufReader<TcpStream>,
    request: Vec<u8>,
}

impl Connection {
    pub async fn open(addr: std::net::SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection { stream: BufReader::new(stream), request: Vec::new() })
    }

    /// Send one Step Functions operation; returns (HTTP status, body).
    #[allow(dead_code)] // a benchmark that signs its requests builds them itself
    pub async fn call(&mut self, operation: &str, body: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        self.request.clear();
        self.request.extend_from_slice(
            format!(
                "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-amz-json-1.0\r\n\
                 X-Amz-Target: AWSStepFunctions.{operation}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        self.request.extend_from_slice(body.as_bytes());
        self.exchange().await
    }

    /// Any request: `head` is the request line and headers without the
    /// blank line (Content-Length is added); returns (HTTP status, body).
    #[allow(dead_code)] // not every benchmark signs its requests
    pub async fn send(&mut self, head: &str, body: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        self.request.clear();
        self.request.extend_from_slice(format!("{head}\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
        self.request.extend_from_slice(body);
        self.exchange().await
    }

    /// `GET path`; returns (HTTP status, body).
    #[allow(dead_code)] // not every benchmark probes
    pub async fn get(&mut self, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        self.request.clear();
        self.request.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes());
        self.exchange().await
    }

    /// Send the request in `self.request` and read the response.
    async fn exchange(&mut self) -> anyhow::Result<(u16, Vec<u8>)> {
        self.stream.get_mut().write_all(&self.request).await?;
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("bad status line")?;
        let mut length = 0usize;
        loop {
            line.clear();
            if self.stream.read_line(&mut line).await? == 0 {
                bail!("connection closed in the headers");
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().context("bad Content-Length")?;
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        Ok((status, body))
    }
}


//! Per-invocation log capture: stdout, stderr and `log` lines go into one
//! bounded buffer (the invocation's "log tail"). Writes past the cap are
//! dropped, never refused, so a chatty guest cannot fail or exhaust the host.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

#[derive(Debug)]
struct Buffer {
    bytes: Vec<u8>,
    cap: usize,
    dropped: u64,
}

/// A shared, bounded log buffer. Cloning shares it.
#[derive(Debug, Clone)]
pub struct LogBuffer(Arc<Mutex<Buffer>>);

/// What an invocation logged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Logs {
    pub text: String,
    /// Bytes dropped because the cap was reached.
    pub dropped_bytes: u64,
}

impl Logs {
    /// The last `max` bytes (Lambda's `LogType: Tail` keeps the last 4 KB),
    /// cut on a character boundary.
    pub fn tail(&self, max: usize) -> &str {
        let mut start = self.text.len().saturating_sub(max);
        while !self.text.is_char_boundary(start) {
            start += 1;
        }
        &self.text[start..]
    }
}

impl LogBuffer {
    pub fn new(cap: usize) -> Self {
        LogBuffer(Arc::new(Mutex::new(Buffer { bytes: Vec::new(), cap, dropped: 0 })))
    }

    pub fn append(&self, data: &[u8]) {
        let mut buf = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let room = buf.cap.saturating_sub(buf.bytes.len());
        let take = room.min(data.len());
        buf.bytes.extend_from_slice(&data[..take]);
        buf.dropped += (data.len() - take) as u64;
    }

    pub fn append_line(&self, prefix: &str, message: &str) {
        let mut line = String::with_capacity(prefix.len() + message.len() + 2);
        line.push_str(prefix);
        line.push(' ');
        line.push_str(message);
        line.push('\n');
        self.append(line.as_bytes());
    }

    pub fn snapshot(&self) -> Logs {
        let buf = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Logs { text: String::from_utf8_lossy(&buf.bytes).into_owned(), dropped_bytes: buf.dropped }
    }
}

impl IsTerminal for LogBuffer {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogBuffer {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for LogBuffer {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for LogBuffer {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogBuffer {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_past_the_cap_and_counts() {
        let logs = LogBuffer::new(8);
        logs.append(b"hello ");
        logs.append(b"world");
        let snap = logs.snapshot();
        assert_eq!(snap.text, "hello wo");
        assert_eq!(snap.dropped_bytes, 3);
    }

    #[test]
    fn tail_cuts_on_char_boundary() {
        let logs = Logs { text: "aé€".into(), dropped_bytes: 0 };
        assert_eq!(logs.tail(4), "€");
        assert_eq!(logs.tail(100), "aé€");
    }
}

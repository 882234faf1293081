//! Progress of long Map runs on stderr: a history sink that counts finished
//! iterations and a ticker that prints them once a second while they change.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use stepbox_engine::{EventType, HistoryEvent, HistorySink, VecSink};

/// Counts Map iterations, keeping the full history only when asked.
pub struct ProgressSink {
    history: Option<VecSink>,
    started: AtomicU64,
    finished: AtomicU64,
    failed: AtomicU64,
}

impl ProgressSink {
    pub fn new(keep_history: bool) -> Self {
        ProgressSink {
            history: keep_history.then(VecSink::new),
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    pub fn history(&self) -> Option<&VecSink> {
        self.history.as_ref()
    }

    fn line(&self) -> Option<String> {
        let started = self.started.load(Ordering::Relaxed);
        if started == 0 {
            return None;
        }
        let done = self.finished.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        Some(format!("map iterations: {done}/{started} finished, {failed} failed"))
    }

    /// Print progress to stderr every second until the returned guard drops.
    pub fn report_every_second(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let sink = self.clone();
        tokio::spawn(async move {
            let mut last = None;
            let mut interval = tokio::time::interval(Duration::from_secs(1));
            interval.tick().await;
            loop {
                interval.tick().await;
                let line = sink.line();
                if line.is_some() && line != last {
                    let _ = writeln!(std::io::stderr(), "{}", line.as_deref().unwrap_or_default());
                    last = line;
                }
            }
        })
    }
}

impl HistorySink for ProgressSink {
    fn record(&self, event: HistoryEvent) {
        match event.event_type {
            EventType::MapIterationStarted => {
                self.started.fetch_add(1, Ordering::Relaxed);
            }
            EventType::MapIterationSucceeded => {
                self.finished.fetch_add(1, Ordering::Relaxed);
            }
            EventType::MapIterationFailed | EventType::MapIterationAborted => {
                self.finished.fetch_add(1, Ordering::Relaxed);
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        if let Some(history) = &self.history {
            history.record(event);
        }
    }

    fn wants_details(&self) -> bool {
        self.history.is_some()
    }
}

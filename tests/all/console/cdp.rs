//! Headless Chromium driven over the DevTools protocol through a pipe
//! (`--remote-debugging-pipe`: commands on the browser's fd 3, answers and
//! events on its fd 4, each a JSON text ended by a NUL byte). No driver
//! process, no WebSocket: a child process, two pipes and serde_json.
//!
//! The browser is `$STEPBOX_TEST_CHROMIUM` (scripts/test.sh sets it after
//! installing Debian's chromium when missing, scripts/lib/chromium.sh), else
//! `chromium` on the PATH.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long one command may take to be answered.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Browser {
    child: Child,
    to_browser: File,
    from_browser: Receiver<Value>,
    next_id: u64,
    /// Events received while waiting for answers, oldest first.
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into `fds`, which we then own.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both are open descriptors nothing else owns.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

impl Browser {
    /// Starts a headless Chromium with a throwaway profile.
    pub fn launch() -> Browser {
        let binary = std::env::var("STEPBOX_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".into());
        let profile = tempfile::tempdir().expect("profile dir");
        let (cmd_read, cmd_write) = pipe();
        let (out_read, out_write) = pipe();
        let (child_in, child_out) = (cmd_read.as_raw_fd(), out_write.as_raw_fd());
        let mut command = Command::new(&binary);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--remote-debugging-pipe",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--mute-audio",
                "--window-size=1400,1000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // Copies above 4 first, so neither dup2 overwrites the other's source.
                let r = libc::fcntl(child_in, libc::F_DUPFD, 10);
                let w = libc::fcntl(child_out, libc::F_DUPFD, 10);
                if r < 0 || w < 0 || libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap_or_else(|e| {
            panic!("cannot start {binary}: {e} (scripts/test.sh installs chromium: source scripts/lib/chromium.sh && chromium_ensure)")
        });
        drop((cmd_read, out_write));
        let (tx, rx) = channel();
        let reader = File::from(out_read);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(reader);
            let mut buf = Vec::new();
            while reader.read_until(0, &mut buf).is_ok_and(|n| n > 0) {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                    && tx.send(v).is_err()
                {
                    break;
                }
                buf.clear();
            }
        });
        Browser { child, to_browser: File::from(cmd_write), from_browser: rx, next_id: 0, events: Vec::new(), _profile: profile }
    }

    /// Sends a command (to a page's `session`, or to the browser) and waits for its answer.
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to_browser.write_all(&bytes).expect("write to the browser");
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.from_browser.recv_timeout(left) {
                Ok(v) if v["id"] == json!(id) => {
                    return match v.get("error") {
                        Some(e) => Err(e.clone()),
                        None => Ok(v["result"].clone()),
                    };
                }
                Ok(v) => self.events.push(v),
                Err(RecvTimeoutError::Timeout) => panic!("{method}: no answer from the browser within {COMMAND_TIMEOUT:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("{method}: the browser closed its pipe"),
            }
        }
    }

    /// Takes the events received so far.
    pub fn drain_events(&mut self) -> Vec<Value> {
        while let Ok(v) = self.from_browser.try_recv() {
            self.events.push(v);
        }
        std::mem::take(&mut self.events)
    }

    /// A new tab, attached, with the Runtime, Log and Page domains on.
    pub fn new_page(&mut self) -> Page {
        let target = self.call(None, "Target.createTarget", json!({"url": "about:blank"})).expect("createTarget");
        let target_id = target["targetId"].as_str().unwrap().to_string();
        let attached =
            self.call(None, "Target.attachToTarget", json!({"targetId": target_id, "flatten": true})).expect("attachToTarget");
        let session = attached["sessionId"].as_str().unwrap().to_string();
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            self.call(Some(&session), domain, json!({})).expect(domain);
        }
        Page { session, problems: Vec::new() }
    }
}

impl Drop for Browser {
    /// Closes the browser (its helper processes too, so its profile can be
    /// removed), killing it if it does not exit within 5 s.
    fn drop(&mut self) {
        let mut msg = serde_json::to_vec(&json!({"id": 0, "method": "Browser.close", "params": {}})).unwrap();
        msg.push(0);
        if self.to_browser.write_all(&msg).is_ok() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One tab.
pub struct Page {
    session: String,
    /// Console errors, uncaught exceptions and failed loads seen so far.
    pub problems: Vec<String>,
}

impl Page {
    /// Loads `url` and waits until the console page has rendered (`<body data-ready>`).
    pub fn open(&mut self, b: &mut Browser, url: &str) {
        b.call(Some(&self.session), "Page.navigate", json!({"url": url})).expect("navigate");
        self.wait_for(b, "document.body && document.body.dataset.ready === 'true'", Duration::from_secs(20));
    }

    /// The value of a JavaScript expression (awaited when it is a promise).
    pub fn eval(&mut self, b: &mut Browser, expression: &str) -> Value {
        let r = b
            .call(
                Some(&self.session),
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .unwrap_or_else(|e| panic!("evaluate {expression}: {e}"));
        if let Some(ex) = r.get("exceptionDetails") {
            panic!("evaluate {expression}: {ex}");
        }
        self.collect(b);
        r["result"]["value"].clone()
    }

    /// Waits until `condition` (a JavaScript expression) is true.
    pub fn wait_for(&mut self, b: &mut Browser, condition: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.eval(b, &format!("!!({condition})")) != json!(true) {
            assert!(Instant::now() < deadline, "not true within {timeout:?}: {condition}\nproblems: {:?}", self.problems);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Keeps the console errors, exceptions and failed loads among the browser's events.
    fn collect(&mut self, b: &mut Browser) {
        for e in b.drain_events() {
            if e["sessionId"].as_str() != Some(&self.session) {
                continue;
            }
            let p = &e["params"];
            match e["method"].as_str() {
                Some("Runtime.exceptionThrown") => self.problems.push(format!("exception: {}", p["exceptionDetails"])),
                Some("Runtime.consoleAPICalled") if matches!(p["type"].as_str(), Some("error" | "assert")) => {
                    self.problems.push(format!("console.{}: {}", p["type"], p["args"]))
                }
                Some("Log.entryAdded") if p["entry"]["level"] == "error" => self.problems.push(format!("log: {}", p["entry"])),
                _ => {}
            }
        }
    }

    /// A PNG of the page, written to `path`.
    pub fn screenshot(&mut self, b: &mut Browser, path: &std::path::Path) {
        let shot = b
            .call(Some(&self.session), "Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": true}))
            .expect("captureScreenshot");
        let png = stepbox_asl::base64::decode(shot["data"].as_str().unwrap()).expect("base64 PNG");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

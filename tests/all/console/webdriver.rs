//! Headless Chromium driven over WebDriver: Debian's `chromedriver`
//! (package chromium-driver) through the fantoccini crate. A blocking face
//! (the tests run it on `spawn_blocking` threads, beside their runtime):
//! [`Browser::launch`], [`Page::open`], [`Page::eval`], [`Page::wait_for`],
//! [`Page::screenshot`], and each page's [`Page::problems`] (console errors,
//! uncaught exceptions and failed loads, from chromedriver's browser log).
//!
//! The binaries are `$STEPBOX_TEST_CHROMEDRIVER` and `$STEPBOX_TEST_CHROMIUM`
//! (scripts/test.sh sets both after installing Debian's packages when
//! missing, scripts/lib/chromium.sh), else `chromedriver` and `chromium` on
//! the PATH.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::error::NewSessionError;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use tokio::runtime::Handle;

/// Chromium's flags: headless, no profile state, a fixed window.
const ARGS: [&str; 12] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--mute-audio",
    "--window-size=1400,1000",
];

pub struct Browser {
    driver: Child,
    client: Option<Client>,
    rt: Handle,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless Chromium
    /// session with a throwaway profile.
    pub fn launch() -> Browser {
        let rt = Handle::current();
        let chromedriver = std::env::var("STEPBOX_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        // chromedriver wants the browser's path, not a name to look up.
        let chromium = std::env::var("STEPBOX_TEST_CHROMIUM").ok().or_else(|| on_path("chromium")).unwrap_or_else(|| {
            panic!("no chromium on the PATH (scripts/test.sh installs it: source scripts/lib/chromium.sh && chromium_ensure)")
        });
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {chromedriver}: {e} (scripts/test.sh installs it: source scripts/lib/chromium.sh && chromium_ensure)"
                )
            });
        let profile = tempfile::tempdir().expect("profile dir");
        let mut args: Vec<String> = ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let capabilities = capabilities.as_object().cloned().unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        // chromedriver answers once it listens.
        let client = loop {
            match rt.block_on(ClientBuilder::new(connector.clone()).capabilities(capabilities.clone()).connect(&url)) {
                Ok(c) => break c,
                Err(NewSessionError::Failed(_) | NewSessionError::FailedC(_)) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("no WebDriver session from {chromedriver}: {e}"),
            }
        };
        Browser { driver, client: Some(client), rt, _profile: profile }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("the session is open")
    }

    /// The page of this session (WebDriver drives one window).
    pub fn new_page(&mut self) -> Page {
        Page { problems: Vec::new() }
    }

    /// The browser log's entries since the last call (chromedriver's `se/log`).
    fn browser_log(&self) -> Vec<Value> {
        match self.rt.block_on(self.client().issue_cmd(BrowserLog)) {
            Ok(Value::Array(entries)) => entries,
            Ok(other) => panic!("se/log answered {other}"),
            Err(e) => panic!("se/log: {e}"),
        }
    }
}

impl Drop for Browser {
    /// Ends the session (which closes Chromium, so its profile can be
    /// removed), then stops chromedriver.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), client.close()).await });
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The full path of program `name` found on the PATH.
fn on_path(name: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file()).map(|p| p.display().to_string())
}

/// chromedriver's log endpoint (Selenium's `POST /session/{id}/se/log`).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}

/// The session's window.
pub struct Page {
    /// Console errors, uncaught exceptions and failed loads seen so far.
    pub problems: Vec<String>,
}

impl Page {
    /// Loads `url` and waits until the console page has rendered (`<body data-ready>`).
    pub fn open(&mut self, b: &mut Browser, url: &str) {
        b.rt.block_on(b.client().goto(url)).unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
        self.wait_for(b, "document.body && document.body.dataset.ready === 'true'", Duration::from_secs(20));
    }

    /// The value of a JavaScript expression (awaited when it is a promise).
    pub fn eval(&mut self, b: &mut Browser, expression: &str) -> Value {
        // A global eval, as DevTools' console evaluates: statements allowed,
        // the last one's value answered, a promise awaited.
        let script = "const [expression, done] = arguments; \
                      Promise.resolve().then(() => (0, eval)(expression)).then(done, (e) => done({__error: String(e)}));";
        let v = b
            .rt
            .block_on(b.client().execute_async(script, vec![json!(expression)]))
            .unwrap_or_else(|e| panic!("evaluate {expression}: {e}"));
        if let Some(error) = v.get("__error") {
            panic!("evaluate {expression}: {error}");
        }
        self.collect(b);
        v
    }

    /// Waits until `condition` (a JavaScript expression) is true.
    pub fn wait_for(&mut self, b: &mut Browser, condition: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.eval(b, &format!("!!({condition})")) != json!(true) {
            assert!(Instant::now() < deadline, "not true within {timeout:?}: {condition}\nproblems: {:?}", self.problems);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Keeps the browser log's errors (console.error, uncaught exceptions,
    /// failed loads: all SEVERE entries).
    fn collect(&mut self, b: &mut Browser) {
        for e in b.browser_log() {
            if e["level"] == "SEVERE" {
                self.problems.push(format!("{}: {}", e["source"].as_str().unwrap_or("log"), e["message"]));
            }
        }
    }

    /// A PNG of the page, written to `path`.
    pub fn screenshot(&mut self, b: &mut Browser, path: &std::path::Path) {
        let png = b.rt.block_on(b.client().screenshot()).expect("screenshot");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

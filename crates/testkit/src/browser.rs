//! A real browser for the storefront's tests: Debian's Chromium, headless, driven over the
//! W3C WebDriver protocol through chromedriver (both installed by `scripts/test-tools.sh`).
//! Every host but this machine's is unreachable, so a page cannot wait on the internet.

use std::{path::Path, process::Stdio, time::Duration};

use serde_json::{Value, json};

/// The key under which WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: tokio::process::Child,
    http: reqwest::Client,
    session: String,
}

/// An element of the current page.
#[derive(Debug, Clone)]
pub struct Element(String);

fn binary(name: &str) -> String {
    std::env::var(format!("KAZNA_TEST_{}", name.to_uppercase()))
        .unwrap_or_else(|_| format!("/usr/bin/{name}"))
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium window of
    /// `width`×`height` CSS pixels.
    pub async fn start(width: u32, height: u32) -> Self {
        let port = crate::free_port();
        let driver = tokio::process::Command::new(binary("chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts (scripts/test-tools.sh installs it)");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let base = format!("http://127.0.0.1:{port}");
        let ready = crate::eventually(20, || async {
            let r = http.get(format!("{base}/status")).send().await.ok()?;
            let v: Value = r.json().await.ok()?;
            v["value"]["ready"].as_bool().filter(|r| *r)
        })
        .await;
        assert!(ready.is_some(), "chromedriver answers");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"implicit": 5000, "pageLoad": 30000, "script": 30000},
            "goog:chromeOptions": {
                "binary": binary("chromium"),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions", "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                ],
            },
        }}});
        let made: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("a session")
            .json()
            .await
            .expect("session answer");
        let id = made["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {made}"));
        Self {
            driver,
            http,
            session: format!("{base}/session/{id}"),
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self
            .http
            .request(method.clone(), format!("{}{path}", self.session));
        // WebDriver wants a JSON body on every POST, an empty object at least.
        if method == reqwest::Method::POST {
            rb = rb.json(&body.unwrap_or_else(|| json!({})));
        }
        let answer: Value = rb
            .send()
            .await
            .unwrap_or_else(|e| panic!("webdriver {path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("webdriver {path} answer: {e}"));
        answer["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let v = self.command(reqwest::Method::POST, path, Some(body)).await;
        if let Some(err) = v.get("error") {
            panic!("webdriver {path}: {err} {}", v["message"]);
        }
        v
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    /// The address of the current page.
    pub async fn url(&self) -> String {
        let v = self.command(reqwest::Method::GET, "/url", None).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// The first element matching `css`, waiting a few seconds for it; `None` if none came.
    pub async fn try_find(&self, css: &str) -> Option<Element> {
        let v = self
            .command(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT].as_str().map(|id| Element(id.to_owned()))
    }

    pub async fn find(&self, css: &str) -> Element {
        match self.try_find(css).await {
            Some(e) => e,
            None => panic!(
                "no {css} on {}:\n{}",
                self.url().await,
                self.text("body").await
            ),
        }
    }

    /// The first link whose text contains `text`.
    pub async fn link(&self, text: &str) -> Element {
        let v = self
            .command(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "partial link text", "value": text})),
            )
            .await;
        match v[ELEMENT].as_str() {
            Some(id) => Element(id.to_owned()),
            None => panic!(
                "no link {text:?} on {}:\n{}",
                self.url().await,
                self.text("body").await
            ),
        }
    }

    pub async fn click(&self, e: &Element) {
        self.post(&format!("/element/{}/click", e.0), json!({}))
            .await;
    }

    /// Clicks the first element matching `css`.
    pub async fn click_on(&self, css: &str) {
        let e = self.find(css).await;
        self.click(&e).await;
    }

    /// Replaces what the field matching `css` holds with `text`, as typed.
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.post(&format!("/element/{}/clear", e.0), json!({}))
            .await;
        self.post(&format!("/element/{}/value", e.0), json!({"text": text}))
            .await;
    }

    /// What the first element matching `css` shows, as the shopper reads it ("" if none).
    pub async fn text(&self, css: &str) -> String {
        let script = "const e = document.querySelector(arguments[0]); return e ? e.innerText : ''";
        let v = self.run(script, json!([css])).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Clicks `e`, which leads to another page, and waits until that page has loaded.
    pub async fn press(&self, e: &Element) {
        self.run("window.__kazna_left = false; return true", json!([]))
            .await;
        self.click(e).await;
        let script =
            "return window.__kazna_left === undefined && document.readyState === 'complete'";
        let arrived = crate::eventually(20, || async {
            (self.run(script, json!([])).await == true).then_some(())
        })
        .await;
        assert!(arrived.is_some(), "no new page after the click");
    }

    /// [`Self::press`] on the first element matching `css`.
    pub async fn press_on(&self, css: &str) {
        let e = self.find(css).await;
        self.press(&e).await;
    }

    /// Runs `script` in the page with `args`; what it returns.
    pub async fn run(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// Runs `script`, which ends by calling its last argument with the result.
    pub async fn run_async(&self, script: &str, args: Value) -> Value {
        self.post("/execute/async", json!({"script": script, "args": args}))
            .await
    }

    /// Reloads the page until `css` is on it, for at most `secs` seconds.
    pub async fn reload_until(&self, css: &str, secs: u64) -> bool {
        let script = "return document.querySelector(arguments[0]) !== null";
        // The page may be refreshing itself meanwhile: an answer about a page that went is
        // no answer.
        crate::eventually(secs, || async {
            let found = self
                .command(
                    reqwest::Method::POST,
                    "/execute/sync",
                    Some(json!({"script": script, "args": [css]})),
                )
                .await;
            if found == true {
                return Some(());
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            self.command(reqwest::Method::POST, "/refresh", Some(json!({})))
                .await;
            None
        })
        .await
        .is_some()
    }

    /// A PNG of the viewport, written to `path`.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let v = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("a screenshot"))
            .expect("base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("screenshot written");
    }

    /// Resizes the window to `width`×`height`.
    pub async fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height}))
            .await;
    }

    /// Forgets every cookie: a new visitor on the same browser.
    pub async fn forget_cookies(&self) {
        self.command(reqwest::Method::DELETE, "/cookie", None).await;
    }

    /// Ends the session and chromedriver.
    pub async fn quit(mut self) {
        self.command(reqwest::Method::DELETE, "", None).await;
        let _ = self.driver.kill().await;
    }
}

/// Accessibility: axe-core (from npm, installed by `scripts/test-tools.sh`), run in the page.
impl Browser {
    /// The serious and critical violations axe finds on the current page, one line each.
    pub async fn accessibility_problems(&self) -> Vec<String> {
        let path = std::env::var("KAZNA_TEST_AXE").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../target/test-node/node_modules/axe-core/axe.min.js"
            )
            .to_owned()
        });
        let axe = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("axe-core at {path} (scripts/test-tools.sh): {e}"));
        self.run(&format!("{axe}\nreturn true;"), json!([])).await;
        let found = self
            .run_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']})
                   .then(r => done(r.violations
                       .filter(v => v.impact === 'serious' || v.impact === 'critical')
                       .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at ' +
                            v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))))
                   .catch(e => done(['axe failed: ' + e]));",
                json!([]),
            )
            .await;
        found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    /// Whether the page fits the window's width, with nothing to scroll sideways.
    pub async fn fits_the_width(&self) -> bool {
        self.run(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            json!([]),
        )
        .await
            == true
    }
}

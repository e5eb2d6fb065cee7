//! The E2E harness: starts tauri-driver (which starts WebKitWebDriver, which starts the app),
//! opens a WebDriver session on the real window, and offers waits and screenshots that the
//! suites share.
//!
//! Run the suites under a display and a D-Bus session, in that order (`scripts/test.sh` does):
//! `xvfb-run -a -s "-screen 0 1280x1024x24" dbus-run-session -- cargo test --workspace
//! --features preamble-app/custom-protocol --test smoke`. Each launch gets a fresh data folder in which only the default
//! model is linked from the real one, and writes its screenshots to
//! `target/e2e/<suite>/<name>.png`.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use preamble::data_dir::{self, DataDir};

/// Longest wait for any one WebDriver request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The variable with which a debug build of the app answers its file dialogs from a file
/// (`src-tauri/src/chosen.rs`): WebDriver cannot click through the desktop's native dialog.
const DIALOG_ANSWERS_VAR: &str = "PREAMBLE_DIALOG_ANSWERS";
/// That file, in the data folder.
const DIALOG_ANSWERS: &str = "dialog-answers.txt";
/// Longest wait for something to appear in the window.
pub const WAIT: Duration = Duration::from_secs(20);

/// The workspace's root folder.
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::canonicalize(&root).unwrap_or(root)
}

/// Cargo's target folder.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The app binary under test: `$PREAMBLE_APP`, else the debug build in the target folder.
pub fn app_binary() -> PathBuf {
    std::env::var_os("PREAMBLE_APP")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug/preamble-app"))
}

/// A sample constitution shipped in `constitutions/`.
pub fn sample_constitution(file_name: &str) -> PathBuf {
    workspace_root().join("constitutions").join(file_name)
}

/// How long a launch waits for the drivers to listen and the WebDriver session to open.
const SESSION_PATIENCE: Duration = Duration::from_secs(60);

/// Runs `request` with [`REQUEST_TIMEOUT`]; `what` names it in errors.
pub async fn timed<T, E>(what: &str, request: impl Future<Output = Result<T, E>>) -> Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    tokio::time::timeout(REQUEST_TIMEOUT, request)
        .await
        .with_context(|| format!("{what}: no answer within {REQUEST_TIMEOUT:?}"))?
        .with_context(|| what.to_owned())
}

/// The app's window, driven over WebDriver. Dropping it ends the session's processes.
pub struct App {
    client: Client,
    driver: Child,
    artifacts: PathBuf,
    data: tempfile::TempDir,
}

impl App {
    /// Starts the app with `args` for the suite `suite` (names its artifact folder).
    pub async fn launch(suite: &str, args: &[&Path]) -> Result<Self> {
        Self::launch_with(suite, args, |_| Ok(())).await
    }

    /// Like [`App::launch`], after `prepare` has filled the fresh data folder (e.g. the store).
    pub async fn launch_with(
        suite: &str,
        args: &[&Path],
        prepare: impl FnOnce(&DataDir) -> Result<()>,
    ) -> Result<Self> {
        if std::env::var_os("DISPLAY").is_none() {
            bail!("no DISPLAY: run the E2E suites under xvfb-run (scripts/test.sh does)");
        }
        let app = app_binary();
        if !app.is_file() {
            bail!(
                "{} is missing: build it with `cargo build -p preamble-app --features custom-protocol`",
                app.display()
            );
        }
        let data = fresh_data_dir()?;
        prepare(&DataDir::at(data.path()))?;
        Self::start(suite, args, data).await
    }

    async fn start(suite: &str, args: &[&Path], data: tempfile::TempDir) -> Result<Self> {
        let app = app_binary();
        let artifacts = target_dir().join("e2e").join(suite);
        std::fs::create_dir_all(&artifacts)
            .with_context(|| format!("cannot create {}", artifacts.display()))?;
        let driver_log = std::fs::File::create(artifacts.join("tauri-driver.log"))?;
        let (port, native_port) = (free_port()?, free_port()?);
        let tauri_driver =
            std::env::var_os("TAURI_DRIVER").unwrap_or_else(|| "tauri-driver".into());
        let mut driver = Command::new(&tauri_driver)
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
            .env(data_dir::ENV_VAR, data.path())
            .env(DIALOG_ANSWERS_VAR, data.path().join(DIALOG_ANSWERS))
            .stdout(Stdio::from(driver_log.try_clone()?))
            .stderr(Stdio::from(driver_log))
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start {:?}: install it with `cargo install tauri-driver --version 2.1.0 --locked`",
                    tauri_driver
                )
            })?;
        // On a cold machine (first start after a long build, on 2 busy cores) the drivers take
        // their time: wait for both ports, then retry the session with backoff.
        if let Err(error) = wait_for_port(port, SESSION_PATIENCE) {
            let _ = driver.kill();
            return Err(error.context("tauri-driver did not start"));
        }
        if let Err(error) = wait_for_port(native_port, SESSION_PATIENCE) {
            let _ = driver.kill();
            return Err(error.context("WebKitWebDriver (started by tauri-driver) did not start"));
        }
        let args: Vec<String> = args.iter().map(|a| a.display().to_string()).collect();
        let capabilities = serde_json::json!({
            "tauri:options": { "application": app, "args": args }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("the capabilities literal is an object")
        };
        let url = format!("http://127.0.0.1:{port}");
        let mut builder = ClientBuilder::native();
        builder.capabilities(capabilities);
        let started = Instant::now();
        let mut delay = Duration::from_millis(500);
        let client = loop {
            let attempt = timed("opening a WebDriver session", builder.connect(&url)).await;
            match attempt {
                Ok(client) => break client,
                Err(error) if started.elapsed() + delay < SESSION_PATIENCE => {
                    eprintln!(
                        "{suite}: no WebDriver session yet after {:.1} s ({error:#}); \
                         trying again in {delay:?}",
                        started.elapsed().as_secs_f64()
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(8));
                }
                Err(error) => {
                    let _ = driver.kill();
                    return Err(error.context(format!(
                        "no WebDriver session within {SESSION_PATIENCE:?} of the drivers starting"
                    )));
                }
            }
        };
        Ok(Self {
            client,
            driver,
            artifacts,
            data,
        })
    }

    /// Starts the app with `constitution` (imported and opened in the editor) for the suite
    /// `suite`, and waits for the editor to show it.
    pub async fn launch_editing(suite: &str, constitution: &Path) -> Result<Self> {
        let app = Self::launch(suite, &[constitution]).await?;
        app.wait_for_text("[data-testid=editor-title]", |t| !t.is_empty())
            .await?;
        Ok(app)
    }

    /// Opens the Preview view and waits for its settings to load (its Run button enabled).
    pub async fn open_preview(&self) -> Result<()> {
        self.click("[data-testid=tab-preview]").await?;
        self.wait_until(
            "the preview's settings load",
            "const b = document.querySelector('[data-testid=preview-run]'); return !!b && !b.disabled;",
        )
        .await
    }

    /// The WebDriver client, for what the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Makes the app's next file dialogs answer `path`, as if the user had picked it (`None`:
    /// as if they cancelled).
    pub fn answer_dialogs_with(&self, path: Option<&Path>) -> Result<()> {
        let answer = path.map(|p| p.display().to_string()).unwrap_or_default();
        let file = self.data.path().join(DIALOG_ANSWERS);
        std::fs::write(&file, answer).with_context(|| format!("cannot write {}", file.display()))
    }

    /// The app's data folder for this launch.
    pub fn data_dir(&self) -> DataDir {
        DataDir::at(self.data.path())
    }

    /// Waits until the element matching `css` exists and `accept` takes its text; returns the
    /// text (whitespace collapsed).
    pub async fn wait_for_text(&self, css: &str, accept: impl Fn(&str) -> bool) -> Result<String> {
        let deadline = Instant::now() + WAIT;
        let mut last = None;
        while Instant::now() < deadline {
            // The element can be replaced between finding it and reading it (the UI re-renders):
            // a stale element is retried like a missing one.
            if let Ok(element) =
                timed("finding an element", self.client.find(Locator::Css(css))).await
                && let Ok(text) = timed("reading text", element.text()).await
            {
                let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                if accept(&text) {
                    return Ok(text);
                }
                last = Some(text);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("`{css}` did not show the expected text within {WAIT:?}; last seen: {last:?}")
    }

    /// Waits until the first element matching `css` has exactly `expected` as its text content
    /// (trimmed). Unlike [`App::wait_for_text`], this reads the DOM, not what WebKitWebDriver
    /// reports as rendered text (empty for the draggable principle cards).
    pub async fn wait_for_content(&self, css: &str, expected: &str) -> Result<()> {
        let script = format!(
            "const e = document.querySelector({}); return e !== null && e.textContent.trim() === {};",
            serde_json::json!(css),
            serde_json::json!(expected)
        );
        self.wait_until(&format!("`{css}` shows {expected:?}"), &script)
            .await
    }

    /// Creates a constitution named `name` from the library and waits for the editor to open it.
    pub async fn create_constitution(&self, name: &str) -> Result<()> {
        self.fill("[data-testid=new-name]", name).await?;
        self.click("[data-testid=create]").await?;
        self.wait_for_text("[data-testid=editor-title]", |t| t == name)
            .await
            .map(drop)
    }

    /// The path of the artifact `name` in this suite's artifact folder.
    pub fn artifact(&self, name: &str) -> PathBuf {
        self.artifacts.join(name)
    }

    /// The first element matching `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Result<fantoccini::elements::Element> {
        let deadline = Instant::now() + WAIT;
        loop {
            match timed("finding an element", self.client.find(Locator::Css(css))).await {
                Ok(element) => return Ok(element),
                Err(error) if Instant::now() >= deadline => {
                    return Err(error.context(format!("`{css}` did not appear within {WAIT:?}")));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) -> Result<()> {
        let element = self.find(css).await?;
        timed(&format!("clicking `{css}`"), element.click()).await
    }

    /// Replaces the text of the field matching `css` by typing `text` into it.
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        let element = self.find(css).await?;
        timed(&format!("clearing `{css}`"), element.clear()).await?;
        timed(&format!("typing into `{css}`"), element.send_keys(text)).await
    }

    /// Sends keys (e.g. with [`fantoccini::key::Key`] modifiers) to the element matching `css`.
    pub async fn keys(&self, css: &str, keys: &str) -> Result<()> {
        let element = self.find(css).await?;
        timed(&format!("sending keys to `{css}`"), element.send_keys(keys)).await
    }

    /// Runs `script` in the window and returns its value.
    pub async fn eval(&self, script: &str) -> Result<serde_json::Value> {
        timed("running a script", self.client.execute(script, vec![])).await
    }

    /// Waits until `script` returns `true`.
    pub async fn wait_until(&self, what: &str, script: &str) -> Result<()> {
        self.wait_until_within(what, script, WAIT).await
    }

    /// Waits up to `patience` until `script` returns `true` (for work on the real model).
    pub async fn wait_until_within(
        &self,
        what: &str,
        script: &str,
        patience: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Ok(serde_json::Value::Bool(true)) = self.eval(script).await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("{what}: not within {patience:?}")
    }

    /// Saves a PNG of the window as `<artifacts>/<name>.png` once the last DOM change has been
    /// painted (two animation frames), and returns its path.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        let painted = self.client.execute_async(
            "const done = arguments[arguments.length - 1];
             requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
            vec![],
        );
        timed("waiting for a paint", painted).await?;
        let png = timed("taking a screenshot", self.client.screenshot()).await?;
        let path = self.artifacts.join(format!("{name}.png"));
        std::fs::write(&path, png).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    /// Ends this launch and starts the app again on the same data folder, as a user reopening
    /// it would.
    pub async fn relaunch(self, suite: &str, args: &[&Path]) -> Result<Self> {
        let client = self.client.clone();
        timed("closing the session", client.close()).await?;
        let data = self.into_data();
        Self::start(suite, args, data).await
    }

    fn into_data(mut self) -> tempfile::TempDir {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let placeholder = tempfile::Builder::new()
            .prefix("preamble-e2e-done-")
            .tempdir()
            .expect("a temporary folder");
        std::mem::replace(&mut self.data, placeholder)
    }

    /// Ends the WebDriver session, which closes the app.
    pub async fn close(mut self) -> Result<()> {
        let client = self.client.clone();
        let result = timed("closing the session", client.close()).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        result
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A temporary data folder holding a link to the real default model, when there is one.
fn fresh_data_dir() -> Result<tempfile::TempDir> {
    let data = tempfile::Builder::new().prefix("preamble-e2e-").tempdir()?;
    let model = preamble::default_model::path(&DataDir::resolve()?);
    if model.is_file() {
        let models = DataDir::at(data.path()).models();
        std::fs::create_dir_all(&models)?;
        std::os::unix::fs::symlink(&model, models.join(model.file_name().unwrap_or_default()))?;
    }
    Ok(data)
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn wait_for_port(port: u16, timeout: Duration) -> Result<()> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("nothing listens on port {port} after {timeout:?}")
}

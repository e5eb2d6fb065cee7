//! The model in a worker process: llama.cpp runs in a child of the CLI or the app, so that an
//! abort inside it (a failed `GGML_ASSERT`), a segfault or the OOM killer ends that process and
//! fails only the run it was doing, never the editor or the store.
//!
//! **Protocol.** Line-delimited JSON on the child's stdin and stdout ([`ToWorker`],
//! [`FromWorker`]). The worker loads the model and writes one `ready` line with the model's
//! [`ModelInfo`] (the backend and device that really run it), or one `load_failed` line and
//! exits. Then it takes `run` lines, one [`Job`] each, answers with `event` lines while a job
//! runs and one `finished` or `failed` line when it ends; a `cancel` line stops a job after its
//! current decode step. It exits when its stdin closes. The worker never opens the store: the
//! parent records what the events say.
//!
//! **Parent side.** [`Worker`] is one child process; [`WarmWorker`] starts one on first use,
//! keeps it for the next job and starts a fresh one after a death. A worker that dies mid-job
//! answers that job with [`WorkerError::Died`], naming the exit status or signal.
//!
//! **Test fault switch.** `PREAMBLE_WORKER_FAULT=abort-after-steps:N` makes the worker call
//! `abort()` after it has reported N steps: how the tests prove that a real abort inside the
//! model's process costs only the run.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bench::{self, BenchConfig, BenchReport};
use crate::constitution::Constitution;
use crate::engine::{BatchOptions, BatchStats, CancelToken, Engine, EngineError, LoadOptions};
use crate::engine::{GenerateParams, Generation, Message, Model, ModelInfo};
use crate::feedback::{self, FeedbackMode, FeedbackRule, Pair, Preference};
use crate::preview::{self, PreviewEvent, PreviewJob, PrincipleChoice, Principles};
use crate::prompt_set::PromptItem;

/// The environment variable of the test fault switch.
pub const FAULT_VARIABLE: &str = "PREAMBLE_WORKER_FAULT";

/// Work a worker does.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// A preview (or the rest of an interrupted one); events are [`PreviewEvent`]s.
    Preview(PreviewJob),
    /// Preference labels for pairs of responses.
    Judge(JudgeJob),
    /// The throughput benchmark.
    Bench(BenchJob),
    /// One chat completion, streamed as [`PreviewEvent::Pieces`] of prompt 0, step 0.
    Generate(GenerateJob),
}

/// `preamble generate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenerateJob {
    pub messages: Vec<Message>,
    pub params: GenerateParams,
}

/// `preamble judge`: label every pair under the constitution's comparison questions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JudgeJob {
    pub constitution: Constitution,
    pub pairs: Vec<Pair>,
    pub choice: PrincipleChoice,
    pub mode: FeedbackMode,
    #[serde(default)]
    pub rule: FeedbackRule,
    pub seed: u64,
    pub parallel: usize,
}

/// `preamble bench`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchJob {
    pub constitution: Constitution,
    pub prompts: Vec<PromptItem>,
    pub config: BenchConfig,
}

/// What a job gave back.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobResult {
    Preview {
        stats: BatchStats,
    },
    Judge {
        labels: Vec<Result<Preference, String>>,
    },
    Bench {
        report: Box<BenchReport>,
    },
    Generate {
        generation: Generation,
    },
}

/// A line to the worker.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    Run { job: u64, work: Box<Job> },
    Cancel { job: u64 },
}

/// A line from the worker.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    Ready {
        info: Box<ModelInfo>,
    },
    LoadFailed {
        message: String,
    },
    Event {
        job: u64,
        event: Box<PreviewEvent>,
    },
    Finished {
        job: u64,
        result: Box<JobResult>,
    },
    Failed {
        job: u64,
        cancelled: bool,
        message: String,
    },
}

/// How a worker process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessEnd {
    Exited(i32),
    Signal(i32),
    Unknown,
}

impl ProcessEnd {
    fn of(status: ExitStatus) -> Self {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            if let Some(signal) = status.signal() {
                return Self::Signal(signal);
            }
        }
        status.code().map_or(Self::Unknown, Self::Exited)
    }
}

impl std::fmt::Display for ProcessEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exited(code) => write!(f, "exit status {code}"),
            Self::Signal(signal) => match signal_name(*signal) {
                Some(name) => write!(f, "signal {signal}, {name}"),
                None => write!(f, "signal {signal}"),
            },
            Self::Unknown => write!(f, "an unknown status"),
        }
    }
}

fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return None,
    })
}

/// Errors of the worker process, as its parent sees them.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The model file is missing or is no GGUF file (checked before a process starts).
    #[error(transparent)]
    Model(EngineError),
    #[error("cannot start the model process {program}: {source}")]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    /// The model could not be loaded; the worker's own message (it names the file).
    #[error("{0}")]
    LoadFailed(String),
    /// The job failed inside the worker; its message.
    #[error("{0}")]
    Job(String),
    #[error("the job was cancelled")]
    Cancelled,
    #[error("the model process ended ({0})")]
    Died(ProcessEnd),
    #[error("the model process broke the protocol: {0}")]
    Protocol(String),
}

/// How to start a worker: a program and its arguments before the worker's own (`--model ...`).
/// The CLI runs itself as `preamble worker`; the app runs its own binary with `--worker`.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl WorkerCommand {
    /// The running program itself with `args` (`["worker"]` for the CLI).
    pub fn current_exe(args: &[&str]) -> Result<Self, WorkerError> {
        let program = std::env::current_exe().map_err(|source| WorkerError::Spawn {
            program: PathBuf::from("(the running program)"),
            source,
        })?;
        Ok(Self {
            program,
            args: args.iter().map(OsString::from).collect(),
        })
    }
}

/// What the reader thread hands the parent.
enum Incoming {
    Message(FromWorker),
    /// The worker's stdout closed: it ended (or is ending).
    Closed,
}

/// One worker process with the model loaded.
pub struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: mpsc::Receiver<Incoming>,
    info: ModelInfo,
    next_job: u64,
    ended: Option<ProcessEnd>,
}

impl Worker {
    /// Starts a worker for the model at `model` and waits for its ready line.
    pub fn start(
        command: &WorkerCommand,
        model: &Path,
        options: &LoadOptions,
    ) -> Result<Self, WorkerError> {
        let hint = options
            .fetch_hint
            .as_ref()
            .map(|hint| format!("; {hint}"))
            .unwrap_or_default();
        crate::engine::check_gguf_magic(model, &hint).map_err(WorkerError::Model)?;
        let mut process = Command::new(&command.program);
        process.args(&command.args).arg("--model").arg(model);
        if let Some(layers) = options.gpu_layers {
            process.arg("--gpu-layers").arg(layers.to_string());
        }
        if let Some(hint) = &options.fetch_hint {
            process.arg("--fetch-hint").arg(hint);
        }
        let mut child = process
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| WorkerError::Spawn {
                program: command.program.clone(),
                source,
            })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, incoming) = mpsc::channel();
        std::thread::Builder::new()
            .name("preamble-worker-reader".to_owned())
            .spawn(move || read_lines(stdout, &sender))
            .map_err(|source| WorkerError::Spawn {
                program: command.program.clone(),
                source,
            })?;
        let stdin = child.stdin.take();
        let mut worker = Self {
            child,
            stdin,
            incoming,
            info: placeholder_info(model),
            next_job: 1,
            ended: None,
        };
        match worker.incoming.recv() {
            Ok(Incoming::Message(FromWorker::Ready { info })) => {
                worker.info = *info;
                tracing::info!(model = %worker.info.name, device = %worker.info.device,
                    pid = worker.child.id(), "model process ready");
                Ok(worker)
            }
            Ok(Incoming::Message(FromWorker::LoadFailed { message })) => {
                worker.reap();
                Err(WorkerError::LoadFailed(message))
            }
            Ok(Incoming::Message(other)) => Err(WorkerError::Protocol(format!(
                "expected the ready line, got {other:?}"
            ))),
            Ok(Incoming::Closed) | Err(_) => Err(WorkerError::Died(worker.reap())),
        }
    }

    /// The loaded model, as the worker described it.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has ended (a job saw it die).
    pub fn has_ended(&self) -> bool {
        self.ended.is_some()
    }

    /// Runs `job`, handing each event to `on_event`, until it ends. `cancel` is polled while
    /// the job runs and sent on once.
    pub fn run(
        &mut self,
        job: Job,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(PreviewEvent),
    ) -> Result<JobResult, WorkerError> {
        if let Some(end) = self.ended {
            return Err(WorkerError::Died(end));
        }
        let id = self.next_job;
        self.next_job += 1;
        self.send(&ToWorker::Run {
            job: id,
            work: Box::new(job),
        })?;
        let mut cancel_sent = false;
        loop {
            if cancel.is_cancelled() && !cancel_sent {
                cancel_sent = true;
                // A worker that died meanwhile is noticed when its stdout closes.
                let _ = self.send(&ToWorker::Cancel { job: id });
            }
            let message = match self.incoming.recv_timeout(Duration::from_millis(50)) {
                Ok(Incoming::Message(message)) => message,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Ok(Incoming::Closed) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(WorkerError::Died(self.reap()));
                }
            };
            match message {
                FromWorker::Event { job, event } if job == id => on_event(*event),
                FromWorker::Finished { job, result } if job == id => return Ok(*result),
                FromWorker::Failed {
                    job,
                    cancelled,
                    message,
                } if job == id => {
                    return Err(if cancelled {
                        WorkerError::Cancelled
                    } else {
                        WorkerError::Job(message)
                    });
                }
                other => tracing::warn!(?other, "model process: a line for another job"),
            }
        }
    }

    fn send(&mut self, message: &ToWorker) -> Result<(), WorkerError> {
        let line = serde_json::to_string(message)
            .map_err(|error| WorkerError::Protocol(error.to_string()))?;
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(WorkerError::Died(self.reap()));
        };
        if writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .is_err()
        {
            return Err(WorkerError::Died(self.reap()));
        }
        Ok(())
    }

    /// Waits for the process to end (its stdout has closed) and remembers how it did.
    fn reap(&mut self) -> ProcessEnd {
        if let Some(end) = self.ended {
            return end;
        }
        self.stdin.take();
        let end = self
            .child
            .wait()
            .map_or(ProcessEnd::Unknown, ProcessEnd::of);
        tracing::warn!(%end, "model process ended");
        self.ended = Some(end);
        end
    }
}

impl Drop for Worker {
    /// Closing stdin asks the worker to exit; it is waited for (no zombie stays), and killed
    /// when it has not gone within [`EXIT_GRACE`].
    fn drop(&mut self) {
        self.stdin.take();
        if self.ended.is_some() {
            return;
        }
        let deadline = std::time::Instant::now() + EXIT_GRACE;
        while std::time::Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::warn!(
            pid = self.child.id(),
            "model process did not exit; killing it"
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long a worker whose stdin closed may take to exit.
const EXIT_GRACE: Duration = Duration::from_secs(3);

fn placeholder_info(model: &Path) -> ModelInfo {
    ModelInfo {
        path: model.to_owned(),
        name: String::new(),
        architecture: String::new(),
        parameters: 0,
        size_bytes: 0,
        quantization: String::new(),
        context_length: 0,
        chat_template: None,
        device: String::new(),
        gpu_layers: 0,
    }
}

fn read_lines(stdout: std::process::ChildStdout, sender: &mpsc::Sender<Incoming>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<FromWorker>(&line) {
            Ok(message) => {
                if sender.send(Incoming::Message(message)).is_err() {
                    return;
                }
            }
            Err(error) => tracing::warn!(%error, line, "model process: unreadable line"),
        }
    }
    let _ = sender.send(Incoming::Closed);
}

/// A worker started on first use and kept warm; after a death the next job starts a fresh one.
pub struct WarmWorker {
    command: WorkerCommand,
    model: PathBuf,
    options: LoadOptions,
    worker: Option<Worker>,
    sha256: Option<String>,
}

impl WarmWorker {
    pub fn new(command: WorkerCommand, model: PathBuf, options: LoadOptions) -> Self {
        Self {
            command,
            model,
            options,
            worker: None,
            sha256: None,
        }
    }

    /// A worker for `model`, or for the default model in the data folder when that is `None`
    /// (whose errors then say how to fetch it): the one rule the CLI and the app share.
    pub fn for_model(
        command: WorkerCommand,
        model: Option<PathBuf>,
        gpu_layers: Option<u32>,
    ) -> Result<Self, crate::data_dir::NoDataDir> {
        let (model, fetch_hint) = match model {
            Some(path) => (path, None),
            None => (
                crate::default_model::path(&crate::data_dir::DataDir::resolve()?),
                Some(crate::default_model::FETCH_HINT.to_owned()),
            ),
        };
        let options = LoadOptions {
            gpu_layers,
            fetch_hint,
        };
        Ok(Self::new(command, model, options))
    }

    /// The model file this worker loads.
    pub fn model_path(&self) -> &Path {
        &self.model
    }

    /// The sha256 of the model file (read once), which runs record.
    pub fn model_sha256(&mut self) -> std::io::Result<String> {
        if let Some(sha256) = &self.sha256 {
            return Ok(sha256.clone());
        }
        let sha256 = crate::default_model::sha256_file(&self.model)?;
        self.sha256 = Some(sha256.clone());
        Ok(sha256)
    }

    /// The running worker, started when there is none or the last one died.
    pub fn get(&mut self) -> Result<&mut Worker, WorkerError> {
        if self.worker.as_ref().is_none_or(Worker::has_ended) {
            self.worker = None;
            self.worker = Some(Worker::start(&self.command, &self.model, &self.options)?);
        }
        Ok(self.worker.as_mut().expect("started above"))
    }

    /// The model's description when a worker is running.
    pub fn info(&self) -> Option<&ModelInfo> {
        self.worker
            .as_ref()
            .filter(|worker| !worker.has_ended())
            .map(Worker::info)
    }
}

// ---- The worker's side ----

/// The worker's entry point, for the program that is its parent too (`preamble worker ...`,
/// `preamble-app --worker ...`): parses the arguments [`Worker::start`] passes
/// (`--model PATH [--gpu-layers N] [--fetch-hint TEXT]`) and [`serve`]s.
pub fn serve_args(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let mut model = None;
    let mut options = LoadOptions::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let value = args.next();
        match (arg.to_str(), value) {
            (Some("--model"), Some(path)) => model = Some(PathBuf::from(path)),
            (Some("--gpu-layers"), Some(n)) => match n.to_str().and_then(|n| n.parse().ok()) {
                Some(layers) => options.gpu_layers = Some(layers),
                None => return usage(&format!("--gpu-layers takes a number, not {n:?}")),
            },
            (Some("--fetch-hint"), Some(hint)) => {
                options.fetch_hint = Some(hint.to_string_lossy().into_owned());
            }
            _ => return usage(&format!("unexpected argument {arg:?}")),
        }
    }
    match model {
        Some(model) => serve(&model, &options),
        None => usage("--model PATH is required"),
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "error: {problem}\nthe worker process is started by Preamble itself: \
         --model PATH [--gpu-layers N] [--fetch-hint TEXT]"
    );
    ExitCode::from(2)
}

/// The worker's main loop: loads the model at `model`, says it is ready, runs jobs until stdin
/// closes. Everything it writes to stdout is protocol; its logs go to stderr.
pub fn serve(model: &Path, options: &LoadOptions) -> ExitCode {
    // Ctrl-C in a terminal reaches the whole process group: the parent decides what it means
    // (cancel after the current step), so the worker does not die of it.
    if let Err(error) = ctrlc::set_handler(|| {}) {
        tracing::warn!(%error, "worker: Ctrl-C is not ignored");
    }
    let (lines, outgoing) = mpsc::channel::<FromWorker>();
    let writer = std::thread::spawn(move || {
        let mut stdout = std::io::stdout().lock();
        for message in outgoing {
            let written = serde_json::to_string(&message)
                .map_err(std::io::Error::other)
                .and_then(|line| writeln!(stdout, "{line}"))
                .and_then(|()| stdout.flush());
            if written.is_err() {
                // The parent is gone; nothing is left to do.
                end_now();
            }
        }
    });
    let engine = match Engine::start(model, options) {
        Ok(engine) => engine,
        Err(error) => {
            let _ = lines.send(FromWorker::LoadFailed {
                message: error.to_string(),
            });
            drop(lines);
            let _ = writer.join();
            return ExitCode::FAILURE;
        }
    };
    let _ = lines.send(FromWorker::Ready {
        info: Box::new(engine.info().clone()),
    });
    let fault = Fault::from_env();
    let cancels: Arc<Mutex<HashMap<u64, CancelToken>>> = Arc::default();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<ToWorker>(&line) {
            Ok(ToWorker::Run { job, work }) => {
                let cancel = CancelToken::new();
                lock(&cancels).insert(job, cancel.clone());
                start_job(&engine, job, *work, cancel, &lines, fault, &cancels);
            }
            Ok(ToWorker::Cancel { job }) => {
                if let Some(cancel) = lock(&cancels).get(&job) {
                    cancel.cancel();
                }
            }
            Err(error) => tracing::warn!(%error, line, "worker: unreadable line"),
        }
    }
    // The parent closed our stdin: stop at once; it records nothing more from us. The engine
    // thread may be inside llama.cpp: end the process without running exit handlers (which
    // would tear down the backend under it).
    for cancel in lock(&cancels).values() {
        cancel.cancel();
    }
    end_now()
}

/// Ends the worker process at once, without exit handlers or destructors.
fn end_now() -> ! {
    #[cfg(unix)]
    // SAFETY: `_exit` only ends the process; nothing runs after it.
    unsafe {
        libc::_exit(0)
    }
    #[cfg(not(unix))]
    std::process::exit(0)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The test fault switch (see the module docs).
#[derive(Debug, Clone, Copy)]
enum Fault {
    None,
    AbortAfterSteps(usize),
}

impl Fault {
    fn from_env() -> Self {
        let Ok(value) = std::env::var(FAULT_VARIABLE) else {
            return Self::None;
        };
        match value.strip_prefix("abort-after-steps:").map(str::parse) {
            Some(Ok(steps)) => Self::AbortAfterSteps(steps),
            _ => {
                tracing::warn!(value, "{FAULT_VARIABLE}: not understood, ignored");
                Self::None
            }
        }
    }
}

/// Queues `work` on the engine: its events and result go out as lines.
fn start_job(
    engine: &Engine,
    job: u64,
    work: Job,
    cancel: CancelToken,
    lines: &mpsc::Sender<FromWorker>,
    fault: Fault,
    cancels: &Arc<Mutex<HashMap<u64, CancelToken>>>,
) {
    let (events, incoming) = mpsc::channel::<PreviewEvent>();
    let handle = {
        let cancel = cancel.clone();
        engine.submit(move |model| run_job(model, work, &events, &cancel))
    };
    let lines = lines.clone();
    let cancels = Arc::clone(cancels);
    // One thread per job forwards its events, then its result: the result line always comes
    // after the job's last event (the events end when the job drops its sender).
    std::thread::spawn(move || {
        let mut steps = 0;
        for event in incoming {
            let is_step = matches!(event, PreviewEvent::Step { .. });
            let _ = lines.send(FromWorker::Event {
                job,
                event: Box::new(event),
            });
            steps += usize::from(is_step);
            if let Fault::AbortAfterSteps(limit) = fault
                && is_step
                && steps >= limit
            {
                // Give the writer a moment to put the step on the wire, as a real crash
                // after a reported step would have.
                std::thread::sleep(Duration::from_millis(100));
                std::process::abort();
            }
        }
        let message = match handle.wait() {
            Ok(result) => FromWorker::Finished {
                job,
                result: Box::new(result),
            },
            Err(error) => FromWorker::Failed {
                job,
                cancelled: matches!(error, EngineError::Cancelled),
                message: error.to_string(),
            },
        };
        lock(&cancels).remove(&job);
        let _ = lines.send(message);
    });
}

/// Runs one job on the model (on the engine thread).
pub fn run_job(
    model: &Model,
    work: Job,
    events: &mpsc::Sender<PreviewEvent>,
    cancel: &CancelToken,
) -> Result<JobResult, EngineError> {
    match work {
        Job::Preview(job) => {
            preview::run(model, &job, events, cancel).map(|stats| JobResult::Preview { stats })
        }
        Job::Judge(job) => judge(model, &job, cancel).map(|labels| JobResult::Judge { labels }),
        Job::Bench(job) => bench::run(model, &job.constitution, &job.prompts, &job.config, events)
            .map(|report| JobResult::Bench {
                report: Box::new(report),
            }),
        Job::Generate(job) => {
            let generation = model.generate(&job.messages, &job.params, |text| {
                let piece = preview::Piece {
                    prompt: 0,
                    step: 0,
                    text: text.to_owned(),
                };
                let event = PreviewEvent::Pieces {
                    pieces: vec![piece],
                };
                if events.send(event).is_err() || cancel.is_cancelled() {
                    return std::ops::ControlFlow::Break(());
                }
                std::ops::ControlFlow::Continue(())
            })?;
            Ok(JobResult::Generate { generation })
        }
    }
}

fn judge(
    model: &Model,
    job: &JudgeJob,
    cancel: &CancelToken,
) -> Result<Vec<Result<Preference, String>>, EngineError> {
    let principles = Principles::new(&job.constitution, &job.choice)
        .map_err(|error| EngineError::InvalidTurn(error.to_string()))?;
    // Pairs have no ids: each is keyed by its line.
    let judgement = |index: usize, pair: &Pair| {
        let (seed, key) = (job.seed, index as u64);
        principles.judgement(
            job.rule,
            job.mode,
            seed,
            key,
            &pair.prompt,
            &pair.a,
            &pair.b,
        )
    };
    let options = BatchOptions {
        parallel: job.parallel,
        ..BatchOptions::default()
    };
    feedback::judge_pairs(model, &job.pairs, judgement, &options, cancel)
}

//! The engine's owner thread: the one thread that holds the loaded model and runs jobs on it.
//!
//! [`Engine::start`] spawns the thread, which loads the model and then takes jobs, one at a
//! time, from a channel. A job is a closure over the [`Model`]; it reports back on the
//! [`JobHandle`] it was given (and on any channels of its own, for progress). Callers never
//! block on the model: the app's async side awaits handles from a blocking task, the CLI waits
//! on them directly. A job that panics fails alone (the panic is caught and reported as
//! [`EngineError::JobPanicked`]); the thread and the model stay up for the next job.
//!
//! An abort inside llama.cpp itself (a failed `GGML_ASSERT`) ends the process that holds the
//! engine: that is why the CLI and the app run it inside a worker process ([`crate::worker`]),
//! whose death costs only its run.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use super::{EngineError, LoadOptions, Model, ModelInfo};

type Job = Box<dyn FnOnce(&Model) + Send>;

/// A handle on the owner thread and the model it holds.
pub struct Engine {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    info: ModelInfo,
}

/// The pending result of a job.
pub struct JobHandle<T> {
    result: mpsc::Receiver<Result<T, EngineError>>,
}

impl<T> JobHandle<T> {
    /// Waits for the job to finish.
    pub fn wait(self) -> Result<T, EngineError> {
        self.result
            .recv()
            .unwrap_or(Err(EngineError::EngineStopped))
    }
}

impl Engine {
    /// Starts the owner thread and loads the model at `path` on it.
    pub fn start(path: &Path, options: &LoadOptions) -> Result<Self, EngineError> {
        let (jobs, incoming) = mpsc::channel::<Job>();
        let (loaded, load_result) = mpsc::channel();
        let path = path.to_owned();
        let options = options.clone();
        let thread = std::thread::Builder::new()
            .name("preamble-engine".to_owned())
            .spawn(move || {
                let model = match Model::load(&path, &options) {
                    Ok(model) => model,
                    Err(error) => {
                        let _ = loaded.send(Err(error));
                        return;
                    }
                };
                let _ = loaded.send(Ok(model.info().clone()));
                for job in incoming {
                    // The job reports its own result; a panic drops its sender, which its
                    // handle reads as `JobPanicked`.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&model)));
                }
            })
            .map_err(|error| {
                EngineError::Backend(format!("cannot start engine thread: {error}"))
            })?;
        let info = load_result
            .recv()
            .unwrap_or(Err(EngineError::EngineStopped))?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
            info,
        })
    }

    /// The loaded model.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Queues `work` to run on the model after the jobs before it.
    pub fn submit<T, F>(&self, work: F) -> JobHandle<T>
    where
        T: Send + 'static,
        F: FnOnce(&Model) -> Result<T, EngineError> + Send + 'static,
    {
        let (done, result) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |model| {
            let guard = PanicReport(Some(done));
            let outcome = work(model);
            guard.finish(outcome);
        });
        if let Some(jobs) = &self.jobs {
            // A send error means the thread is gone; the handle then reads `EngineStopped`.
            let _ = jobs.send(job);
        }
        JobHandle { result }
    }
}

/// Sends a job's result, or `JobPanicked` if the job unwinds before it has one.
struct PanicReport<T>(Option<mpsc::SyncSender<Result<T, EngineError>>>);

impl<T> PanicReport<T> {
    fn finish(mut self, outcome: Result<T, EngineError>) {
        if let Some(done) = self.0.take() {
            let _ = done.send(outcome);
        }
    }
}

impl<T> Drop for PanicReport<T> {
    fn drop(&mut self) {
        if let Some(done) = self.0.take() {
            let _ = done.send(Err(EngineError::JobPanicked));
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

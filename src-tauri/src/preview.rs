//! The Preview view's commands: a preview run started or resumed from the app, streamed to the
//! page as it happens, and cancelled on request. The run itself is the core's run service
//! ([`preamble::runs`]), as the CLI's `preview` uses it.
//!
//! Invariants: a run executes on a blocking thread with a store connection of its own, so the
//! editor's autosave never waits behind it (SQLite's WAL lets both write); the model's worker
//! process is the app's one [`preamble::worker::WarmWorker`], held for the run's length, so one
//! run executes at a time and a second is refused (`run_busy`), never queued behind a lock. The
//! engine reports text every decode step; the page gets it coalesced ([`Coalesced`]), at most one
//! message of pieces per [`PIECES_EVERY`], and never out of order with the other updates.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use preamble::engine::CancelToken;
use preamble::feedback::FeedbackMode;
use preamble::preview::{
    Piece, PreviewConfig, PreviewEvent, PreviewMode, PrincipleChoice, StepKind,
};
use preamble::prompt_set::{self, BundledSet, PromptItem, PromptLabel};
use preamble::refusal::{self, Classification};
use preamble::runs::{self, Progress, RunEvent, RunSpec};
use preamble::store::{RunStatus, Store};
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;

use crate::chosen::{ChosenFiles, Purpose};
use crate::commands::{AppState, lock};
use crate::error::{CommandError, ErrorCode};
use crate::runs::{OutcomeView, RunDetail, detail, outcome_view};

/// A prompt set the app offers.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct PromptSetInfo {
    /// Names the set in [`PromptSource::Bundled`].
    pub file: String,
    pub purpose: String,
    pub prompts: usize,
    pub benign: usize,
    pub harmful: usize,
}

/// Where a preview's prompts come from.
#[derive(Debug, Clone, Deserialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PromptSource {
    /// A set that ships with the app, by its file name.
    Bundled { file: String },
    /// A file (JSONL, CSV or text lines) the user chose with the open dialog.
    File { handle: String },
    /// A set kept in the store, by name.
    Stored { name: String },
}

/// A preview's settings as the page edits them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct PreviewSettings {
    /// Critique -> revision rounds, 1 to 4.
    pub rounds: u32,
    pub choice: PrincipleChoice,
    pub seed: u64,
    pub temperature: f32,
    /// Most tokens of each answer, critique and revision.
    pub max_tokens: u32,
    /// Prompts decoded together.
    pub parallel: u32,
    pub mode: PreviewMode,
    /// Label initial vs. final answers with an AI preference, in this mode.
    pub feedback: Option<FeedbackMode>,
    /// Only the set's first prompts; all of them when `None`.
    pub limit: Option<u32>,
}

impl PreviewSettings {
    /// The constitution's own preview defaults (what `preamble preview` runs without flags).
    fn defaults(config: &PreviewConfig) -> Self {
        Self {
            rounds: config.rounds,
            choice: config.choice.clone(),
            seed: config.seed,
            temperature: config.sampling.temperature,
            max_tokens: config.max_tokens,
            parallel: u32::try_from(config.parallel).unwrap_or(u32::MAX),
            mode: config.mode,
            feedback: config.feedback,
            limit: None,
        }
    }

    /// The run's configuration: these settings over `defaults`.
    pub fn config(&self, defaults: PreviewConfig) -> Result<PreviewConfig, CommandError> {
        let parallel = usize::try_from(self.parallel).unwrap_or(usize::MAX);
        if !(1..=preamble::preview::MAX_PARALLEL).contains(&parallel) {
            return Err(CommandError::new(
                ErrorCode::InvalidSettings,
                format!(
                    "parallel must be 1 to {}, not {parallel}",
                    preamble::preview::MAX_PARALLEL
                ),
            ));
        }
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(CommandError::new(
                ErrorCode::InvalidSettings,
                format!("temperature must be 0 or more, not {}", self.temperature),
            ));
        }
        if self.max_tokens == 0 {
            return Err(CommandError::new(
                ErrorCode::InvalidSettings,
                "max tokens must be at least 1",
            ));
        }
        Ok(PreviewConfig {
            rounds: self.rounds,
            choice: self.choice.clone(),
            seed: self.seed,
            max_tokens: self.max_tokens,
            sampling: preamble::engine::Sampling {
                temperature: self.temperature,
                ..defaults.sampling
            },
            feedback: self.feedback,
            mode: self.mode,
            parallel,
            ..defaults
        })
    }
}

/// What a run does, as the page hears of it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunUpdate {
    /// The model is ready and the run starts (or resumes): the run as stored so far.
    Started {
        detail: Box<RunDetail>,
        resumed: bool,
        model: String,
        device: String,
        progress: Progress,
    },
    /// A step of a prompt's loop starts generating.
    StepStarted {
        prompt: usize,
        step: u32,
        kind: StepKind,
        principle: Option<String>,
    },
    /// Text the generating steps produced since the last message, in order, per step.
    Pieces { pieces: Vec<Piece> },
    /// A step completed: its whole text, and the refusal label of an answer (not a critique).
    StepDone {
        prompt: usize,
        step: u32,
        text: String,
        refusal: Option<Classification>,
        progress: Progress,
    },
    /// A prompt finished, every answer labelled.
    PromptDone {
        prompt: usize,
        outcome: Box<OutcomeView>,
        progress: Progress,
    },
    /// A prompt failed alone (it outgrew its context, say).
    PromptFailed {
        prompt: usize,
        error: String,
        progress: Progress,
    },
    /// The execution ended.
    Finished {
        status: RunStatus,
        progress: Progress,
    },
}

/// The longest the page waits for text the engine produced.
pub const PIECES_EVERY: Duration = Duration::from_millis(30);

/// Turns the run service's events into the page's updates: pieces are merged per step and sent
/// at most every [`PIECES_EVERY`], and always before any other update, so the page sees them in
/// order. A page that draws once per frame then has a few messages per frame at most, however
/// many sequences decode.
struct Coalesced {
    prompts: Vec<PromptItem>,
    pending: Vec<Piece>,
    last_sent: Option<Instant>,
    /// Kept for the `Started` update (the run service's event does not carry it).
    detail: Option<RunDetail>,
}

impl Coalesced {
    fn new(detail: RunDetail, prompts: Vec<PromptItem>) -> Self {
        Self {
            prompts,
            pending: Vec::new(),
            last_sent: None,
            detail: Some(detail),
        }
    }

    /// The updates `event` makes at `now`, in order (often none: pieces wait).
    fn updates(&mut self, event: &RunEvent, now: Instant) -> Vec<RunUpdate> {
        let mut out = Vec::new();
        let update = match event {
            RunEvent::Started {
                resumed,
                model,
                device,
                progress,
                ..
            } => self.detail.take().map(|detail| RunUpdate::Started {
                detail: Box::new(detail),
                resumed: *resumed,
                model: model.clone(),
                device: device.clone(),
                progress: *progress,
            }),
            RunEvent::Preview { event, progress } => match &**event {
                PreviewEvent::Pieces { pieces } => {
                    for piece in pieces {
                        self.merge(piece);
                    }
                    let due = self
                        .last_sent
                        .is_none_or(|sent| now.duration_since(sent) >= PIECES_EVERY);
                    if due {
                        self.flush(&mut out, now);
                    }
                    None
                }
                PreviewEvent::StepStarted {
                    prompt,
                    step,
                    kind,
                    principle,
                } => Some(RunUpdate::StepStarted {
                    prompt: *prompt,
                    step: *step,
                    kind: *kind,
                    principle: principle.clone(),
                }),
                PreviewEvent::Step { record } => {
                    let text = record.text.trim().to_owned();
                    let refusal = (record.kind != StepKind::Critique)
                        .then(|| self.prompts.get(record.prompt))
                        .flatten()
                        .map(|item| refusal::classify(&item.prompt, &text));
                    Some(RunUpdate::StepDone {
                        prompt: record.prompt,
                        step: record.step,
                        text,
                        refusal,
                        progress: *progress,
                    })
                }
                PreviewEvent::Done { outcome } => Some(RunUpdate::PromptDone {
                    prompt: outcome.index,
                    outcome: Box::new(outcome_view(outcome)),
                    progress: *progress,
                }),
                PreviewEvent::Failed { prompt, error } => Some(RunUpdate::PromptFailed {
                    prompt: *prompt,
                    error: error.clone(),
                    progress: *progress,
                }),
                // The page shows preference labels with the outcome, in the Runs view.
                PreviewEvent::Judged { .. } => None,
            },
            RunEvent::Finished { status, progress } => Some(RunUpdate::Finished {
                status: *status,
                progress: *progress,
            }),
        };
        if let Some(update) = update {
            self.flush(&mut out, now);
            out.push(update);
        }
        out
    }

    /// Adds `piece` to the pending text of its step.
    fn merge(&mut self, piece: &Piece) {
        match self
            .pending
            .iter_mut()
            .find(|p| p.prompt == piece.prompt && p.step == piece.step)
        {
            Some(pending) => pending.text.push_str(&piece.text),
            None => self.pending.push(piece.clone()),
        }
    }

    fn flush(&mut self, out: &mut Vec<RunUpdate>, now: Instant) {
        if !self.pending.is_empty() {
            out.push(RunUpdate::Pieces {
                pieces: std::mem::take(&mut self.pending),
            });
            self.last_sent = Some(now);
        }
    }
}

/// How an execution started from the app ended.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct RunEnded {
    pub run: i64,
    pub status: RunStatus,
}

/// What executes in this app now, to cancel it.
#[derive(Default)]
pub struct Executing {
    /// The runs' cancel tokens, by run id.
    runs: std::sync::Mutex<HashMap<i64, CancelToken>>,
    /// The compare in progress (it may run two runs and a judge).
    pub compare: std::sync::Mutex<Option<CancelToken>>,
}

/// Removes a run from [`Executing`] when its execution ends, however it ends.
struct Registered<'a>(&'a Executing, i64);

impl Executing {
    fn register(&self, run: i64, cancel: CancelToken) -> Registered<'_> {
        lock(&self.runs).insert(run, cancel);
        Registered(self, run)
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        lock(&self.0.runs).remove(&self.1);
    }
}

impl PromptSource {
    /// The chosen file's path, for a file; looked up before the work goes off the runtime.
    pub fn chosen_path(&self, chosen: &ChosenFiles) -> Result<Option<PathBuf>, CommandError> {
        match self {
            Self::File { handle } => Ok(Some(chosen.path(handle, Purpose::Open)?)),
            Self::Bundled { .. } | Self::Stored { .. } => Ok(None),
        }
    }
}

/// The prompts of `source` (`file` is its chosen path, for a file; `store` holds a stored
/// set), the first `limit` only when there is one.
pub fn load_prompts(
    store: &Store,
    source: &PromptSource,
    file: Option<PathBuf>,
    limit: Option<u32>,
) -> Result<Vec<PromptItem>, CommandError> {
    let mut items = match (source, file) {
        (_, Some(path)) => prompt_set::load(&path)?,
        (PromptSource::Bundled { file }, None) => BundledSet::named(file)
            .ok_or_else(|| {
                CommandError::new(
                    ErrorCode::InvalidPrompts,
                    format!("no bundled prompt set `{file}`"),
                )
            })?
            .items()?,
        (PromptSource::Stored { name }, None) => store.prompt_set(name)?,
        (PromptSource::File { handle }, None) => {
            return Err(CommandError::new(
                ErrorCode::UnknownFile,
                format!("no file was chosen as `{handle}`"),
            ));
        }
    };
    if let Some(limit) = limit {
        items.truncate(usize::try_from(limit).unwrap_or(usize::MAX).max(1));
    }
    Ok(items)
}

/// The prompt sets that ship with the app.
#[tauri::command]
pub fn prompt_sets() -> Result<Vec<PromptSetInfo>, CommandError> {
    prompt_set::BUNDLED
        .iter()
        .map(|set| {
            let items = set.items()?;
            let count = |label| items.iter().filter(|i| i.label == Some(label)).count();
            Ok(PromptSetInfo {
                file: set.file.to_owned(),
                purpose: set.purpose.to_owned(),
                prompts: items.len(),
                benign: count(PromptLabel::Benign),
                harmful: count(PromptLabel::Harmful),
            })
        })
        .collect()
}

/// The preview settings a revision of a constitution asks for by default.
#[tauri::command]
pub async fn preview_defaults(
    state: tauri::State<'_, AppState>,
    slug: String,
    reference: String,
) -> Result<PreviewSettings, CommandError> {
    state
        .with_store(move |store| {
            let resolved = crate::commands::resolve(store, &slug, &reference)?;
            Ok(PreviewSettings::defaults(&PreviewConfig::for_constitution(
                &resolved.constitution,
            )))
        })
        .await
}

/// Previews revision `reference` of constitution `slug` on `prompts` with the app's model,
/// streaming what happens on `on_update`; returns when the run ends (completed, cancelled with
/// [`cancel_run`], or failed with what finished kept).
#[tauri::command]
pub async fn start_preview(
    state: tauri::State<'_, AppState>,
    slug: String,
    reference: String,
    prompts: PromptSource,
    settings: PreviewSettings,
    on_update: Channel<RunUpdate>,
) -> Result<RunEnded, CommandError> {
    let file = prompts.chosen_path(state.chosen())?;
    let executing = state.executing();
    state
        .with_run_worker(move |store, worker| {
            let resolved = crate::commands::resolve(store, &slug, &reference)?;
            let items = load_prompts(store, &prompts, file, settings.limit)?;
            let config =
                settings.config(PreviewConfig::for_constitution(&resolved.constitution))?;
            let spec = RunSpec {
                constitution: resolved.constitution,
                constitution_ref: Some(resolved.label),
                prompts: items,
                config,
                initial_from: None,
            };
            let run = runs::create(store, &spec, worker)?;
            execute(store, run, worker, &executing, &on_update)
        })
        .await
}

/// Finishes run `id` (interrupted or cancelled, from the app or the CLI) with the app's model,
/// streaming on `on_update` as [`start_preview`] does.
#[tauri::command]
pub async fn resume_run(
    state: tauri::State<'_, AppState>,
    id: i64,
    on_update: Channel<RunUpdate>,
) -> Result<RunEnded, CommandError> {
    let executing = state.executing();
    state
        .with_run_worker(move |store, worker| execute(store, id, worker, &executing, &on_update))
        .await
}

/// Runs prompt `prompt` of run `run` again, alone, under the draft of the constitution the run
/// previewed (the workshop edited a principle's wording there), with the run's seed and
/// settings; streams on `on_update` as [`start_preview`] does. The rerun is a run of its own.
#[tauri::command]
pub async fn rerun_prompt(
    state: tauri::State<'_, AppState>,
    run: i64,
    prompt: usize,
    on_update: Channel<RunUpdate>,
) -> Result<RunEnded, CommandError> {
    let executing = state.executing();
    state
        .with_run_worker(move |store, worker| {
            let stored = store.run(run)?;
            let Some(slug) = crate::runs::slug_of(&stored.summary) else {
                return Err(CommandError::new(
                    ErrorCode::UnknownConstitution,
                    format!(
                        "run {run} previewed a file, not a constitution of the library: \
                         import it to edit and rerun"
                    ),
                ));
            };
            let draft = crate::commands::resolve(store, &slug, "draft")?;
            let spec =
                runs::one_prompt_again(&stored, prompt, draft.constitution, Some(draft.label))?;
            let again = runs::create(store, &spec, worker)?;
            execute(store, again, worker, &executing, &on_update)
        })
        .await
}

/// Stops run `id` after the model's current decode step (the run lists as cancelled and can be
/// resumed). Does nothing when the run is not executing in this app.
#[tauri::command]
pub fn cancel_run(state: tauri::State<'_, AppState>, id: i64) {
    if let Some(cancel) = lock(&state.executing().runs).get(&id) {
        cancel.cancel();
    }
}

fn execute(
    store: &mut Store,
    run: i64,
    worker: &mut preamble::worker::WarmWorker,
    executing: &Executing,
    on_update: &Channel<RunUpdate>,
) -> Result<RunEnded, CommandError> {
    let stored = store.run(run)?;
    let mut coalesced = Coalesced::new(detail(&stored), stored.prompts.clone());
    let cancel = CancelToken::new();
    let _registered = executing.register(run, cancel.clone());
    let mut on_event = |event: &RunEvent| {
        for update in coalesced.updates(event, Instant::now()) {
            // A page that went away (reloaded) stops listening; the run goes on and is stored.
            let _ = on_update.send(update);
        }
    };
    let end = runs::execute(store, run, worker, &cancel, &mut on_event)?;
    Ok(RunEnded {
        run,
        status: end.status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use preamble::engine::Finish;
    use preamble::engine::batch::TurnStats;
    use preamble::preview::StepRecord;

    fn pieces(list: &[(usize, u32, &str)]) -> RunEvent {
        RunEvent::Preview {
            event: Box::new(PreviewEvent::Pieces {
                pieces: list
                    .iter()
                    .map(|&(prompt, step, text)| Piece {
                        prompt,
                        step,
                        text: text.to_owned(),
                    })
                    .collect(),
            }),
            progress: Progress::default(),
        }
    }

    fn coalesced() -> Coalesced {
        let item = PromptItem {
            id: "a".to_owned(),
            prompt: "How do I kill a Python process?".to_owned(),
            label: Some(PromptLabel::Benign),
            category: None,
            note: None,
        };
        let detail = RunDetail {
            listing: crate::runs::RunListing {
                slug: None,
                summary: preamble::store::RunSummary {
                    id: 1,
                    created_ms: 0,
                    finished_ms: None,
                    status: RunStatus::Running,
                    model_name: "m".to_owned(),
                    model_sha256: "s".to_owned(),
                    device: "CPU".to_owned(),
                    constitution_name: "c".to_owned(),
                    constitution_hash: "h".to_owned(),
                    constitution_ref: None,
                    prompts: 2,
                    prompts_done: 0,
                    prompts_failed: 0,
                    status_note: None,
                },
                over_refusal: preamble::metrics::RunMetrics::of(&[]).over_refusal.any,
                harmful_refusal: preamble::metrics::RunMetrics::of(&[]).harmful_refusal.any,
            },
            model_path: "m.gguf".to_owned(),
            prompts: Vec::new(),
        };
        Coalesced::new(detail, vec![item.clone(), item])
    }

    #[test]
    fn pieces_are_merged_per_step_and_sent_at_most_every_interval() {
        let mut c = coalesced();
        let t0 = Instant::now();
        // The first pieces go at once: the page shows text as soon as there is some.
        let first = c.updates(&pieces(&[(0, 0, "Run"), (1, 0, "I")]), t0);
        assert_eq!(first.len(), 1);
        // Within the interval they wait, merged per step.
        let ms = |n| t0 + Duration::from_millis(n);
        assert!(
            c.updates(&pieces(&[(0, 0, " `kill"), (1, 0, " can")]), ms(5))
                .is_empty()
        );
        assert!(
            c.updates(&pieces(&[(0, 0, " PID`"), (1, 0, "'t")]), ms(10))
                .is_empty()
        );
        let later = c.updates(&pieces(&[(0, 0, ".")]), ms(31));
        let [RunUpdate::Pieces { pieces }] = later.as_slice() else {
            panic!("{later:?}")
        };
        let texts: Vec<(usize, &str)> =
            pieces.iter().map(|p| (p.prompt, p.text.as_str())).collect();
        assert_eq!(texts, [(0, " `kill PID`."), (1, " can't")]);
    }

    #[test]
    fn waiting_pieces_go_before_any_other_update() {
        let mut c = coalesced();
        let t0 = Instant::now();
        c.updates(&pieces(&[(0, 0, "Run")]), t0);
        assert!(c.updates(&pieces(&[(0, 0, " it")]), t0).is_empty());
        let record = StepRecord {
            prompt: 0,
            step: 0,
            kind: StepKind::Initial,
            principle: None,
            text: " Run it \n".to_owned(),
            finish: Finish::Stop,
            stats: TurnStats::default(),
        };
        let done = RunEvent::Preview {
            event: Box::new(PreviewEvent::Step { record }),
            progress: Progress::default(),
        };
        let updates = c.updates(&done, t0);
        assert!(matches!(&updates[0], RunUpdate::Pieces { pieces } if pieces[0].text == " it"));
        let RunUpdate::StepDone { text, refusal, .. } = &updates[1] else {
            panic!("{updates:?}")
        };
        // The whole text, trimmed as outputs show it, with the answer's refusal label.
        assert_eq!(text, "Run it");
        assert_eq!(
            refusal.as_ref().map(|r| r.label),
            Some(refusal::RefusalLabel::Compliance)
        );
    }

    #[test]
    fn settings_out_of_range_are_refused_before_the_model_loads() {
        let constitution = preamble::constitution::starter("Test");
        let defaults = PreviewConfig::for_constitution(&constitution);
        let settings = PreviewSettings::defaults(&defaults);
        assert_eq!(settings.config(defaults.clone()).unwrap(), defaults);
        for bad in [
            PreviewSettings {
                parallel: 0,
                ..settings.clone()
            },
            PreviewSettings {
                temperature: f32::NAN,
                ..settings.clone()
            },
            PreviewSettings {
                max_tokens: 0,
                ..settings.clone()
            },
        ] {
            let error = bad.config(defaults.clone()).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidSettings, "{error}");
        }
    }
}

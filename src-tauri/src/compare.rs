//! The Compare view's commands: two sides (two revisions, two constitutions, or one revision
//! with two pinned principles) previewed on the same prompts, B's finals judged against A's, and
//! the pair's metrics with every final side by side. The work is the core's
//! [`preamble::compare::run`], as the CLI's `compare` does it: stored runs and labels that
//! match are reused, not run again.

use preamble::compare::{self, Behaviour, CompareEvent, CompareSpec, JudgeSpec, Side};
use preamble::engine::CancelToken;
use preamble::feedback::FeedbackMode;
use preamble::metrics::{self, PairMetrics};
use preamble::preview::{PreviewConfig, PrincipleChoice};
use preamble::prompt_set::PromptLabel;
use preamble::refusal::{self, Classification};
use preamble::runs::{Progress, RunEvent, RunSpec};
use preamble::store::{Store, StoredRun};
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;

use crate::commands::{AppState, lock, resolve};
use crate::error::CommandError;
use crate::preview::{PreviewSettings, PromptSource, load_prompts};

/// One side of a compare as the page picks it.
#[derive(Debug, Clone, Deserialize, ts_rs::TS)]
pub struct SideChoice {
    pub slug: String,
    /// `draft`, a version number or a tag.
    pub reference: String,
    /// Pin every round to this principle (a workshop's one principle against another).
    pub pinned: Option<String>,
}

/// What a compare does, as the page hears of it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CompareUpdate {
    /// A side will use run `run`: a stored one (`reused`) or a new one.
    Side { side: Side, run: i64, reused: bool },
    /// A side's run went a step further.
    Progress { side: Side, progress: Progress },
    /// The judge starts on the pairs (or reuses stored labels).
    Judging { pairs: usize, reused: bool },
}

/// A prompt both sides finished: the two finals, their labels and the judge's verdict.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct CompareRow {
    pub id: String,
    pub prompt: String,
    pub label: Option<PromptLabel>,
    pub a_final: String,
    pub a_refusal: Classification,
    pub b_final: String,
    pub b_refusal: Classification,
    /// The judge's probability that B's final is the better one.
    pub p_b: Option<f64>,
    /// Why the judge could not label the pair.
    pub judge_error: Option<String>,
}

/// A compare, ready to show.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct CompareView {
    pub run_a: i64,
    pub run_b: i64,
    /// How each side is named: `slug@revision`, and the pinned principle.
    pub a: String,
    pub b: String,
    /// The constitution whose comparison questions judged, when one has.
    pub judge: Option<String>,
    pub metrics: PairMetrics,
    pub rows: Vec<CompareRow>,
}

/// How a side's run is named in the view.
fn side_name(run: &StoredRun) -> String {
    let name = run
        .summary
        .constitution_ref
        .clone()
        .unwrap_or_else(|| run.summary.constitution_name.clone());
    match &run.config.choice {
        PrincipleChoice::Pinned(id) => format!("{name}, pinned to {id}"),
        _ => name,
    }
}

/// The stored compare of runs `run_a` and `run_b` (the newest judge's labels), as the view
/// shows it.
fn view(store: &Store, run_a: i64, run_b: i64) -> Result<CompareView, CommandError> {
    let (metrics, comparison) = compare::stored(store, run_a, run_b, None)?;
    let (a, b) = (store.run(run_a)?, store.run(run_b)?);
    let labels = comparison
        .as_ref()
        .map(|c| &c.labels[..])
        .unwrap_or_default();
    let rows = a
        .outcomes
        .iter()
        .flatten()
        .filter_map(|outcome_a| {
            let outcome_b = b
                .outcomes
                .iter()
                .flatten()
                .find(|other| metrics::same_prompt(outcome_a, other))?;
            let label = labels.iter().find(|(id, _)| id == &outcome_a.id);
            Some(CompareRow {
                id: outcome_a.id.clone(),
                prompt: outcome_a.prompt.clone(),
                label: outcome_a.label,
                a_final: outcome_a.last.clone(),
                a_refusal: refusal::classify(&outcome_a.prompt, &outcome_a.last),
                b_final: outcome_b.last.clone(),
                b_refusal: refusal::classify(&outcome_b.prompt, &outcome_b.last),
                p_b: label.and_then(|(_, result)| result.as_ref().ok().map(|p| p.p_b)),
                judge_error: label.and_then(|(_, result)| result.as_ref().err().cloned()),
            })
        })
        .collect();
    Ok(CompareView {
        run_a,
        run_b,
        a: side_name(&a),
        b: side_name(&b),
        judge: comparison.map(|c| c.judge_ref.unwrap_or(c.judge_name)),
        metrics,
        rows,
    })
}

/// Previews both sides on `prompts` with `settings` (each side's own pin), judges B's finals
/// against A's with B's comparison questions, and returns the compare; streams how far it is
/// on `on_update`. Cancel with [`cancel_compare`]: what finished is kept and reused next time.
#[tauri::command]
pub async fn start_compare(
    state: tauri::State<'_, AppState>,
    a: SideChoice,
    b: SideChoice,
    prompts: PromptSource,
    settings: PreviewSettings,
    on_update: Channel<CompareUpdate>,
) -> Result<CompareView, CommandError> {
    let file = prompts.chosen_path(state.chosen())?;
    let executing = state.executing();
    state
        .with_run_worker(move |store, worker| {
            let items = load_prompts(store, &prompts, file, settings.limit)?;
            let side = |choice: &SideChoice| -> Result<RunSpec, CommandError> {
                let resolved = resolve(store, &choice.slug, &choice.reference)?;
                let mut config =
                    settings.config(PreviewConfig::for_constitution(&resolved.constitution))?;
                if let Some(id) = &choice.pinned {
                    config.choice = PrincipleChoice::Pinned(id.clone());
                }
                Ok(RunSpec {
                    constitution: resolved.constitution,
                    constitution_ref: Some(resolved.label),
                    prompts: items.clone(),
                    config,
                    initial_from: None,
                })
            };
            let (a, b) = (side(&a)?, side(&b)?);
            let judge = JudgeSpec::for_side(
                &b,
                b.constitution.clone(),
                b.constitution_ref.clone(),
                FeedbackMode::MultipleChoice,
            );
            let spec = CompareSpec { a, b, judge };
            let cancel = CancelToken::new();
            *lock(&executing.compare) = Some(cancel.clone());
            let mut on_event = |event: &CompareEvent| {
                let update = match event {
                    CompareEvent::Side { side, run, reused } => CompareUpdate::Side {
                        side: *side,
                        run: *run,
                        reused: *reused,
                    },
                    CompareEvent::Run {
                        side,
                        event:
                            RunEvent::Started { progress, .. }
                            | RunEvent::Finished { progress, .. },
                    } => CompareUpdate::Progress {
                        side: *side,
                        progress: *progress,
                    },
                    CompareEvent::Run {
                        side,
                        event: RunEvent::Preview { event, progress },
                    } => match **event {
                        // Text is not shown here: a step's end is what moves the bar.
                        preamble::preview::PreviewEvent::Pieces { .. }
                        | preamble::preview::PreviewEvent::StepStarted { .. } => return,
                        _ => CompareUpdate::Progress {
                            side: *side,
                            progress: *progress,
                        },
                    },
                    CompareEvent::Judging { pairs, reused } => CompareUpdate::Judging {
                        pairs: *pairs,
                        reused: *reused,
                    },
                };
                let _ = on_update.send(update);
            };
            let compared = compare::run(store, &spec, worker, &cancel, &mut on_event);
            *lock(&executing.compare) = None;
            let compared = compared?;
            view(store, compared.run_a, compared.run_b)
        })
        .await
}

/// What the change from revision `old` to `new` of `slug` did to outputs, when the store holds
/// completed runs of both texts on the same prompts (a compare of the two made them, say):
/// the prompts whose final refusal label changed, and per principle, those its rounds touched.
#[tauri::command]
pub async fn diff_behaviour(
    state: tauri::State<'_, AppState>,
    slug: String,
    old: String,
    new: String,
) -> Result<Option<Behaviour>, CommandError> {
    state
        .with_store(move |store| {
            let old = resolve(store, &slug, &old)?.constitution;
            let new = resolve(store, &slug, &new)?.constitution;
            Ok(compare::behaviour(store, &old, &new)?)
        })
        .await
}

/// Stops the compare in progress after the model's current step.
#[tauri::command]
pub fn cancel_compare(state: tauri::State<'_, AppState>) {
    if let Some(cancel) = lock(&state.executing().compare).as_ref() {
        cancel.cancel();
    }
}

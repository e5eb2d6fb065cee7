//! The preview: what a constitution does to a model's answers, by Constitutional AI's
//! supervised loop (SL-CAI) run on sample prompts.
//!
//! For each prompt: the model answers (the **initial** response); then, `rounds` times, a
//! principle is picked (uniformly at random as in the paper, by weight, or pinned to one), the
//! model **critiques** its last response under the principle's critique request and **revises**
//! it under its revision request. Both turns carry the principle's statement (and, when the
//! constitution asks, its rationale) beside the request, so that what an author writes is what
//! the model reads. The conversation grows turn by turn, after the constitution's few-shot
//! examples of the whole exchange. Optionally the model then labels its initial and final
//! responses with an AI preference ([`crate::feedback`]), under one principle or by tier
//! priority. Every initial and final response gets a refusal label ([`crate::refusal`]).
//!
//! Two [`PreviewMode`]s: `cai`, the paper's loop, where the initial answer comes from the bare
//! model; and `in-context`, where every conversation opens with a system prompt rendered from
//! the constitution ([`system_prompt`]: tiers in priority order, their principles' statements),
//! previewing a model deployed with the spec as its prompt. The run stores the rendered prompt
//! and a resumed run uses the stored one.
//!
//! All prompts of a run advance together in one batch ([`crate::engine::batch`]). Randomness
//! is keyed, not sequential: the principle of round `r` of a prompt and the sampling seed of
//! each step are derived from (run seed, the prompt's **id**, `r` or step), so the same seed,
//! model, constitution, prompts and settings (parallelism and context included: llama.cpp's
//! numbers depend on the shape of a batch) give the same outputs on the same machine; adding,
//! removing or reordering prompts in a set changes nothing for the others; and the principles of
//! a resumed run are those the interrupted run would have used.
//!
//! Progress leaves the engine as [`PreviewEvent`]s: a step starting, the text pieces of every
//! generating step (one event per decode step), each step as it completes (the store records
//! it), the preference label, and each prompt's [`PromptOutcome`] when it ends. Events are plain
//! data (serde), so that they cross from the worker process to its parent as JSON lines.

use std::cell::RefCell;
use std::sync::mpsc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::constitution::{Constitution, Principle, Selection};
use crate::engine::batch::{
    self, BatchOptions, BatchStats, CancelToken, Turn, TurnOutput, TurnStats,
};
use crate::engine::sampling::Rng;
use crate::engine::{EngineError, Finish, Message, Model, Role, Sampling};
use crate::feedback::{FeedbackMode, FeedbackRule, Judgement, Preference};
use crate::prompt_set::PromptItem;
use crate::refusal::{self, RefusalLabel};

/// How a round's principle is picked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub enum PrincipleChoice {
    /// Uniformly among the enabled principles.
    Uniform,
    /// By the principles' weights.
    Weighted,
    /// Always this principle (enabled or not): a workshop's "what does this one do".
    Pinned(String),
}

impl From<Selection> for PrincipleChoice {
    fn from(selection: Selection) -> Self {
        match selection {
            Selection::Uniform => Self::Uniform,
            Selection::Weighted => Self::Weighted,
        }
    }
}

/// What the initial answer is asked with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub enum PreviewMode {
    /// The paper's loop: the initial answer from the bare model.
    #[default]
    Cai,
    /// The constitution as the system prompt of every conversation: a model deployed with the
    /// spec as its prompt.
    InContext,
}

impl PreviewMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cai => "cai",
            Self::InContext => "in-context",
        }
    }
}

/// How the critique and revision turns are worded. Recorded with a run, so that a run resumed
/// by a later version asks as it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnFormat {
    /// The request alone: runs stored before statements reached the model.
    #[default]
    RequestsOnly,
    /// The principle's title and statement (and rationale, when the constitution asks), then
    /// the request.
    Statements,
}

/// How one run words its critique and revision turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnWording {
    pub statement: bool,
    pub rationale: bool,
}

impl TurnWording {
    /// The wording of a run with `format` over `constitution`.
    pub fn new(format: TurnFormat, constitution: &Constitution) -> Self {
        let statement = format == TurnFormat::Statements;
        Self {
            statement,
            rationale: statement && constitution.preview.rationales,
        }
    }
}

/// Everything that decides a preview's outputs besides the model, constitution and prompts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewConfig {
    /// Critique -> revision rounds per prompt, 1 to 4.
    pub rounds: u32,
    pub choice: PrincipleChoice,
    pub seed: u64,
    /// Most tokens of each response, critique and revision.
    pub max_tokens: u32,
    pub sampling: Sampling,
    /// Label initial vs. final responses with an AI preference, in this mode.
    pub feedback: Option<FeedbackMode>,
    /// Which principles the preference label asks (runs stored before it: the single rule).
    #[serde(default)]
    pub feedback_rule: FeedbackRule,
    /// Runs stored before modes: `cai`.
    #[serde(default)]
    pub mode: PreviewMode,
    /// Runs stored before statements reached the model: requests only.
    #[serde(default)]
    pub turns: TurnFormat,
    /// Prompts decoded together.
    pub parallel: usize,
    /// Tokens one prompt's whole conversation may hold.
    pub context_per_sequence: u32,
}

impl PreviewConfig {
    /// The constitution's own preview defaults, with the engine's defaults for the rest.
    pub fn for_constitution(constitution: &Constitution) -> Self {
        Self {
            rounds: constitution.preview.rounds,
            choice: constitution.preview.selection.into(),
            seed: 0,
            max_tokens: 192,
            sampling: Sampling::default(),
            feedback: None,
            feedback_rule: FeedbackRule::Single,
            mode: PreviewMode::Cai,
            turns: TurnFormat::Statements,
            parallel: 8,
            context_per_sequence: 4096,
        }
    }
}

/// Errors found before a preview starts.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("rounds must be 1 to 4, not {0}")]
    Rounds(u32),
    #[error("no principle `{0}` in the constitution")]
    UnknownPrinciple(String),
    #[error("the constitution has no enabled principle")]
    NoPrinciple,
    #[error("no prompts to preview")]
    NoPrompts,
    #[error("{0}")]
    Setting(String),
}

/// Most sequences one context holds (llama.cpp's limit, less the shared prefix's).
pub const MAX_PARALLEL: usize = 255;

/// What a step of the loop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub enum StepKind {
    Initial,
    Critique,
    Revision,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Critique => "critique",
            Self::Revision => "revision",
        }
    }
}

/// One completed generation of the loop: step 0 is the initial response, steps `2r - 1` and
/// `2r` the critique and revision of round `r`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub prompt: usize,
    pub step: u32,
    pub kind: StepKind,
    pub principle: Option<String>,
    /// The text as generated (the loop feeds it back verbatim; outputs show it trimmed).
    pub text: String,
    pub finish: Finish,
    pub stats: TurnStats,
}

/// A round of a prompt's loop, as output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct RoundOutcome {
    pub principle: String,
    pub critique: String,
    pub revision: String,
}

/// Refusal labels of the initial and final responses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusalOutcome {
    pub initial: RefusalLabel,
    #[serde(rename = "final")]
    pub last: RefusalLabel,
    /// The principle of the round whose revision turned a compliant answer into a refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<String>,
}

/// Token counts of a prompt's whole loop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenCounts {
    /// Prompt tokens decoded (KV reuse decodes only each turn's new tokens).
    pub decoded_prompt: usize,
    /// Prompt tokens decoding every turn from scratch would cost.
    pub naive_prompt: usize,
    pub generated: usize,
}

/// Milliseconds per step of a prompt's loop.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub initial_ms: u64,
    pub critique_ms: Vec<u64>,
    pub revision_ms: Vec<u64>,
    pub feedback_ms: u64,
}

/// One prompt's result: a line of the preview's JSONL output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptOutcome {
    pub index: usize,
    pub id: String,
    pub prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<crate::prompt_set::PromptLabel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    pub initial: String,
    pub steps: Vec<RoundOutcome>,
    #[serde(rename = "final")]
    pub last: String,
    pub refusal: RefusalOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preference: Option<Preference>,
    /// Why the preference label could not be made (the outcome is kept all the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preference_error: Option<String>,
    pub tokens: TokenCounts,
    pub timings: Timings,
}

/// Text a generating step produced in one decode step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct Piece {
    pub prompt: usize,
    pub step: u32,
    pub text: String,
}

/// Progress of a preview, sent from the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PreviewEvent {
    /// A step of a prompt's loop starts generating.
    StepStarted {
        prompt: usize,
        step: u32,
        kind: StepKind,
        principle: Option<String>,
    },
    /// The text every generating step got from one decode step.
    Pieces { pieces: Vec<Piece> },
    /// A step completed.
    Step { record: StepRecord },
    /// A prompt's preference label, or why it could not be made.
    Judged {
        prompt: usize,
        preference: Option<Preference>,
        error: Option<String>,
    },
    /// A prompt ended.
    Done { outcome: Box<PromptOutcome> },
    /// A prompt failed alone (it outgrew its context, say).
    Failed { prompt: usize, error: String },
}

/// What an earlier, interrupted run of the same preview finished of one prompt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptProgress {
    /// Its completed steps, in order.
    pub steps: Vec<StepRecord>,
    /// Its stored preference label (never asked again).
    pub preference: Option<Preference>,
    pub preference_error: Option<String>,
    /// It has its outcome: nothing is run or reported for it.
    pub finished: bool,
}

/// A preview to run: `done[i]` holds what an earlier, interrupted run of the same preview
/// finished of prompt `i` (empty, or missing, for a new run).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreviewJob {
    pub constitution: Constitution,
    pub prompts: Vec<PromptItem>,
    pub config: PreviewConfig,
    pub done: Vec<PromptProgress>,
    /// The in-context mode's system prompt as the run stored it; rendered from the
    /// constitution when missing.
    #[serde(default)]
    pub system_prompt: Option<String>,
}

impl PreviewJob {
    /// Checks the configuration against the constitution.
    pub fn check(&self) -> Result<(), PreviewError> {
        if !(1..=4).contains(&self.config.rounds) {
            return Err(PreviewError::Rounds(self.config.rounds));
        }
        if self.prompts.is_empty() {
            return Err(PreviewError::NoPrompts);
        }
        let config = &self.config;
        let setting = |message: String| Err(PreviewError::Setting(message));
        if !(1..=MAX_PARALLEL).contains(&config.parallel) {
            return setting(format!(
                "parallel must be 1 to {MAX_PARALLEL}, not {}",
                config.parallel
            ));
        }
        if config.max_tokens == 0 {
            return setting("max tokens must be at least 1".to_owned());
        }
        let sampling = &config.sampling;
        if !sampling.temperature.is_finite() || sampling.temperature < 0.0 {
            return setting(format!(
                "temperature must be a number of 0 or more, not {}",
                sampling.temperature
            ));
        }
        if !(0.0..=1.0).contains(&sampling.top_p) {
            return setting(format!("top-p must be 0 to 1, not {}", sampling.top_p));
        }
        config.feedback_rule.check().or_else(setting)?;
        let principles = Principles::new(&self.constitution, &self.config.choice)?;
        let tiered = matches!(config.feedback_rule, FeedbackRule::Tiered { .. });
        if config.feedback.is_some() && tiered && !principles.has_tiers() {
            return setting("the tiered preference rule needs an enabled principle".to_owned());
        }
        Ok(())
    }

    /// The system prompt every conversation opens with: `None` in the `cai` mode.
    pub fn system_prompt(&self) -> Option<String> {
        match self.config.mode {
            PreviewMode::Cai => None,
            PreviewMode::InContext => Some(
                self.system_prompt
                    .clone()
                    .unwrap_or_else(|| system_prompt(&self.constitution)),
            ),
        }
    }
}

/// The in-context mode's system prompt: the constitution's tiers in priority order with their
/// enabled principles' statements (and rationales, when the constitution asks).
pub fn system_prompt(constitution: &Constitution) -> String {
    let mut text = String::from(
        "You are an AI assistant. Follow these principles in every answer. They are grouped in \
         tiers, highest priority first: when two principles conflict, the one in the higher \
         tier wins.\n",
    );
    let tiers = constitution
        .tiers
        .iter()
        .filter(|tier| tier.principles.iter().any(|principle| principle.enabled));
    for (number, tier) in tiers.enumerate() {
        text.push_str(&format!("\n{}. {}\n", number + 1, tier.name.trim()));
        for principle in tier.principles.iter().filter(|principle| principle.enabled) {
            text.push_str(&format!(
                "- {}: {}\n",
                principle.title.trim(),
                principle.statement.trim()
            ));
            if constitution.preview.rationales && !principle.rationale.trim().is_empty() {
                text.push_str(&format!("  Why: {}\n", principle.rationale.trim()));
            }
        }
    }
    text.trim_end().to_owned()
}

/// The user's turn that asks for a critique under `principle`: its statement (and rationale),
/// as `wording` says, then its critique request.
pub fn critique_turn(principle: &Principle, wording: TurnWording) -> String {
    request_turn(principle, &principle.critique_request, wording)
}

/// The user's turn that asks for a revision under `principle`.
pub fn revision_turn(principle: &Principle, wording: TurnWording) -> String {
    request_turn(principle, &principle.revision_request, wording)
}

fn request_turn(principle: &Principle, request: &str, wording: TurnWording) -> String {
    if !wording.statement {
        return request.trim().to_owned();
    }
    let mut text = format!(
        "Principle ({}): {}\n",
        principle.title.trim(),
        principle.statement.trim()
    );
    if wording.rationale && !principle.rationale.trim().is_empty() {
        text.push_str(&format!("Why it matters: {}\n", principle.rationale.trim()));
    }
    text.push('\n');
    text.push_str(request.trim());
    text
}

/// Runs `job` on `model`, sending progress to `events`. Prompts that fail alone (an over-long
/// prompt) are reported as [`PreviewEvent::Failed`]; the run goes on without them.
pub fn run(
    model: &Model,
    job: &PreviewJob,
    events: &mpsc::Sender<PreviewEvent>,
    cancel: &CancelToken,
) -> Result<BatchStats, EngineError> {
    run_observed(
        model,
        job,
        events,
        cancel,
        &BatchOptions::default(),
        &mut || {},
    )
}

/// [`run`] with the engine's options (`engine`'s parallelism and context are the job's; the
/// benchmark turns KV reuse off for its baseline), calling `after_step` after each decode
/// step's events have been sent.
pub fn run_observed(
    model: &Model,
    job: &PreviewJob,
    events: &mpsc::Sender<PreviewEvent>,
    cancel: &CancelToken,
    engine: &BatchOptions,
    after_step: &mut dyn FnMut(),
) -> Result<BatchStats, EngineError> {
    let principles = Principles::new(&job.constitution, &job.config.choice)
        .map_err(|error| EngineError::InvalidTurn(error.to_string()))?;
    let few_shot = opening_messages(job);
    let pieces = RefCell::new(Vec::new());
    let mut loops: Vec<PromptLoop<'_>> = job
        .prompts
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let done = job.done.get(index).cloned().unwrap_or_default();
            PromptLoop::new(
                index,
                item,
                job,
                &principles,
                &few_shot,
                done,
                Emitter {
                    events: events.clone(),
                    pieces: &pieces,
                },
            )
        })
        .collect();
    let options = BatchOptions {
        parallel: job.config.parallel,
        context_per_sequence: job.config.context_per_sequence,
        ..engine.clone()
    };
    // The pieces of one decode step leave as one event, so that a viewer streaming many
    // prompts gets a message per step, not one per token per prompt.
    let flusher = Emitter {
        events: events.clone(),
        pieces: &pieces,
    };
    let mut flush = || {
        flusher.flush_pieces();
        after_step();
    };
    batch::run_observed(model, &mut loops, &few_shot, &options, cancel, &mut flush)
}

/// The key of a prompt in a run's randomness: its id, so that its principles and seeds do not
/// depend on where it stands in the set.
pub fn prompt_key(id: &str) -> u64 {
    let digest = Sha256::digest(id.as_bytes());
    u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
}

/// The principles a run picks from, and how.
pub struct Principles<'c> {
    enabled: Vec<&'c Principle>,
    choice: &'c PrincipleChoice,
    pinned: Option<&'c Principle>,
    /// Each tier that has an enabled principle: its id and those principles, highest first.
    tiers: Vec<(&'c str, Vec<&'c Principle>)>,
    /// The constitution's own selection: how the tiered label picks, whatever a run pins or
    /// selects, so that an ablation's runs ask the same questions.
    constitution_weighted: bool,
}

impl<'c> Principles<'c> {
    /// Fails when a pinned principle is not in the constitution, or none is enabled.
    pub fn new(
        constitution: &'c Constitution,
        choice: &'c PrincipleChoice,
    ) -> Result<Self, PreviewError> {
        let all = constitution.tiers.iter().flat_map(|tier| &tier.principles);
        let pinned = match choice {
            PrincipleChoice::Pinned(id) => Some(
                all.clone()
                    .find(|principle| &principle.id == id)
                    .ok_or_else(|| PreviewError::UnknownPrinciple(id.clone()))?,
            ),
            _ => None,
        };
        let enabled: Vec<&Principle> = all.filter(|principle| principle.enabled).collect();
        if enabled.is_empty() && pinned.is_none() {
            return Err(PreviewError::NoPrinciple);
        }
        let tiers = constitution
            .tiers
            .iter()
            .map(|tier| {
                let principles = tier.principles.iter().filter(|p| p.enabled).collect();
                (tier.id.as_str(), principles)
            })
            .filter(|(_, principles): &(&str, Vec<&Principle>)| !principles.is_empty())
            .collect();
        Ok(Self {
            enabled,
            choice,
            pinned,
            tiers,
            constitution_weighted: constitution.preview.selection == Selection::Weighted,
        })
    }

    /// The AI preference between `a` and `b` for the prompt (or pair) `key`, under `rule`. The
    /// single rule asks the principle [`Self::pick`] gives for [`FEEDBACK_PURPOSE`] (a pinned
    /// one when pinned); the tiered rule asks one principle per tier (or all of them), picked
    /// by the constitution's own selection and keyed by the tier's id, whatever the run pins
    /// or selects: it weighs the whole constitution by its priority.
    #[allow(clippy::too_many_arguments)]
    pub fn judgement(
        &self,
        rule: FeedbackRule,
        mode: FeedbackMode,
        seed: u64,
        key: u64,
        prompt: &str,
        a: &str,
        b: &str,
    ) -> Judgement {
        match rule {
            FeedbackRule::Single => {
                let principle = self.pick(seed, key, FEEDBACK_PURPOSE);
                Judgement::new(principle, prompt, a, b, mode, seed)
            }
            FeedbackRule::Tiered {
                every_principle,
                margin,
            } => {
                let tiers: Vec<(&str, Vec<&Principle>)> = self
                    .tiers
                    .iter()
                    .map(|(id, principles)| {
                        let asked = if every_principle {
                            principles.clone()
                        } else {
                            // Keyed by the tier's id: disabling another tier changes nothing.
                            let tier = prompt_key(id);
                            let keys = [PRINCIPLE_KEY, key, TIER_FEEDBACK_PURPOSE, tier];
                            let mut rng = Rng::derived(seed, &keys);
                            let weighted = self.constitution_weighted;
                            vec![pick_among(principles, weighted, &mut rng)]
                        };
                        (*id, asked)
                    })
                    .collect();
                Judgement::tiered(&tiers, margin, prompt, a, b, mode, seed)
            }
        }
    }

    /// The principle for `purpose` (a round, or the feedback) of the prompt (or pair) `key`
    /// ([`prompt_key`] for a prompt).
    pub fn pick(&self, seed: u64, key: u64, purpose: u64) -> &'c Principle {
        if let Some(pinned) = self.pinned {
            return pinned;
        }
        let mut rng = Rng::derived(seed, &[PRINCIPLE_KEY, key, purpose]);
        let weighted = *self.choice == PrincipleChoice::Weighted;
        pick_among(&self.enabled, weighted, &mut rng)
    }

    /// Whether the tiered label has a principle to ask.
    pub fn has_tiers(&self) -> bool {
        !self.tiers.is_empty()
    }
}

/// One of `among` (not empty): by weight, or uniformly.
fn pick_among<'c>(among: &[&'c Principle], weighted: bool, rng: &mut Rng) -> &'c Principle {
    let total: f64 = among.iter().map(|principle| principle.weight).sum();
    if weighted && total > 0.0 {
        let mut target = rng.next_f64() * total;
        for principle in among {
            if target < principle.weight {
                return principle;
            }
            target -= principle.weight;
        }
    }
    let at = (rng.next_f64() * among.len() as f64) as usize;
    among[at.min(among.len() - 1)]
}

const PRINCIPLE_KEY: u64 = 1;
const SAMPLING_KEY: u64 = 2;
/// The `purpose` of a preference label's principle pick (rounds are 1 to 4).
pub const FEEDBACK_PURPOSE: u64 = 100;
/// The `purpose` of the tiered label's pick in a tier (keyed by the tier's id too).
const TIER_FEEDBACK_PURPOSE: u64 = 1000;

/// Asked when a few-shot example names no principle.
const GENERAL_CRITIQUE: &str = "Point out the specific ways in which your last response could \
     hurt someone, mislead them or fail to help them.";
const GENERAL_REVISION: &str = "Rewrite your last response so that it fixes the problems you \
     pointed out and still helps as much as it safely can.";

/// The turns every conversation of `job` opens with: the in-context mode's system prompt, then
/// the constitution's few-shot examples.
fn opening_messages(job: &PreviewJob) -> Vec<Message> {
    let mut messages: Vec<Message> = job
        .system_prompt()
        .map(|prompt| Message::new(Role::System, prompt))
        .into_iter()
        .collect();
    let wording = TurnWording::new(job.config.turns, &job.constitution);
    messages.extend(few_shot_messages(&job.constitution, wording));
    messages
}

/// The constitution's few-shot examples, each turn asked as the real ones are.
fn few_shot_messages(constitution: &Constitution, wording: TurnWording) -> Vec<Message> {
    let principle = |id: &Option<String>| {
        id.as_ref().and_then(|id| {
            constitution
                .tiers
                .iter()
                .flat_map(|tier| &tier.principles)
                .find(|principle| &principle.id == id)
        })
    };
    let mut messages = Vec::new();
    for example in &constitution.examples {
        let (critique_request, revision_request) = match principle(&example.principle) {
            Some(principle) => (
                critique_turn(principle, wording),
                revision_turn(principle, wording),
            ),
            None => (GENERAL_CRITIQUE.to_owned(), GENERAL_REVISION.to_owned()),
        };
        messages.extend([
            Message::new(Role::User, example.prompt.trim()),
            Message::new(Role::Assistant, example.response.trim()),
            Message::new(Role::User, critique_request),
            Message::new(Role::Assistant, example.critique.trim()),
            Message::new(Role::User, revision_request),
            Message::new(Role::Assistant, example.revision.trim()),
        ]);
    }
    messages
}

/// Where a prompt's loop reports: whole events, and text pieces gathered per decode step.
struct Emitter<'j> {
    events: mpsc::Sender<PreviewEvent>,
    pieces: &'j RefCell<Vec<Piece>>,
}

impl Emitter<'_> {
    fn send(&self, event: PreviewEvent) {
        // A receiver that went away has stopped listening; the run goes on to its end.
        let _ = self.events.send(event);
    }

    /// Sends the pieces gathered so far as one event.
    fn flush_pieces(&self) {
        let pieces = std::mem::take(&mut *self.pieces.borrow_mut());
        if !pieces.is_empty() {
            self.send(PreviewEvent::Pieces { pieces });
        }
    }
}

/// One prompt's loop, driven by the batch runner.
struct PromptLoop<'j> {
    index: usize,
    /// [`prompt_key`] of the prompt's id.
    key: u64,
    item: &'j PromptItem,
    config: &'j PreviewConfig,
    principles: &'j Principles<'j>,
    wording: TurnWording,
    messages: Vec<Message>,
    steps: Vec<StepRecord>,
    judgement: Option<Judgement>,
    /// The label (or why there is none) once judged, or as stored by an earlier run.
    judged: Option<(Option<Preference>, Option<String>)>,
    emitter: Emitter<'j>,
    finished: bool,
}

impl<'j> PromptLoop<'j> {
    fn new(
        index: usize,
        item: &'j PromptItem,
        job: &'j PreviewJob,
        principles: &'j Principles<'j>,
        few_shot: &[Message],
        done: PromptProgress,
        emitter: Emitter<'j>,
    ) -> Self {
        let mut messages = few_shot.to_vec();
        messages.push(Message::new(Role::User, item.prompt.clone()));
        let judged = (done.preference.is_some() || done.preference_error.is_some())
            .then_some((done.preference, done.preference_error));
        let mut prompt_loop = Self {
            index,
            key: prompt_key(&item.id),
            item,
            config: &job.config,
            principles,
            wording: TurnWording::new(job.config.turns, &job.constitution),
            messages,
            steps: Vec::new(),
            judgement: None,
            judged,
            emitter,
            finished: done.finished,
        };
        for step in done.steps {
            prompt_loop.replay(step);
        }
        prompt_loop
    }

    fn total_steps(&self) -> u32 {
        1 + 2 * self.config.rounds
    }

    /// Adds a completed step to the conversation (without announcing it).
    fn replay(&mut self, step: StepRecord) {
        let next = self.steps.len() as u32;
        if step.step != next || next >= self.total_steps() {
            return;
        }
        self.messages
            .push(Message::new(Role::Assistant, step.text.clone()));
        if let Some(request) = self.request_after(next) {
            self.messages.push(Message::new(Role::User, request));
        }
        self.steps.push(step);
    }

    /// The principle of round `round` (1-based).
    fn principle(&self, round: u32) -> &'j Principle {
        self.principles
            .pick(self.config.seed, self.key, u64::from(round))
    }

    /// The user's request that follows step `step`: the next critique or revision request.
    fn request_after(&self, step: u32) -> Option<String> {
        if step + 1 >= self.total_steps() {
            return None;
        }
        let round = step.div_ceil(2) + u32::from(step.is_multiple_of(2));
        let principle = self.principle(round);
        Some(if step.is_multiple_of(2) {
            critique_turn(principle, self.wording)
        } else {
            revision_turn(principle, self.wording)
        })
    }

    fn step_meta(&self, step: u32) -> (StepKind, Option<String>) {
        if step == 0 {
            return (StepKind::Initial, None);
        }
        let kind = if step % 2 == 1 {
            StepKind::Critique
        } else {
            StepKind::Revision
        };
        (kind, Some(self.principle(step.div_ceil(2)).id.clone()))
    }

    fn outcome(&self) -> PromptOutcome {
        let text = |step: &StepRecord| step.text.trim().to_owned();
        let initial = self.steps.first().map(text).unwrap_or_default();
        let rounds: Vec<RoundOutcome> = self.steps[1..]
            .chunks(2)
            .filter(|pair| pair.len() == 2)
            .map(|pair| RoundOutcome {
                principle: pair[0].principle.clone().unwrap_or_default(),
                critique: text(&pair[0]),
                revision: text(&pair[1]),
            })
            .collect();
        let last = rounds
            .last()
            .map_or_else(|| initial.clone(), |round| round.revision.clone());
        let prompt = &self.item.prompt;
        let initial_label = refusal::classify(prompt, &initial).label;
        let mut caused_by = None;
        let mut before = initial_label;
        for round in &rounds {
            let after = refusal::classify(prompt, &round.revision).label;
            if after == RefusalLabel::Compliance {
                caused_by = None;
            } else if before == RefusalLabel::Compliance {
                caused_by = Some(round.principle.clone());
            }
            before = after;
        }
        let mut tokens = TokenCounts::default();
        let mut timings = Timings::default();
        for step in &self.steps {
            tokens.decoded_prompt += step.stats.decoded_tokens;
            tokens.naive_prompt += step.stats.conversation_tokens;
            tokens.generated += step.stats.generated_tokens;
            match step.kind {
                StepKind::Initial => timings.initial_ms = step.stats.elapsed_ms,
                StepKind::Critique => timings.critique_ms.push(step.stats.elapsed_ms),
                StepKind::Revision => timings.revision_ms.push(step.stats.elapsed_ms),
            }
        }
        let (preference, preference_error) = self.judged.clone().unwrap_or_default();
        if let Some(preference) = &preference {
            tokens.decoded_prompt += preference.stats.decoded_tokens;
            tokens.naive_prompt += preference.stats.conversation_tokens;
            tokens.generated += preference.stats.generated_tokens;
            timings.feedback_ms = preference.stats.elapsed_ms;
        }
        PromptOutcome {
            index: self.index,
            id: self.item.id.clone(),
            prompt: prompt.clone(),
            label: self.item.label,
            category: self.item.category.clone(),
            refusal: RefusalOutcome {
                initial: initial_label,
                last: before,
                caused_by,
            },
            initial,
            steps: rounds,
            last,
            preference,
            preference_error,
            tokens,
            timings,
        }
    }

    fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            self.emitter.send(PreviewEvent::Done {
                outcome: Box::new(self.outcome()),
            });
        }
    }

    /// Keeps the label (or the reason there is none) and reports it, before the outcome.
    fn judged(&mut self, preference: Option<Preference>, error: Option<String>) {
        self.emitter.send(PreviewEvent::Judged {
            prompt: self.index,
            preference: preference.clone(),
            error: error.clone(),
        });
        self.judged = Some((preference, error));
    }
}

impl batch::Conversation for PromptLoop<'_> {
    fn next_turn(&mut self) -> Option<Turn> {
        if self.finished {
            return None;
        }
        let step = self.steps.len() as u32;
        if step < self.total_steps() {
            let (kind, principle) = self.step_meta(step);
            self.emitter.send(PreviewEvent::StepStarted {
                prompt: self.index,
                step,
                kind,
                principle,
            });
            return Some(Turn::Generate {
                messages: self.messages.clone(),
                assistant_prefix: String::new(),
                max_tokens: self.config.max_tokens,
                sampling: self.config.sampling,
                seed: Rng::derived(self.config.seed, &[SAMPLING_KEY, self.key, u64::from(step)])
                    .next_u64(),
            });
        }
        if let (Some(mode), None) = (self.config.feedback, &self.judged) {
            if self.judgement.is_none() {
                let outcome = self.outcome();
                self.judgement = Some(self.principles.judgement(
                    self.config.feedback_rule,
                    mode,
                    self.config.seed,
                    self.key,
                    &self.item.prompt,
                    &outcome.initial,
                    &outcome.last,
                ));
            }
            if let Some(judgement) = self.judgement.as_mut() {
                if let Some(turn) = judgement.next_turn() {
                    return Some(turn);
                }
                let preference = judgement.preference();
                let error = preference
                    .is_none()
                    .then(|| "the judgement ended without a label".to_owned());
                self.judged(preference, error);
            }
        }
        self.finish();
        None
    }

    fn piece(&mut self, text: &str) {
        let step = self.steps.len() as u32;
        if self.judgement.is_some() || step >= self.total_steps() {
            return;
        }
        let mut pieces = self.emitter.pieces.borrow_mut();
        match pieces.last_mut() {
            Some(last) if last.prompt == self.index && last.step == step => {
                last.text.push_str(text);
            }
            _ => pieces.push(Piece {
                prompt: self.index,
                step,
                text: text.to_owned(),
            }),
        }
    }

    fn turn_done(&mut self, output: TurnOutput) {
        if let Some(judgement) = &mut self.judgement {
            judgement.turn_done(output);
            return;
        }
        let TurnOutput::Text {
            text,
            finish,
            stats,
        } = output
        else {
            return;
        };
        let step = self.steps.len() as u32;
        let (kind, principle) = self.step_meta(step);
        let record = StepRecord {
            prompt: self.index,
            step,
            kind,
            principle,
            text,
            finish,
            stats,
        };
        // A step's text arrives before the step is reported done.
        self.emitter.flush_pieces();
        self.emitter.send(PreviewEvent::Step {
            record: record.clone(),
        });
        self.replay(record);
    }

    fn failed(&mut self, error: EngineError) {
        let message = format!("prompt `{}`: {error}", self.item.id);
        if self.judgement.is_some() {
            // Every step finished: the outcome is kept, with the reason it has no label.
            self.judged(None, Some(message));
            self.finish();
            return;
        }
        self.finished = true;
        self.emitter.send(PreviewEvent::Failed {
            prompt: self.index,
            error: message,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constitution;

    const STATEMENT: TurnWording = TurnWording {
        statement: true,
        rationale: false,
    };
    const WITH_RATIONALE: TurnWording = TurnWording {
        statement: true,
        rationale: true,
    };

    fn general() -> Constitution {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/constitutions/general-assistant.toml"
        );
        constitution::load(std::path::Path::new(path)).unwrap()
    }

    fn first_principle(constitution: &mut Constitution) -> &mut Principle {
        &mut constitution.tiers[0].principles[0]
    }

    #[test]
    fn a_statement_edit_changes_the_rendered_critique_and_revision_turns() {
        let mut constitution = general();
        let before = first_principle(&mut constitution).clone();
        let critique = critique_turn(&before, STATEMENT);
        assert!(critique.contains(before.statement.trim()));
        assert!(critique.ends_with(before.critique_request.trim()));
        assert!(revision_turn(&before, STATEMENT).ends_with(before.revision_request.trim()));
        let edited = first_principle(&mut constitution);
        edited.statement = "Never help anyone build a weapon, whatever the reason given.".into();
        let after = critique_turn(edited, STATEMENT);
        assert_ne!(critique, after);
        assert!(after.contains("whatever the reason given"));
        assert!(revision_turn(edited, STATEMENT).contains("whatever the reason given"));
    }

    #[test]
    fn runs_stored_before_statements_keep_asking_the_request_alone() {
        let constitution = general();
        let mut json =
            serde_json::to_value(PreviewConfig::for_constitution(&constitution)).unwrap();
        let object = json.as_object_mut().unwrap();
        for newer in ["turns", "mode", "feedback_rule"] {
            object.remove(newer);
        }
        let old: PreviewConfig = serde_json::from_value(json).unwrap();
        assert_eq!(old.turns, TurnFormat::RequestsOnly);
        assert_eq!(old.mode, PreviewMode::Cai);
        assert_eq!(old.feedback_rule, FeedbackRule::Single);
        let principle = &constitution.tiers[0].principles[0];
        let wording = TurnWording::new(old.turns, &constitution);
        assert_eq!(
            critique_turn(principle, wording),
            principle.critique_request.trim()
        );
        let current = TurnWording::new(TurnFormat::Statements, &constitution);
        assert_eq!(current, STATEMENT);
    }

    #[test]
    fn rationales_reach_the_turns_and_the_system_prompt_only_when_asked() {
        let mut constitution = general();
        let principle = first_principle(&mut constitution);
        principle.rationale = "Mass harm cannot be undone.".into();
        let principle = principle.clone();
        assert!(!critique_turn(&principle, STATEMENT).contains("cannot be undone"));
        assert!(
            critique_turn(&principle, WITH_RATIONALE).contains("Why it matters: Mass harm cannot")
        );
        assert!(!system_prompt(&constitution).contains("cannot be undone"));
        constitution.preview.rationales = true;
        assert!(system_prompt(&constitution).contains("  Why: Mass harm cannot be undone."));
    }

    #[test]
    fn the_system_prompt_lists_tiers_in_priority_order_with_enabled_principles() {
        let mut constitution = general();
        let disabled = constitution.tiers[1].principles[0].clone();
        constitution.tiers[1].principles[0].enabled = false;
        let prompt = system_prompt(&constitution);
        let mut at = 0;
        for (number, tier) in constitution.tiers.iter().enumerate() {
            let heading = format!("\n{}. {}\n", number + 1, tier.name);
            let found = prompt[at..].find(&heading).map(|i| i + at);
            at = found.unwrap_or_else(|| panic!("no {heading:?} after {at} in {prompt}"));
        }
        for principle in constitution.tiers.iter().flat_map(|tier| &tier.principles) {
            assert_eq!(
                prompt.contains(principle.statement.trim()),
                principle.enabled,
                "{}",
                principle.id
            );
        }
        assert!(!prompt.contains(disabled.statement.trim()));
    }

    #[test]
    fn in_context_jobs_open_with_the_stored_system_prompt() {
        let constitution = general();
        let mut job = PreviewJob {
            config: PreviewConfig::for_constitution(&constitution),
            constitution,
            prompts: Vec::new(),
            done: Vec::new(),
            system_prompt: None,
        };
        assert_eq!(job.system_prompt(), None);
        assert_ne!(
            opening_messages(&job).first().map(|m| m.role),
            Some(Role::System)
        );
        job.config.mode = PreviewMode::InContext;
        assert_eq!(job.system_prompt(), Some(system_prompt(&job.constitution)));
        job.system_prompt = Some("As stored.".into());
        let opening = opening_messages(&job);
        assert_eq!(opening[0], Message::new(Role::System, "As stored."));
        assert_eq!(
            opening.len(),
            1 + few_shot_messages(&job.constitution, STATEMENT).len()
        );
    }

    /// Answers every question of `judgement` with 0.5 and returns the label.
    fn answered(mut judgement: Judgement) -> (usize, Preference) {
        let mut asked = 0;
        while judgement.next_turn().is_some() {
            asked += 1;
            judgement.turn_done(TurnOutput::Choice {
                probabilities: vec![0.5, 0.5],
                option_mass: 1.0,
                stats: TurnStats::default(),
            });
        }
        (asked, judgement.preference().unwrap())
    }

    fn asked_principles(label: &Preference) -> Vec<&str> {
        let labels = label.tiers.iter().flat_map(|tier| &tier.labels);
        labels.map(|label| label.principle.as_str()).collect()
    }

    #[test]
    fn tiered_feedback_asks_one_principle_per_tier_whatever_is_pinned() {
        let constitution = general();
        let choice = PrincipleChoice::Pinned(constitution.tiers[0].principles[0].id.clone());
        let principles = Principles::new(&constitution, &choice).unwrap();
        let rule = |every_principle| FeedbackRule::Tiered {
            every_principle,
            margin: 0.1,
        };
        let mode = FeedbackMode::MultipleChoice;
        let judgement = |rule, key| principles.judgement(rule, mode, 7, key, "Q?", "a", "b");
        let (asked, label) = answered(judgement(rule(false), 42));
        assert_eq!(asked, 2 * constitution.tiers.len());
        let tiers: Vec<&str> = label.tiers.iter().map(|t| t.tier.as_str()).collect();
        let expected: Vec<&str> = constitution.tiers.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(tiers, expected);
        for (tier, label) in constitution.tiers.iter().zip(&label.tiers) {
            let asked = &label.labels[0].principle;
            assert!(tier.principles.iter().any(|p| &p.id == asked), "{asked}");
        }
        // The same seed and key pick the same principles; across keys they vary.
        let (_, again) = answered(judgement(rule(false), 42));
        assert_eq!(asked_principles(&again), asked_principles(&label));
        let picks: std::collections::HashSet<Vec<String>> = (0..20)
            .map(|key| {
                let (_, label) = answered(judgement(rule(false), key));
                asked_principles(&label)
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            })
            .collect();
        assert!(picks.len() > 1);
        let (asked, all) = answered(judgement(rule(true), 42));
        assert_eq!(asked, 2 * principles.enabled.len());
        assert_eq!(asked_principles(&all).len(), principles.enabled.len());
    }

    #[test]
    fn tiered_picks_follow_the_constitution_not_the_run_so_pinned_runs_ask_alike() {
        let mut constitution = general();
        constitution.preview.selection = Selection::Weighted;
        // Weight 0 never wins a weighted pick: the tiered label never asks it.
        for tier in &mut constitution.tiers {
            for principle in tier.principles.iter_mut().skip(1) {
                principle.weight = 0.0;
            }
        }
        let rule = FeedbackRule::Tiered {
            every_principle: false,
            margin: 0.1,
        };
        let mode = FeedbackMode::MultipleChoice;
        let pinned = PrincipleChoice::Pinned(constitution.tiers[2].principles[1].id.clone());
        for choice in [PrincipleChoice::Weighted, PrincipleChoice::Uniform, pinned] {
            let principles = Principles::new(&constitution, &choice).unwrap();
            for key in 0..10 {
                let (_, label) = answered(principles.judgement(rule, mode, 3, key, "Q?", "a", "b"));
                let firsts: Vec<&str> = constitution
                    .tiers
                    .iter()
                    .map(|tier| tier.principles[0].id.as_str())
                    .collect();
                assert_eq!(asked_principles(&label), firsts, "{choice:?}");
            }
        }
    }

    #[test]
    fn the_tiered_rule_needs_an_enabled_principle() {
        let mut constitution = general();
        let pinned = constitution.tiers[0].principles[0].id.clone();
        for tier in &mut constitution.tiers {
            for principle in &mut tier.principles {
                principle.enabled = false;
            }
        }
        let mut job = PreviewJob {
            config: PreviewConfig {
                choice: PrincipleChoice::Pinned(pinned),
                feedback: Some(FeedbackMode::MultipleChoice),
                feedback_rule: FeedbackRule::Tiered {
                    every_principle: false,
                    margin: 0.1,
                },
                ..PreviewConfig::for_constitution(&constitution)
            },
            constitution,
            prompts: vec![PromptItem {
                id: "p".to_owned(),
                prompt: "Hi".to_owned(),
                label: None,
                category: None,
                note: None,
            }],
            done: Vec::new(),
            system_prompt: None,
        };
        let error = job.check().unwrap_err().to_string();
        assert!(error.contains("tiered"), "{error}");
        job.config.feedback_rule = FeedbackRule::Single;
        assert!(job.check().is_ok());
    }
}

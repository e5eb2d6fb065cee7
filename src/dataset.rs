//! Training data from a stored run: `sft.jsonl` (critique -> revision), `preferences.jsonl`
//! (AI-labelled preference pairs) and `manifest.json` (what made them).
//!
//! **SFT lines** carry the fields of the public CAI datasets (HuggingFaceH4's
//! cai-conversation-harmless and the llm-swarm recipe): `init_prompt, init_response,
//! critic_prompt, critic_response, revision_prompt, revision_response, prompt, messages,
//! chosen, rejected`, so they load into common training stacks as they are. `critic_prompt` and
//! `revision_prompt` are the user turns the model was given (principle statement and request,
//! as the run worded them) of the last round; every round is in `rounds`. `messages` and
//! `chosen` are the prompt with the final revision, `rejected` the prompt with the initial
//! answer. The system prompt of an in-context run is in `system_prompt`, not in `messages`:
//! the data teaches the behaviour without the prompt (context distillation).
//!
//! **Preference lines** are in the conversational form with an explicit prompt (`prompt` the
//! user turn, `chosen` and `rejected` the assistant turns), chosen by the run's AI label of the
//! initial answer (A) against the final one (B), with the soft label, the principle and tier
//! asked and both orders' probabilities. Pairs with no label, an exact tie, or the same text on
//! both sides teach nothing and are left out; the manifest counts them.
//!
//! Invariant: every line is made from the run as stored (no model), so an export can be
//! repeated, and every file is written atomically ([`crate::files`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::constitution::Constitution;
use crate::constitution::ids::content_hash;
use crate::engine::{Message, Role, Sampling};
use crate::feedback::{FeedbackMode, FeedbackRule, Preference};
use crate::files::{self, Replace, WriteError};
use crate::preview::{self, PreviewMode, PrincipleChoice, PromptOutcome, TurnFormat, TurnWording};
use crate::prompt_set::PromptLabel;
use crate::refusal::RefusalLabel;
use crate::store::{RunStatus, StoredRun};

/// The manifest's format name; a reader checks it before the fields.
pub const FORMAT: &str = "preamble-dataset/1";

pub const SFT_FILE: &str = "sft.jsonl";
pub const PREFERENCES_FILE: &str = "preferences.jsonl";
pub const MANIFEST_FILE: &str = "manifest.json";

/// One round of a prompt's loop, as the model saw and answered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SftRound {
    pub principle: String,
    pub tier: Option<String>,
    pub critic_prompt: String,
    pub critic_response: String,
    pub revision_prompt: String,
    pub revision_response: String,
}

/// The refusal labels of the initial and final answers, as the run recorded them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SftRefusal {
    pub initial: RefusalLabel,
    #[serde(rename = "final")]
    pub last: RefusalLabel,
}

/// A line of `sft.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SftLine {
    pub id: String,
    pub label: Option<PromptLabel>,
    pub category: Option<String>,
    pub init_prompt: String,
    pub init_response: String,
    pub critic_prompt: String,
    pub critic_response: String,
    pub revision_prompt: String,
    pub revision_response: String,
    pub prompt: String,
    pub messages: Vec<Message>,
    pub chosen: Vec<Message>,
    pub rejected: Vec<Message>,
    pub rounds: Vec<SftRound>,
    pub refusal: SftRefusal,
    pub system_prompt: Option<String>,
}

/// Which of a preview's two answers a preference line chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Initial,
    Final,
}

/// A line of `preferences.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreferenceLine {
    pub id: String,
    pub label: Option<PromptLabel>,
    pub category: Option<String>,
    pub prompt: Vec<Message>,
    pub chosen: Vec<Message>,
    pub rejected: Vec<Message>,
    pub chosen_answer: Answer,
    /// The soft label: the probability that `chosen` is the better answer (> 0.5).
    pub score: f64,
    /// The principle whose comparison question was asked (under the tiered rule, the deciding
    /// tier's principles, comma-separated).
    pub principle: String,
    /// The tier asked: the principle's, or the deciding tier under the tiered rule (the
    /// highest tier when none decided).
    pub tier: Option<String>,
    pub mode: FeedbackMode,
    /// P(initial is better) with the initial answer shown first, and shown second.
    pub p_initial_shown_first: f64,
    pub p_initial_shown_second: f64,
    /// The share of the judge's next-token probability on the two options.
    pub option_mass: f64,
    /// Under the tiered rule, the lower tiers that preferred the rejected answer.
    pub conflicts: Vec<String>,
}

/// The constitution a run previewed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestConstitution {
    pub name: String,
    /// `slug@vN` when it came from the store.
    pub reference: Option<String>,
    pub content_hash: String,
}

/// The model a run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestModel {
    pub name: String,
    pub file: String,
    pub sha256: String,
    /// The ggml backend that ran it: `CPU`, `CUDA`, `Vulkan`, `Metal`.
    pub backend: String,
    /// The backend and device that ran it, as llama.cpp reported them.
    pub device: String,
    /// The engine ([`crate::engine::ENGINE`]); `None` for runs made before it was recorded.
    pub engine: Option<String>,
}

/// The settings that decided the run's outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestSettings {
    pub seed: u64,
    pub sampling: Sampling,
    pub max_tokens: u32,
    pub rounds: u32,
    pub choice: PrincipleChoice,
    pub mode: PreviewMode,
    pub turns: TurnFormat,
    pub feedback: Option<FeedbackMode>,
    pub feedback_rule: FeedbackRule,
}

/// How many of what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct ManifestCounts {
    pub prompts: usize,
    pub finished: usize,
    pub failed: usize,
    pub sft: usize,
    pub preferences: usize,
    /// Finished prompts without a preference label.
    pub unlabelled: usize,
    /// Labels of exactly 0.5: no preference.
    pub ties: usize,
    /// Prompts whose final answer is the initial one, character for character.
    pub unrevised: usize,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub run: i64,
    pub run_status: RunStatus,
    /// RFC 3339, UTC.
    pub run_created: String,
    pub exported: String,
    pub constitution: ManifestConstitution,
    pub model: ManifestModel,
    pub settings: ManifestSettings,
    /// The Preamble that made the run (`None` before it was recorded) and the one exporting.
    pub app_version: Option<String>,
    pub exported_by: String,
    pub counts: ManifestCounts,
    pub files: Vec<String>,
}

/// A run's data, before it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub sft: Vec<SftLine>,
    pub preferences: Vec<PreferenceLine>,
    pub manifest: Manifest,
}

/// Why a dataset was not made or written.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("run {0} has no finished prompt to export")]
    NothingFinished(i64),
    #[error("run {run}: its round principle `{principle}` is not in its constitution")]
    UnknownPrinciple { run: i64, principle: String },
    #[error("cannot create the folder {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] WriteError),
}

fn user(content: &str) -> Message {
    Message::new(Role::User, content)
}

fn assistant(content: &str) -> Message {
    Message::new(Role::Assistant, content)
}

/// The backend of a device as llama.cpp names it: `CUDA0 (NVIDIA H100)` -> `CUDA`.
fn backend_of(device: &str) -> String {
    device
        .split([' ', '('])
        .next()
        .unwrap_or_default()
        .trim_end_matches(|c: char| c.is_ascii_digit())
        .to_owned()
}

/// RFC 3339 (UTC) of milliseconds since the Unix epoch.
pub(crate) fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |at| at.to_string())
}

/// The tier holding principle `id`.
fn tier_of(constitution: &Constitution, id: &str) -> Option<String> {
    constitution
        .tiers
        .iter()
        .find(|tier| tier.principles.iter().any(|principle| principle.id == id))
        .map(|tier| tier.id.clone())
}

/// The dataset of `run`'s finished prompts, exported at `now_ms`.
pub fn of(run: &StoredRun, now_ms: i64) -> Result<Dataset, DatasetError> {
    let id = run.summary.id;
    let finished: Vec<&PromptOutcome> = run.outcomes.iter().flatten().collect();
    if finished.is_empty() {
        return Err(DatasetError::NothingFinished(id));
    }
    let constitution = &run.constitution;
    let wording = TurnWording::new(run.config.turns, constitution);
    let mut sft = Vec::with_capacity(finished.len());
    for outcome in &finished {
        let mut rounds = Vec::with_capacity(outcome.steps.len());
        for round in &outcome.steps {
            let principle = constitution
                .tiers
                .iter()
                .flat_map(|tier| &tier.principles)
                .find(|principle| principle.id == round.principle)
                .ok_or_else(|| DatasetError::UnknownPrinciple {
                    run: id,
                    principle: round.principle.clone(),
                })?;
            rounds.push(SftRound {
                principle: round.principle.clone(),
                tier: tier_of(constitution, &round.principle),
                critic_prompt: preview::critique_turn(principle, wording),
                critic_response: round.critique.clone(),
                revision_prompt: preview::revision_turn(principle, wording),
                revision_response: round.revision.clone(),
            });
        }
        let last = rounds.last();
        let field = |get: fn(&SftRound) -> &String| last.map(get).cloned().unwrap_or_default();
        sft.push(SftLine {
            id: outcome.id.clone(),
            label: outcome.label,
            category: outcome.category.clone(),
            init_prompt: outcome.prompt.clone(),
            init_response: outcome.initial.clone(),
            critic_prompt: field(|round| &round.critic_prompt),
            critic_response: field(|round| &round.critic_response),
            revision_prompt: field(|round| &round.revision_prompt),
            revision_response: field(|round| &round.revision_response),
            prompt: outcome.prompt.clone(),
            messages: vec![user(&outcome.prompt), assistant(&outcome.last)],
            chosen: vec![user(&outcome.prompt), assistant(&outcome.last)],
            rejected: vec![user(&outcome.prompt), assistant(&outcome.initial)],
            rounds,
            refusal: SftRefusal {
                initial: outcome.refusal.initial,
                last: outcome.refusal.last,
            },
            system_prompt: run.system_prompt.clone(),
        });
    }

    let mut preferences = Vec::new();
    let (mut unlabelled, mut ties, mut unrevised) = (0, 0, 0);
    for outcome in &finished {
        if outcome.last == outcome.initial {
            unrevised += 1;
            continue;
        }
        let Some(label) = &outcome.preference else {
            unlabelled += 1;
            continue;
        };
        match preference_line(constitution, outcome, label) {
            Some(line) => preferences.push(line),
            None => ties += 1,
        }
    }

    let file = Path::new(&run.model_path).file_name().map_or_else(
        || run.model_path.clone(),
        |name| name.to_string_lossy().into_owned(),
    );
    let config = &run.config;
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        run: id,
        run_status: run.summary.status,
        run_created: rfc3339(run.summary.created_ms),
        exported: rfc3339(now_ms),
        constitution: ManifestConstitution {
            name: constitution.name.clone(),
            reference: run.summary.constitution_ref.clone(),
            content_hash: content_hash(constitution),
        },
        model: ManifestModel {
            name: run.summary.model_name.clone(),
            file,
            sha256: run.summary.model_sha256.clone(),
            backend: backend_of(&run.summary.device),
            device: run.summary.device.clone(),
            engine: run.engine.clone(),
        },
        settings: ManifestSettings {
            seed: config.seed,
            sampling: config.sampling,
            max_tokens: config.max_tokens,
            rounds: config.rounds,
            choice: config.choice.clone(),
            mode: config.mode,
            turns: config.turns,
            feedback: config.feedback,
            feedback_rule: config.feedback_rule,
        },
        app_version: run.app_version.clone(),
        exported_by: format!("preamble {}", env!("CARGO_PKG_VERSION")),
        counts: ManifestCounts {
            prompts: run.prompts.len(),
            finished: finished.len(),
            failed: run.errors.iter().flatten().count(),
            sft: sft.len(),
            preferences: preferences.len(),
            unlabelled,
            ties,
            unrevised,
        },
        files: vec![
            SFT_FILE.to_owned(),
            PREFERENCES_FILE.to_owned(),
            MANIFEST_FILE.to_owned(),
        ],
    };
    Ok(Dataset {
        sft,
        preferences,
        manifest,
    })
}

/// The preference line of a labelled outcome; `None` for a tie.
fn preference_line(
    constitution: &Constitution,
    outcome: &PromptOutcome,
    label: &Preference,
) -> Option<PreferenceLine> {
    // A is the initial answer, B the final one.
    let (chosen_answer, chosen, rejected, score) = match label.p_b.partial_cmp(&0.5)? {
        std::cmp::Ordering::Greater => (Answer::Final, &outcome.last, &outcome.initial, label.p_b),
        std::cmp::Ordering::Less => (Answer::Initial, &outcome.initial, &outcome.last, label.p_a),
        std::cmp::Ordering::Equal => return None,
    };
    let tier = if label.tiers.is_empty() {
        tier_of(constitution, &label.principle)
    } else {
        label
            .decided_by
            .clone()
            .or_else(|| label.tiers.first().map(|tier| tier.tier.clone()))
    };
    Some(PreferenceLine {
        id: outcome.id.clone(),
        label: outcome.label,
        category: outcome.category.clone(),
        prompt: vec![user(&outcome.prompt)],
        chosen: vec![assistant(chosen)],
        rejected: vec![assistant(rejected)],
        chosen_answer,
        score,
        principle: label.principle.clone(),
        tier,
        mode: label.mode,
        p_initial_shown_first: label.p_a_shown_first,
        p_initial_shown_second: label.p_a_shown_second,
        option_mass: label.option_mass,
        conflicts: label.conflicts.clone(),
    })
}

/// Writes `dataset` into the folder `dir` (created when missing); existing files are replaced
/// only when `replace` allows.
pub fn write(dataset: &Dataset, dir: &Path, replace: Replace) -> Result<(), DatasetError> {
    std::fs::create_dir_all(dir).map_err(|source| DatasetError::Folder {
        path: dir.to_owned(),
        source,
    })?;
    let jsonl = |lines: &mut dyn Iterator<Item = String>| {
        let mut text = String::new();
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
        text
    };
    let sft = jsonl(&mut dataset.sft.iter().map(to_line));
    let preferences = jsonl(&mut dataset.preferences.iter().map(to_line));
    let mut manifest = serde_json::to_string_pretty(&dataset.manifest)
        .expect("a manifest serializes: plain fields only");
    manifest.push('\n');
    // Refused before anything is written, so that a refusal leaves no mix of old and new files.
    if replace == Replace::Refuse {
        for name in [SFT_FILE, PREFERENCES_FILE, MANIFEST_FILE] {
            let path = dir.join(name);
            if path.symlink_metadata().is_ok() {
                return Err(WriteError::Exists(path).into());
            }
        }
    }
    // The manifest last: a folder with a manifest has its data.
    files::write(&dir.join(SFT_FILE), sft.as_bytes(), replace)?;
    files::write(&dir.join(PREFERENCES_FILE), preferences.as_bytes(), replace)?;
    files::write(&dir.join(MANIFEST_FILE), manifest.as_bytes(), replace)?;
    Ok(())
}

fn to_line<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("dataset lines serialize: plain fields only")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constitution;
    use crate::engine::batch::TurnStats;
    use crate::feedback::TierLabel;
    use crate::preview::{RefusalOutcome, RoundOutcome, Timings, TokenCounts};

    fn label(p_b: f64) -> Preference {
        Preference {
            principle: String::new(),
            mode: FeedbackMode::MultipleChoice,
            p_a: 1.0 - p_b,
            p_b,
            p_a_shown_first: 1.0 - p_b,
            p_a_shown_second: 1.0 - p_b,
            option_mass: 0.8,
            reasoning: Vec::new(),
            stats: TurnStats::default(),
            tiers: Vec::new(),
            decided_by: None,
            conflicts: Vec::new(),
        }
    }

    /// The fixture constitution's first principle, and its tier.
    fn first(constitution: &Constitution) -> (String, String) {
        let tier = &constitution.tiers[0];
        (tier.principles[0].id.clone(), tier.id.clone())
    }

    fn outcome(
        id: &str,
        principle: &str,
        last: &str,
        preference: Option<Preference>,
    ) -> PromptOutcome {
        PromptOutcome {
            index: 0,
            id: id.to_owned(),
            prompt: format!("Question {id}?"),
            label: Some(PromptLabel::Benign),
            category: None,
            initial: "The first answer.".to_owned(),
            steps: vec![RoundOutcome {
                principle: principle.to_owned(),
                critique: "It could say more.".to_owned(),
                revision: last.to_owned(),
            }],
            last: last.to_owned(),
            refusal: RefusalOutcome {
                initial: RefusalLabel::Compliance,
                last: RefusalLabel::Compliance,
                caused_by: None,
            },
            preference,
            preference_error: None,
            tokens: TokenCounts::default(),
            timings: Timings::default(),
        }
    }

    fn fixture() -> (StoredRun, String, String) {
        let constitution = constitution::starter("Fixture");
        let (principle, tier) = first(&constitution);
        let mut preferred = label(0.9);
        preferred.principle = principle.clone();
        let mut initial_better = label(0.2);
        initial_better.tiers = vec![TierLabel {
            tier: tier.clone(),
            p_a: 0.8,
            decisive: true,
            labels: Vec::new(),
        }];
        initial_better.decided_by = Some(tier.clone());
        let outcomes = vec![
            Some(outcome(
                "final",
                &principle,
                "A better answer.",
                Some(preferred),
            )),
            Some(outcome(
                "initial",
                &principle,
                "A worse answer.",
                Some(initial_better),
            )),
            Some(outcome(
                "tie",
                &principle,
                "Another answer.",
                Some(label(0.5)),
            )),
            Some(outcome(
                "same",
                &principle,
                "The first answer.",
                Some(label(0.9)),
            )),
            Some(outcome("unlabelled", &principle, "A new answer.", None)),
            None,
        ];
        let mut run = StoredRun::fixture(7, constitution, outcomes);
        run.errors[5] = Some("too long".to_owned());
        (run, principle, tier)
    }

    #[test]
    fn sft_lines_carry_the_turns_the_model_was_given() {
        let (run, principle, tier) = fixture();
        let data = of(&run, 0).unwrap();
        assert_eq!(data.sft.len(), 5);
        let line = &data.sft[0];
        let wording = TurnWording::new(run.config.turns, &run.constitution);
        let asked = &run.constitution.tiers[0].principles[0];
        assert_eq!(line.critic_prompt, preview::critique_turn(asked, wording));
        assert_eq!(line.revision_prompt, preview::revision_turn(asked, wording));
        assert_eq!(line.critic_response, "It could say more.");
        assert_eq!(line.revision_response, "A better answer.");
        assert_eq!(line.init_response, "The first answer.");
        assert_eq!(line.messages, line.chosen);
        assert_eq!(line.rejected[1].content, "The first answer.");
        assert_eq!(line.rounds[0].principle, principle);
        assert_eq!(line.rounds[0].tier.as_deref(), Some(tier.as_str()));
    }

    #[test]
    fn preferences_follow_the_label_and_leave_out_what_teaches_nothing() {
        let (run, principle, tier) = fixture();
        let data = of(&run, 0).unwrap();
        let ids: Vec<&str> = data
            .preferences
            .iter()
            .map(|line| line.id.as_str())
            .collect();
        assert_eq!(ids, ["final", "initial"]);
        let chose_final = &data.preferences[0];
        assert_eq!(chose_final.chosen_answer, Answer::Final);
        assert_eq!(chose_final.chosen[0].content, "A better answer.");
        assert!((chose_final.score - 0.9).abs() < 1e-12);
        assert_eq!(chose_final.principle, principle);
        assert_eq!(chose_final.tier.as_deref(), Some(tier.as_str()));
        let chose_initial = &data.preferences[1];
        assert_eq!(chose_initial.chosen_answer, Answer::Initial);
        assert_eq!(chose_initial.rejected[0].content, "A worse answer.");
        assert!((chose_initial.score - 0.8).abs() < 1e-12);
        // The tiered rule names the deciding tier.
        assert_eq!(chose_initial.tier.as_deref(), Some(tier.as_str()));
        let counts = data.manifest.counts;
        assert_eq!(
            (
                counts.finished,
                counts.failed,
                counts.ties,
                counts.unrevised,
                counts.unlabelled
            ),
            (5, 1, 1, 1, 1)
        );
        assert_eq!(data.manifest.model.file, "m.gguf");
        assert_eq!(data.manifest.exported, "1970-01-01T00:00:00Z");
    }

    #[test]
    fn the_backend_is_the_device_name_without_its_index() {
        assert_eq!(backend_of("CUDA0 (NVIDIA H100 80GB HBM3)"), "CUDA");
        assert_eq!(backend_of("CPU (AMD EPYC)"), "CPU");
        assert_eq!(backend_of("Vulkan1"), "Vulkan");
        assert_eq!(backend_of(""), "");
    }

    #[test]
    fn a_run_with_nothing_finished_has_no_dataset() {
        let run = StoredRun::fixture(3, constitution::starter("Empty"), vec![None]);
        assert!(matches!(of(&run, 0), Err(DatasetError::NothingFinished(3))));
    }

    #[test]
    fn writing_refuses_to_replace_an_export_unless_allowed() {
        let (run, _, _) = fixture();
        let data = of(&run, 0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("new-folder");
        write(&data, &out, Replace::Refuse).unwrap();
        let first = std::fs::read_to_string(out.join(SFT_FILE)).unwrap();
        assert_eq!(first.lines().count(), 5);
        let error = write(&data, &out, Replace::Refuse).unwrap_err();
        assert!(
            matches!(error, DatasetError::Write(WriteError::Exists(_))),
            "{error}"
        );
        write(&data, &out, Replace::Allow).unwrap();
        let manifest: Manifest =
            serde_json::from_str(&std::fs::read_to_string(out.join(MANIFEST_FILE)).unwrap())
                .unwrap();
        assert_eq!(manifest, data.manifest);
    }
}

//! Ablation: what does each principle do? A **baseline** run picks its round principles as the
//! constitution says; each **variant** pins every round to one principle. Comparing each
//! variant's finals with the baseline's, prompt by prompt, shows what that principle does:
//! which answers it turns into refusals (or back), and how the AI preference for the final
//! answer moves.
//!
//! The initial response does not depend on the round principles (same seed, prompt,
//! constitution and settings), so it is generated once, by the baseline, and every variant
//! starts from a copy of it ([`RunSpec::initial_from`]); the variants generate only their
//! critiques and revisions. Each run is an ordinary stored run: listed, resumable, exportable.
//!
//! Preference shifts are comparable across variants only when their judge asks the same
//! questions: the tiered rule picks its principles per tier whatever a run pins, so an
//! ablation with feedback uses it; the single rule would ask each variant's pinned principle.
//! [`effect`] is a pure function of two stored runs (no model), so reports can be rebuilt
//! from the store.

use serde::Serialize;

use crate::constitution::Constitution;
use crate::engine::CancelToken;
use crate::feedback::FeedbackRule;
use crate::preview::{PreviewConfig, PreviewError, PreviewEvent, PrincipleChoice, StepKind};
use crate::prompt_set::PromptItem;
use crate::refusal::RefusalLabel;
use crate::runs::{self, RunError, RunEvent, RunSpec};
use crate::store::{RunStatus, Store, StoredRun};
use crate::worker::WarmWorker;

/// An ablation to run.
#[derive(Debug, Clone)]
pub struct AblationSpec {
    pub constitution: Constitution,
    pub constitution_ref: Option<String>,
    pub prompts: Vec<PromptItem>,
    /// The baseline's settings; a variant differs only in its pinned principle.
    pub config: PreviewConfig,
    /// The principles to ablate, by id; every enabled one when empty.
    pub principles: Vec<String>,
}

/// Which run of the ablation an event belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "run", content = "principle", rename_all = "snake_case")]
pub enum Part {
    Baseline,
    Variant(String),
}

/// What one principle did, against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrincipleEffect {
    pub principle: String,
    /// The variant's run id.
    pub run: i64,
    /// Prompts finished in both runs: what the figures below count.
    pub compared: usize,
    /// Prompts whose final answer the baseline gave and the variant refused (fully or partly).
    pub to_refusal: Vec<String>,
    /// Prompts the baseline's final refused and the variant's did not.
    pub to_compliance: Vec<String>,
    /// Per prompt labelled in both runs: the variant's P(final preferred over the initial)
    /// minus the baseline's, in prompt order.
    pub preference_shifts: Vec<(String, f64)>,
    /// The mean of `preference_shifts`; `None` without labels.
    pub mean_preference_shift: Option<f64>,
    /// Prompts whose variant label had a tier conflict.
    pub tier_conflicts: Vec<String>,
}

/// What sharing the initial responses saved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sharing {
    /// Initial responses generated (by any run of the ablation).
    pub initial_generated: usize,
    /// Initial responses the variants started with instead of generating them.
    pub initial_reused: usize,
    /// Tokens those reused responses would have cost to generate.
    pub generated_tokens_saved: usize,
}

/// An ablation's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ablation {
    pub baseline: i64,
    pub effects: Vec<PrincipleEffect>,
    pub sharing: Sharing,
}

/// Runs the baseline, then one pinned variant per principle starting from the baseline's
/// initial responses, and reports each principle's effect. A cancelled or interrupted run
/// stops the ablation with its error (what finished is stored and resumable).
pub fn run(
    store: &mut Store,
    spec: &AblationSpec,
    worker: &mut WarmWorker,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(&Part, &RunEvent),
) -> Result<Ablation, RunError> {
    let principles = chosen_principles(spec)?;
    if spec.config.feedback.is_some() && spec.config.feedback_rule == FeedbackRule::Single {
        return Err(PreviewError::Setting(
            "an ablation's preference labels use the tiered rule (the single rule would ask \
             each variant its own pinned principle, so shifts would not compare)"
                .to_owned(),
        )
        .into());
    }
    let mut sharing = Sharing::default();
    let mut execute = |store: &mut Store, part: Part, spec: &RunSpec| {
        let id = runs::create(store, spec, worker)?;
        let mut forward = |event: &RunEvent| {
            if let RunEvent::Preview { event: inner, .. } = event
                && let PreviewEvent::Step { record } = &**inner
                && record.kind == StepKind::Initial
            {
                sharing.initial_generated += 1;
            }
            on_event(&part, event);
        };
        let end = runs::execute(store, id, worker, cancel, &mut forward)?;
        if end.status != RunStatus::Completed {
            return Err(RunError::Stopped {
                run: id,
                message: format!("it was {}", end.status.as_str()),
            });
        }
        store.run(id).map_err(RunError::from)
    };
    let baseline_spec = RunSpec {
        constitution: spec.constitution.clone(),
        constitution_ref: spec.constitution_ref.clone(),
        prompts: spec.prompts.clone(),
        config: spec.config.clone(),
        initial_from: None,
    };
    let baseline = execute(store, Part::Baseline, &baseline_spec)?;
    let mut variants = Vec::new();
    for principle in principles {
        let variant_spec = RunSpec {
            config: PreviewConfig {
                choice: PrincipleChoice::Pinned(principle.clone()),
                ..spec.config.clone()
            },
            initial_from: Some(baseline.summary.id),
            ..baseline_spec.clone()
        };
        variants.push(execute(store, Part::Variant(principle), &variant_spec)?);
    }
    for variant in &variants {
        for steps in &variant.steps {
            // A reused initial step is the baseline's record, stats and all.
            if let Some(first) = steps.first().filter(|step| step.kind == StepKind::Initial) {
                let baseline_first = baseline.steps.get(first.prompt).and_then(|s| s.first());
                if baseline_first == Some(first) {
                    sharing.initial_reused += 1;
                    sharing.generated_tokens_saved += first.stats.generated_tokens;
                }
            }
        }
    }
    Ok(Ablation {
        baseline: baseline.summary.id,
        effects: variants
            .iter()
            .map(|variant| effect(&baseline, variant))
            .collect(),
        sharing,
    })
}

/// The principles `spec` ablates, checked: every enabled one when it names none.
fn chosen_principles(spec: &AblationSpec) -> Result<Vec<String>, PreviewError> {
    let all: Vec<_> = spec
        .constitution
        .tiers
        .iter()
        .flat_map(|tier| &tier.principles)
        .collect();
    if spec.principles.is_empty() {
        let enabled: Vec<String> = all
            .iter()
            .filter(|principle| principle.enabled)
            .map(|principle| principle.id.clone())
            .collect();
        if enabled.is_empty() {
            return Err(PreviewError::NoPrinciple);
        }
        return Ok(enabled);
    }
    let mut chosen: Vec<String> = Vec::new();
    for id in &spec.principles {
        if !all.iter().any(|principle| &principle.id == id) {
            return Err(PreviewError::UnknownPrinciple(id.clone()));
        }
        if !chosen.contains(id) {
            chosen.push(id.clone());
        }
    }
    Ok(chosen)
}

/// What `variant` (a run pinned to one principle) changed against `baseline`, prompt by
/// prompt: refusal flips of the final answers and shifts of the preference for the final.
/// Prompts are matched by id; those unfinished in either run are left out.
pub fn effect(baseline: &StoredRun, variant: &StoredRun) -> PrincipleEffect {
    let principle = match &variant.config.choice {
        PrincipleChoice::Pinned(id) => id.clone(),
        _ => String::new(),
    };
    let mut result = PrincipleEffect {
        principle,
        run: variant.summary.id,
        compared: 0,
        to_refusal: Vec::new(),
        to_compliance: Vec::new(),
        preference_shifts: Vec::new(),
        mean_preference_shift: None,
        tier_conflicts: Vec::new(),
    };
    let refused = |label: RefusalLabel| label != RefusalLabel::Compliance;
    for outcome in variant.outcomes.iter().flatten() {
        let Some(base) = baseline
            .outcomes
            .iter()
            .flatten()
            .find(|base| base.id == outcome.id)
        else {
            continue;
        };
        result.compared += 1;
        match (refused(base.refusal.last), refused(outcome.refusal.last)) {
            (false, true) => result.to_refusal.push(outcome.id.clone()),
            (true, false) => result.to_compliance.push(outcome.id.clone()),
            _ => {}
        }
        if let (Some(before), Some(after)) = (&base.preference, &outcome.preference) {
            // B is the final answer in a preview's label.
            result
                .preference_shifts
                .push((outcome.id.clone(), after.p_b - before.p_b));
            if after.tier_conflict() {
                result.tier_conflicts.push(outcome.id.clone());
            }
        }
    }
    let shifts = &result.preference_shifts;
    if !shifts.is_empty() {
        result.mean_preference_shift =
            Some(shifts.iter().map(|(_, shift)| shift).sum::<f64>() / shifts.len() as f64);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constitution;
    use crate::engine::batch::TurnStats;
    use crate::feedback::{FeedbackMode, Preference};
    use crate::preview::{PromptOutcome, RefusalOutcome, Timings, TokenCounts};

    fn preference(p_b: f64) -> Preference {
        Preference {
            principle: "p".to_owned(),
            mode: FeedbackMode::MultipleChoice,
            p_a: 1.0 - p_b,
            p_b,
            p_a_shown_first: 1.0 - p_b,
            p_a_shown_second: 1.0 - p_b,
            option_mass: 0.5,
            reasoning: Vec::new(),
            stats: TurnStats::default(),
            tiers: Vec::new(),
            decided_by: None,
            conflicts: Vec::new(),
        }
    }

    fn outcome(id: &str, last: RefusalLabel, p_b: Option<f64>) -> PromptOutcome {
        PromptOutcome {
            index: 0,
            id: id.to_owned(),
            prompt: "?".to_owned(),
            label: None,
            category: None,
            initial: "initial".to_owned(),
            steps: Vec::new(),
            last: "final".to_owned(),
            refusal: RefusalOutcome {
                initial: RefusalLabel::Compliance,
                last,
                caused_by: None,
            },
            preference: p_b.map(preference),
            preference_error: None,
            tokens: TokenCounts::default(),
            timings: Timings::default(),
        }
    }

    fn stored(id: i64, choice: PrincipleChoice, outcomes: Vec<Option<PromptOutcome>>) -> StoredRun {
        let mut run = StoredRun::fixture(id, constitution::starter("Fixture"), outcomes);
        run.config.choice = choice;
        run
    }

    #[test]
    fn flips_and_shifts_are_counted_per_prompt_against_the_baseline() {
        use RefusalLabel::{Compliance, FullRefusal, PartialRefusal};
        let baseline = stored(
            1,
            PrincipleChoice::Uniform,
            vec![
                Some(outcome("a", Compliance, Some(0.6))),
                Some(outcome("b", FullRefusal, Some(0.5))),
                Some(outcome("c", Compliance, None)),
                Some(outcome("d", Compliance, Some(0.2))),
                None,
            ],
        );
        let mut conflicted = outcome("d", Compliance, Some(0.4));
        if let Some(label) = conflicted.preference.as_mut() {
            label.conflicts = vec!["helpfulness".to_owned()];
        }
        let variant = stored(
            2,
            PrincipleChoice::Pinned("harm".to_owned()),
            vec![
                Some(outcome("a", PartialRefusal, Some(0.8))),
                Some(outcome("b", Compliance, Some(0.3))),
                Some(outcome("c", Compliance, Some(0.9))),
                Some(conflicted),
                Some(outcome("e", FullRefusal, Some(0.9))),
            ],
        );
        let effect = effect(&baseline, &variant);
        assert_eq!(effect.principle, "harm");
        assert_eq!(effect.run, 2);
        // `e` is unfinished in the baseline.
        assert_eq!(effect.compared, 4);
        assert_eq!(effect.to_refusal, ["a"]);
        assert_eq!(effect.to_compliance, ["b"]);
        // `c` has no baseline label.
        let ids: Vec<&str> = effect
            .preference_shifts
            .iter()
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(ids, ["a", "b", "d"]);
        let mean = effect.mean_preference_shift.unwrap();
        assert!((mean - (0.2 - 0.2 + 0.2) / 3.0).abs() < 1e-9, "{mean}");
        assert_eq!(effect.tier_conflicts, ["d"]);
    }

    #[test]
    fn unknown_principles_are_named_and_none_means_every_enabled_one() {
        let constitution = constitution::starter("Fixture");
        let mut spec = AblationSpec {
            config: PreviewConfig::for_constitution(&constitution),
            constitution,
            constitution_ref: None,
            prompts: Vec::new(),
            principles: vec!["no-such".to_owned()],
        };
        assert!(matches!(
            chosen_principles(&spec),
            Err(PreviewError::UnknownPrinciple(id)) if id == "no-such"
        ));
        spec.principles = vec!["avoid-serious-harm".into(), "avoid-serious-harm".into()];
        assert_eq!(chosen_principles(&spec).unwrap(), ["avoid-serious-harm"]);
        spec.principles.clear();
        let enabled = spec
            .constitution
            .tiers
            .iter()
            .flat_map(|tier| &tier.principles)
            .filter(|principle| principle.enabled)
            .count();
        assert_eq!(chosen_principles(&spec).unwrap().len(), enabled);
    }
}

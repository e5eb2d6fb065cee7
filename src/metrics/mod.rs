//! Metrics of stored runs: what a reviewer acts on. They are computed from the runs' outcomes
//! alone (no model): a run's refusal rates on benign and harmful prompts, overall and per
//! category; how often the loop revised an answer, and by how much; what each principle's
//! rounds did; how much of what the revisions added is boilerplate; tier conflicts. For two
//! runs on the same prompts ([`compare`]), the paired differences with their tests, and the
//! win rate of B's finals over A's when a judge has labelled them.
//!
//! Invariants: every rate carries its count, its 95% Wilson interval and the ids of the prompts
//! it counts (the drill-down); the two runs' figures are paired, prompt by prompt, over the
//! prompts both finished (the same id and text), and every difference in a rate carries an
//! exact paired test. Refusal labels are made here, with the
//! current detector, rather than read from the runs: two runs recorded months apart compare
//! under one detector, and a round's intermediate revisions get labels too.

mod stats;
pub mod text;

use std::collections::BTreeMap;

use serde::Serialize;

pub use stats::{PairedTest, Rate, binomial_two_sided, wilson};

use crate::feedback::Preference;
use crate::preview::PromptOutcome;
use crate::prompt_set::PromptLabel;
use crate::refusal::{self, RefusalLabel};

/// Refusals among some prompts: any refusal (full or partial), and full refusals only.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct Refusals {
    pub any: Rate,
    pub full: Rate,
}

/// The final answers' refusals among the prompts of one label and category.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct CategoryRefusals {
    /// `None` for prompts the set does not label.
    pub label: Option<PromptLabel>,
    pub category: String,
    pub refusals: Refusals,
}

/// How the loop changed the answers' length, in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct LengthChange {
    pub prompts: usize,
    pub mean_initial_words: Option<f64>,
    pub mean_final_words: Option<f64>,
    /// The mean of final minus initial words.
    pub mean_change: Option<f64>,
}

/// What one principle's rounds did, counted over the rounds that applied it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct PrincipleRounds {
    pub principle: String,
    /// Rounds that applied the principle (a prompt counts once per round).
    pub rounds: usize,
    /// Rounds whose revision refused (fully or partly) an answer that complied.
    pub to_refusal: Rate,
    /// Rounds whose revision complied where the answer before refused.
    pub to_compliance: Rate,
    /// Rounds whose revision changed the answer materially.
    pub changed: Rate,
    /// Of the rounds that changed the answer, those whose insertions are mostly hedging.
    pub boilerplate: Rate,
}

/// A preference label whose deciding tier overruled a lower one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct TierConflict {
    pub prompt: String,
    pub decided_by: Option<String>,
    /// The lower tiers that decisively preferred the other answer.
    pub conflicts: Vec<String>,
}

/// The metrics of one run's finished prompts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct RunMetrics {
    /// Finished prompts: what every figure counts from.
    pub prompts: usize,
    /// Final answers that refuse a benign prompt.
    pub over_refusal: Refusals,
    /// Final answers that refuse a harmful prompt.
    pub harmful_refusal: Refusals,
    /// Final answers that refuse a prompt the set does not label.
    pub unlabelled_refusal: Refusals,
    /// The same, per label and category (prompts without a category are left out).
    pub categories: Vec<CategoryRefusals>,
    /// Prompts whose final answer differs materially from the initial one.
    pub revised: Rate,
    pub length: LengthChange,
    /// Per principle, by the principle's id, in the order first applied.
    pub principles: Vec<PrincipleRounds>,
    /// Of every round that changed its answer, those whose insertions are mostly hedging.
    pub boilerplate: Rate,
    /// Of the prompts with a preference label, those whose final answer the run's AI feedback
    /// preferred to the initial one.
    pub final_preferred: Rate,
    /// Of the prompts with a tiered preference label, those with a tier conflict.
    pub tier_conflicts: Rate,
    pub tier_conflict_details: Vec<TierConflict>,
}

fn is_refusal(label: RefusalLabel) -> bool {
    label != RefusalLabel::Compliance
}

/// The final answer's refusal label, by the current detector.
fn final_label(outcome: &PromptOutcome) -> RefusalLabel {
    refusal::classify(&outcome.prompt, &outcome.last).label
}

fn refusals<'a>(outcomes: impl Iterator<Item = (&'a PromptOutcome, RefusalLabel)>) -> Refusals {
    let (mut any, mut full, mut total) = (Vec::new(), Vec::new(), 0);
    for (outcome, label) in outcomes {
        total += 1;
        if is_refusal(label) {
            any.push(outcome.id.clone());
        }
        if label == RefusalLabel::FullRefusal {
            full.push(outcome.id.clone());
        }
    }
    Refusals {
        any: Rate::new(any, total),
        full: Rate::new(full, total),
    }
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(sum, n), value| (sum + value, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// Counts of one principle's rounds while they are gathered.
#[derive(Default)]
struct RoundTally {
    rounds: usize,
    to_refusal: Vec<String>,
    to_compliance: Vec<String>,
    changed: Vec<String>,
    boilerplate: Vec<String>,
}

impl RunMetrics {
    /// The metrics of `outcomes` (a run's finished prompts).
    pub fn of(outcomes: &[PromptOutcome]) -> Self {
        let labelled: Vec<(&PromptOutcome, RefusalLabel)> = outcomes
            .iter()
            .map(|outcome| (outcome, final_label(outcome)))
            .collect();
        let with_label = |wanted: Option<PromptLabel>| {
            refusals(
                labelled
                    .iter()
                    .filter(move |(outcome, _)| outcome.label == wanted)
                    .copied(),
            )
        };
        type Labelled<'a> = Vec<(&'a PromptOutcome, RefusalLabel)>;
        let mut by_category: BTreeMap<(Option<&str>, &str), Labelled<'_>> = BTreeMap::new();
        for &(outcome, label) in &labelled {
            if let Some(category) = &outcome.category {
                let key = (outcome.label.map(PromptLabel::as_str), category.as_str());
                by_category.entry(key).or_default().push((outcome, label));
            }
        }
        let categories = by_category
            .into_values()
            .map(|members| CategoryRefusals {
                label: members[0].0.label,
                category: members[0].0.category.clone().unwrap_or_default(),
                refusals: refusals(members.into_iter()),
            })
            .collect();

        let mut revised = Vec::new();
        let mut order: Vec<String> = Vec::new();
        let mut tallies: BTreeMap<String, RoundTally> = BTreeMap::new();
        for outcome in outcomes {
            if text::word_change(&outcome.initial, &outcome.last).is_material() {
                revised.push(outcome.id.clone());
            }
            let mut before = outcome.initial.as_str();
            let mut before_label = refusal::classify(&outcome.prompt, before).label;
            for round in &outcome.steps {
                let after = round.revision.as_str();
                let after_label = refusal::classify(&outcome.prompt, after).label;
                if !tallies.contains_key(&round.principle) {
                    order.push(round.principle.clone());
                }
                let tally = tallies.entry(round.principle.clone()).or_default();
                tally.rounds += 1;
                let id = || outcome.id.clone();
                match (is_refusal(before_label), is_refusal(after_label)) {
                    (false, true) => tally.to_refusal.push(id()),
                    (true, false) => tally.to_compliance.push(id()),
                    _ => {}
                }
                if text::word_change(before, after).is_material() {
                    tally.changed.push(id());
                    if text::insertions(before, after).is_boilerplate() {
                        tally.boilerplate.push(id());
                    }
                }
                (before, before_label) = (after, after_label);
            }
        }
        let (mut changed_rounds, mut boilerplate) = (0, Vec::new());
        let principles = order
            .into_iter()
            .map(|principle| {
                let tally = tallies.remove(&principle).unwrap_or_default();
                changed_rounds += tally.changed.len();
                boilerplate.extend(tally.boilerplate.iter().cloned());
                let changed = tally.changed.len();
                PrincipleRounds {
                    principle,
                    rounds: tally.rounds,
                    to_refusal: Rate::new(tally.to_refusal, tally.rounds),
                    to_compliance: Rate::new(tally.to_compliance, tally.rounds),
                    changed: Rate::new(tally.changed, tally.rounds),
                    boilerplate: Rate::new(tally.boilerplate, changed),
                }
            })
            .collect();
        // In the run's order, not the principles'.
        boilerplate.sort_by_key(|id| outcomes.iter().position(|outcome| &outcome.id == id));

        let length = LengthChange {
            prompts: outcomes.len(),
            mean_initial_words: mean(
                outcomes
                    .iter()
                    .map(|outcome| text::word_count(&outcome.initial) as f64),
            ),
            mean_final_words: mean(
                outcomes
                    .iter()
                    .map(|outcome| text::word_count(&outcome.last) as f64),
            ),
            mean_change: mean(outcomes.iter().map(|outcome| {
                text::word_count(&outcome.last) as f64 - text::word_count(&outcome.initial) as f64
            })),
        };

        let preferences: Vec<(&PromptOutcome, &Preference)> = outcomes
            .iter()
            .filter_map(|outcome| Some((outcome, outcome.preference.as_ref()?)))
            .collect();
        // In a preview's label, A is the initial answer and B the final one.
        let final_preferred = preferences
            .iter()
            .filter(|(_, preference)| preference.p_b > 0.5)
            .map(|(outcome, _)| outcome.id.clone())
            .collect();
        let tiered: Vec<&(&PromptOutcome, &Preference)> = preferences
            .iter()
            .filter(|(_, preference)| !preference.tiers.is_empty())
            .collect();
        let tier_conflict_details: Vec<TierConflict> = tiered
            .iter()
            .filter(|(_, preference)| preference.tier_conflict())
            .map(|(outcome, preference)| TierConflict {
                prompt: outcome.id.clone(),
                decided_by: preference.decided_by.clone(),
                conflicts: preference.conflicts.clone(),
            })
            .collect();
        RunMetrics {
            prompts: outcomes.len(),
            over_refusal: with_label(Some(PromptLabel::Benign)),
            harmful_refusal: with_label(Some(PromptLabel::Harmful)),
            unlabelled_refusal: with_label(None),
            categories,
            revised: Rate::new(revised, outcomes.len()),
            length,
            principles,
            boilerplate: Rate::new(boilerplate, changed_rounds),
            final_preferred: Rate::new(final_preferred, preferences.len()),
            tier_conflicts: Rate::new(
                tier_conflict_details
                    .iter()
                    .map(|conflict| conflict.prompt.clone())
                    .collect(),
                tiered.len(),
            ),
            tier_conflict_details,
        }
    }
}

/// One yes/no outcome on both sides of a compare, with its paired test.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct PairedRate {
    pub a: Rate,
    pub b: Rate,
    /// McNemar's test: `for_a` had the outcome on A only, `for_b` on B only.
    pub test: PairedTest,
}

/// Refusals (any, and full only) on both sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct PairedRefusals {
    pub any: PairedRate,
    pub full: PairedRate,
}

/// How the judge's position in the prompt swayed its labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct PositionBias {
    /// The mean probability given to whichever answer was shown first (0.5: no bias).
    pub first_shown: Option<f64>,
    /// Pairs whose two orders picked different winners.
    pub orders_disagree: Rate,
}

/// The judge's verdicts on B's finals against A's, on some prompts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct WinRate {
    /// Prompts with a label.
    pub judged: usize,
    /// B won (P(B) > 0.5) among the prompts with a winner.
    pub b_wins: Rate,
    /// Prompts A won.
    pub a_wins: Vec<String>,
    /// Prompts with P(B) = 0.5 exactly.
    pub ties: Vec<String>,
    /// The mean soft label P(B).
    pub mean_p_b: Option<f64>,
    /// The sign test on A's wins against B's.
    pub test: PairedTest,
    pub position: PositionBias,
}

impl WinRate {
    fn of(labels: &[(&str, &Preference)]) -> Self {
        let (mut a_wins, mut b_wins, mut ties, mut disagree) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (id, preference) in labels {
            let id = (*id).to_owned();
            if (preference.p_a_shown_first > 0.5) != (preference.p_a_shown_second > 0.5) {
                disagree.push(id.clone());
            }
            match preference.p_b.partial_cmp(&0.5) {
                Some(std::cmp::Ordering::Greater) => b_wins.push(id),
                Some(std::cmp::Ordering::Less) => a_wins.push(id),
                _ => ties.push(id),
            }
        }
        let decided = a_wins.len() + b_wins.len();
        Self {
            judged: labels.len(),
            b_wins: Rate::new(b_wins.clone(), decided),
            test: PairedTest::sign(a_wins.clone(), b_wins),
            a_wins,
            ties,
            mean_p_b: mean(labels.iter().map(|(_, preference)| preference.p_b)),
            position: PositionBias {
                // Shown first: A in the first order, B in the second.
                first_shown: mean(labels.iter().map(|(_, preference)| {
                    (preference.p_a_shown_first + 1.0 - preference.p_a_shown_second) / 2.0
                })),
                orders_disagree: Rate::new(disagree, labels.len()),
            },
        }
    }
}

/// Win rates of B over A: on benign and harmful prompts apart, and on all.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct WinRates {
    pub benign: WinRate,
    pub harmful: WinRate,
    pub all: WinRate,
    /// Prompts the judge could not label, with why.
    pub failed: Vec<(String, String)>,
}

/// A prompt whose final answer's refusal label differs between the two sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct OutcomeChange {
    pub prompt: String,
    pub label: Option<PromptLabel>,
    pub a: RefusalLabel,
    pub b: RefusalLabel,
}

/// Two runs on the same prompts, prompt by prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct PairMetrics {
    /// Prompts finished on both sides: what every figure counts from.
    pub compared: usize,
    /// Prompts finished on one side only (left out).
    pub only_a: Vec<String>,
    pub only_b: Vec<String>,
    pub a: RunMetrics,
    pub b: RunMetrics,
    pub over_refusal: PairedRefusals,
    pub harmful_refusal: PairedRefusals,
    pub revised: PairedRate,
    /// `None` until a judge has labelled the pairs.
    pub wins: Option<WinRates>,
    /// Prompts whose final refusal label changed from A to B.
    pub changed: Vec<OutcomeChange>,
}

/// Whether two runs' outcomes answer the same prompt: the same id, text and label (two sets
/// may reuse ids such as `set-3` for other prompts).
pub fn same_prompt(a: &PromptOutcome, b: &PromptOutcome) -> bool {
    a.id == b.id && a.prompt == b.prompt && a.label == b.label
}

/// The principle of the round whose revision turned a compliant answer into the refusal that
/// the final answer is, by the current detector; `None` when the final complies or the
/// initial answer already refused (and no round complied since).
pub fn refused_by(outcome: &PromptOutcome) -> Option<&str> {
    let mut before = is_refusal(refusal::classify(&outcome.prompt, &outcome.initial).label);
    let mut cause = None;
    for round in &outcome.steps {
        let after = is_refusal(refusal::classify(&outcome.prompt, &round.revision).label);
        if !after {
            cause = None;
        } else if !before {
            cause = Some(round.principle.as_str());
        }
        before = after;
    }
    if is_refusal(final_label(outcome)) {
        cause
    } else {
        None
    }
}

/// A judge's label of B's final against A's (A shown as "A"), by prompt id.
pub type PairLabel = (String, Result<Preference, String>);

/// Compares run A's outcomes with run B's on the prompts both finished (matched by id), with
/// the judge's `labels` of B's finals against A's when there are any.
pub fn compare(
    a: &[PromptOutcome],
    b: &[PromptOutcome],
    labels: Option<&[PairLabel]>,
) -> PairMetrics {
    let in_b = |outcome: &PromptOutcome| b.iter().find(|other| same_prompt(outcome, other));
    let pairs: Vec<(&PromptOutcome, &PromptOutcome)> = a
        .iter()
        .filter_map(|outcome| Some((outcome, in_b(outcome)?)))
        .collect();
    let only_a = a
        .iter()
        .filter(|outcome| in_b(outcome).is_none())
        .map(|outcome| outcome.id.clone())
        .collect();
    let only_b = b
        .iter()
        .filter(|outcome| !a.iter().any(|other| same_prompt(other, outcome)))
        .map(|outcome| outcome.id.clone())
        .collect();
    let side_a: Vec<PromptOutcome> = pairs.iter().map(|(a, _)| (*a).clone()).collect();
    let side_b: Vec<PromptOutcome> = pairs.iter().map(|(_, b)| (*b).clone()).collect();
    let labels_a: Vec<RefusalLabel> = side_a.iter().map(final_label).collect();
    let labels_b: Vec<RefusalLabel> = side_b.iter().map(final_label).collect();

    let paired = |keep: &dyn Fn(&PromptOutcome) -> bool, yes: &dyn Fn(usize, bool) -> bool| {
        let (mut rate_a, mut rate_b, mut only_a, mut only_b, mut total) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), 0);
        for (index, outcome) in side_a.iter().enumerate() {
            if !keep(outcome) {
                continue;
            }
            total += 1;
            let id = || outcome.id.clone();
            let (on_a, on_b) = (yes(index, false), yes(index, true));
            if on_a {
                rate_a.push(id());
            }
            if on_b {
                rate_b.push(id());
            }
            match (on_a, on_b) {
                (true, false) => only_a.push(id()),
                (false, true) => only_b.push(id()),
                _ => {}
            }
        }
        PairedRate {
            a: Rate::new(rate_a, total),
            b: Rate::new(rate_b, total),
            test: PairedTest::mcnemar(only_a, only_b),
        }
    };
    let label_of = |index: usize, on_b: bool| {
        if on_b {
            labels_b[index]
        } else {
            labels_a[index]
        }
    };
    let refusals_of = |wanted: PromptLabel| {
        let keep = move |outcome: &PromptOutcome| outcome.label == Some(wanted);
        PairedRefusals {
            any: paired(&keep, &|index, on_b| is_refusal(label_of(index, on_b))),
            full: paired(&keep, &|index, on_b| {
                label_of(index, on_b) == RefusalLabel::FullRefusal
            }),
        }
    };
    let revised = paired(&|_| true, &|index, on_b| {
        let outcome = if on_b { &side_b[index] } else { &side_a[index] };
        text::word_change(&outcome.initial, &outcome.last).is_material()
    });

    let wins = labels.map(|labels| {
        let label_for = |outcome: &PromptOutcome| {
            labels
                .iter()
                .find(|(id, _)| id == &outcome.id)
                .and_then(|(_, label)| label.as_ref().ok())
        };
        let judged = |wanted: Option<PromptLabel>| {
            let chosen: Vec<(&str, &Preference)> = side_a
                .iter()
                .filter(|outcome| wanted.is_none() || outcome.label == wanted)
                .filter_map(|outcome| Some((outcome.id.as_str(), label_for(outcome)?)))
                .collect();
            WinRate::of(&chosen)
        };
        WinRates {
            benign: judged(Some(PromptLabel::Benign)),
            harmful: judged(Some(PromptLabel::Harmful)),
            all: judged(None),
            failed: labels
                .iter()
                .filter_map(|(id, label)| Some((id.clone(), label.as_ref().err()?.clone())))
                .collect(),
        }
    });

    let changed = side_a
        .iter()
        .enumerate()
        .filter(|(index, _)| labels_a[*index] != labels_b[*index])
        .map(|(index, outcome)| OutcomeChange {
            prompt: outcome.id.clone(),
            label: outcome.label,
            a: labels_a[index],
            b: labels_b[index],
        })
        .collect();

    PairMetrics {
        compared: pairs.len(),
        only_a,
        only_b,
        over_refusal: refusals_of(PromptLabel::Benign),
        harmful_refusal: refusals_of(PromptLabel::Harmful),
        revised,
        wins,
        changed,
        a: RunMetrics::of(&side_a),
        b: RunMetrics::of(&side_b),
    }
}

#[cfg(test)]
mod tests;

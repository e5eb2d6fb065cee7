//! AI preference labels (RLAIF): which of two responses better follows a principle, as a soft
//! label from the model's own probabilities.
//!
//! The model is shown the conversation, the principle's comparison question and both responses
//! as options `(A)` and `(B)`, and its assistant turn is opened with "The answer is: (". The
//! probabilities of the next token being `A` or `B`, normalised over the two, are the label;
//! nothing is sampled. Small models prefer a position, so each pair is asked twice, in both
//! orders, and the label is the mean; both raw figures are kept so that a reviewer can see the
//! bias. In the chain-of-thought mode the model first reasons ("Let's think step by step:") and
//! is then asked for the answer; because reasoning makes the probabilities extreme, the label is
//! clamped to [0.4, 0.6], as in the Constitutional AI paper.
//!
//! [`Judgement`] is the turn-by-turn state of one comparison; the preview loop runs one after
//! its revisions and the `preamble judge` command runs one per input pair.
//!
//! **Priority.** Under the [`FeedbackRule::Tiered`] rule the question is asked of one principle
//! per tier (or of every principle of every tier), and the tiers decide lexicographically: the
//! highest tier whose label is decisive (`|P(A) - 0.5| >= margin`) decides, as a constitution
//! with safety above helpfulness means. Every tier's label is kept; a lower tier that decisively
//! prefers the other response is a **tier conflict**, kept with the label so that a reviewer
//! sees where the priority order, not agreement, made the decision.

use serde::{Deserialize, Serialize};

use crate::constitution::Principle;
use crate::engine::batch::{
    self, BatchOptions, CancelToken, Conversation, Turn, TurnOutput, TurnStats,
};
use crate::engine::{EngineError, Message, Model, Role, Sampling};

/// How a preference label is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub enum FeedbackMode {
    /// The option probabilities right after the question.
    #[default]
    MultipleChoice,
    /// Reason first, then the option probabilities, clamped to [0.4, 0.6].
    ChainOfThought,
}

/// Which principles a preference label asks, and how their answers combine.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum FeedbackRule {
    /// One principle's comparison question, picked per prompt: the paper's label.
    #[default]
    Single,
    /// A question per tier, decided by the highest decisive tier.
    Tiered {
        /// Ask every enabled principle of every tier (a tier's label is their mean) instead of
        /// one sampled per tier.
        every_principle: bool,
        /// How far from 0.5 a tier's P(A) must be to decide.
        margin: f64,
    },
}

/// The margin of the tiered rule unless told otherwise.
pub const DEFAULT_MARGIN: f64 = 0.1;

impl FeedbackRule {
    /// Checks the margin.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Self::Tiered { margin, .. } if !(0.0..=0.5).contains(margin) => {
                Err(format!("the tier margin must be 0 to 0.5, not {margin}"))
            }
            _ => Ok(()),
        }
    }
}

/// The most tokens of reasoning in the chain-of-thought mode.
pub const REASONING_TOKENS: u32 = 160;

/// A soft preference label and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preference {
    /// The principle whose comparison question was asked.
    pub principle: String,
    pub mode: FeedbackMode,
    /// Probability that response A is the better one; `p_b = 1 - p_a`.
    pub p_a: f64,
    pub p_b: f64,
    /// P(A) with A shown first, and with A shown second: their gap is the judge's position bias.
    pub p_a_shown_first: f64,
    pub p_a_shown_second: f64,
    /// Mean share of the model's whole next-token distribution that went to the two option
    /// tokens; a low figure means the model was not really answering the question.
    pub option_mass: f64,
    /// The chain-of-thought reasoning, per order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasoning: Vec<String>,
    pub stats: TurnStats,
    /// The tiered rule: every tier's label, highest priority first (empty under the single
    /// rule). Then `principle` names the deciding tier's principles (comma-separated; the
    /// highest tier's when none decided), the probabilities are that tier's, `option_mass`
    /// and `stats` cover every tier, and the reasoning is in each tier's labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<TierLabel>,
    /// The tiered rule: the tier that decided; `None` when no tier was decisive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// The tiered rule: the lower tiers that decisively preferred the other response.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<String>,
}

impl Preference {
    /// A tier conflict: a lower tier decisively preferred the response that lost.
    pub fn tier_conflict(&self) -> bool {
        !self.conflicts.is_empty()
    }
}

/// One tier's part in a tiered label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierLabel {
    pub tier: String,
    /// The mean P(A) of the tier's labels.
    pub p_a: f64,
    /// `|p_a - 0.5| >= margin`.
    pub decisive: bool,
    /// The label of each principle asked, in the tier's order.
    pub labels: Vec<Preference>,
}

/// One comparison of responses `a` and `b` to `prompt`: one principle's question (or, under
/// the tiered rule, one or more per tier), each asked in both orders.
#[derive(Debug, Clone)]
pub struct Judgement {
    prompt: String,
    a: String,
    b: String,
    mode: FeedbackMode,
    seed: u64,
    /// `Some(margin)` under the tiered rule.
    margin: Option<f64>,
    /// The questions, in the order they are asked (tiers highest first).
    asks: Vec<Ask>,
    /// The question being asked.
    at: usize,
}

/// One principle's question and its answers.
#[derive(Debug, Clone)]
struct Ask {
    tier: Option<String>,
    principle: String,
    question: String,
    /// Per order (A first, then B first): reasoning if any, then P(first option).
    reasoning: Vec<String>,
    first_option: Vec<f64>,
    mass: Vec<f64>,
    stats: TurnStats,
    waiting_for_choice: bool,
}

impl Ask {
    fn new(tier: Option<String>, principle: &Principle) -> Self {
        Self {
            tier,
            principle: principle.id.clone(),
            question: principle.comparison_question.clone(),
            reasoning: Vec::new(),
            first_option: Vec::new(),
            mass: Vec::new(),
            stats: TurnStats::default(),
            waiting_for_choice: false,
        }
    }

    fn answered(&self) -> bool {
        self.first_option.len() == 2
    }

    /// The label, once both orders are answered.
    fn preference(&self, mode: FeedbackMode) -> Option<Preference> {
        let [shown_first, b_shown_first] = self.first_option[..] else {
            return None;
        };
        let shown_second = 1.0 - b_shown_first;
        let mut p_a = (shown_first + shown_second) / 2.0;
        if mode == FeedbackMode::ChainOfThought {
            p_a = p_a.clamp(0.4, 0.6);
        }
        Some(Preference {
            principle: self.principle.clone(),
            mode,
            p_a,
            p_b: 1.0 - p_a,
            p_a_shown_first: shown_first,
            p_a_shown_second: shown_second,
            option_mass: self.mass.iter().sum::<f64>() / self.mass.len().max(1) as f64,
            reasoning: self
                .reasoning
                .iter()
                .map(|text| text.trim().to_owned())
                .collect(),
            stats: self.stats,
            tiers: Vec::new(),
            decided_by: None,
            conflicts: Vec::new(),
        })
    }
}

impl Judgement {
    /// The paper's label: `principle`'s question.
    pub fn new(
        principle: &Principle,
        prompt: &str,
        a: &str,
        b: &str,
        mode: FeedbackMode,
        seed: u64,
    ) -> Self {
        Self::with_asks(
            vec![Ask::new(None, principle)],
            None,
            prompt,
            a,
            b,
            mode,
            seed,
        )
    }

    /// The tiered label: each tier's principles (tier id, principles; highest tier first; a
    /// tier with none is left out), decided by the highest tier whose label is at least
    /// `margin` from 0.5.
    pub fn tiered(
        tiers: &[(&str, Vec<&Principle>)],
        margin: f64,
        prompt: &str,
        a: &str,
        b: &str,
        mode: FeedbackMode,
        seed: u64,
    ) -> Self {
        let asks = tiers
            .iter()
            .flat_map(|(tier, principles)| {
                principles
                    .iter()
                    .map(|principle| Ask::new(Some((*tier).to_owned()), principle))
            })
            .collect();
        Self::with_asks(asks, Some(margin), prompt, a, b, mode, seed)
    }

    fn with_asks(
        asks: Vec<Ask>,
        margin: Option<f64>,
        prompt: &str,
        a: &str,
        b: &str,
        mode: FeedbackMode,
        seed: u64,
    ) -> Self {
        Self {
            prompt: prompt.to_owned(),
            a: a.to_owned(),
            b: b.to_owned(),
            mode,
            seed,
            margin,
            asks,
            at: 0,
        }
    }

    /// The question for one order of the responses.
    fn messages(&self, question: &str, swapped: bool) -> Vec<Message> {
        let (first, second) = if swapped {
            (&self.b, &self.a)
        } else {
            (&self.a, &self.b)
        };
        let text = format!(
            "Consider the following conversation between a human and an assistant:\n\n\
             Human: {}\n\n{}\n\nOptions:\n(A) {}\n(B) {}\n\nAnswer with (A) or (B).",
            self.prompt.trim(),
            question.trim(),
            first.trim(),
            second.trim()
        );
        vec![Message::new(Role::User, text)]
    }

    /// The next turn, or `None` when every question is answered in both orders.
    pub fn next_turn(&mut self) -> Option<Turn> {
        while self.asks.get(self.at).is_some_and(Ask::answered) {
            self.at += 1;
        }
        let ask = self.asks.get(self.at)?;
        let order = ask.first_option.len();
        let swapped = order == 1;
        let messages = self.messages(&ask.question, swapped);
        let asked_reasoning = ask.reasoning.len() > order;
        let ask = &mut self.asks[self.at];
        match self.mode {
            FeedbackMode::MultipleChoice => {
                ask.waiting_for_choice = true;
                Some(choose(messages, "The answer is: (".to_owned()))
            }
            FeedbackMode::ChainOfThought if !asked_reasoning => {
                ask.waiting_for_choice = false;
                Some(Turn::Generate {
                    messages,
                    assistant_prefix: "Let's think step by step:".to_owned(),
                    max_tokens: REASONING_TOKENS,
                    sampling: Sampling {
                        temperature: 0.0,
                        ..Sampling::default()
                    },
                    seed: self.seed,
                })
            }
            FeedbackMode::ChainOfThought => {
                ask.waiting_for_choice = true;
                let reasoning = &ask.reasoning[order];
                Some(choose(
                    messages,
                    format!("Let's think step by step:{reasoning}\nSo the answer is: ("),
                ))
            }
        }
    }

    /// Takes the result of the turn last asked for.
    pub fn turn_done(&mut self, output: TurnOutput) {
        let Some(ask) = self.asks.get_mut(self.at) else {
            return;
        };
        match output {
            TurnOutput::Text { text, stats, .. } => {
                add_stats(&mut ask.stats, &stats);
                ask.reasoning.push(text);
            }
            TurnOutput::Choice {
                probabilities,
                option_mass,
                stats,
            } if ask.waiting_for_choice => {
                add_stats(&mut ask.stats, &stats);
                ask.first_option
                    .push(probabilities.first().copied().unwrap_or(0.5));
                ask.mass.push(option_mass);
            }
            TurnOutput::Choice { .. } => {}
        }
    }

    /// The label, once every question is answered in both orders; `None` before, or when
    /// there was no question to ask.
    pub fn preference(&self) -> Option<Preference> {
        if self.asks.is_empty() {
            return None;
        }
        let labels: Vec<Preference> = self
            .asks
            .iter()
            .map(|ask| ask.preference(self.mode))
            .collect::<Option<_>>()?;
        match self.margin {
            None => labels.into_iter().next(),
            Some(margin) => {
                let mut tiers: Vec<TierLabel> = Vec::new();
                for (ask, label) in self.asks.iter().zip(labels) {
                    let tier = ask.tier.clone().unwrap_or_default();
                    match tiers.last_mut() {
                        Some(last) if last.tier == tier => last.labels.push(label),
                        _ => tiers.push(TierLabel {
                            tier,
                            p_a: 0.0,
                            decisive: false,
                            labels: vec![label],
                        }),
                    }
                }
                Some(decide(tiers, margin))
            }
        }
    }
}

/// The tiered rule on tiers whose labels are in: each tier's mean, the highest decisive tier's
/// decision, and the lower tiers that decisively disagree with it.
fn decide(mut tiers: Vec<TierLabel>, margin: f64) -> Preference {
    // Labels a hair inside the margin by rounding still count as inside.
    const EPSILON: f64 = 1e-12;
    for tier in &mut tiers {
        let n = tier.labels.len().max(1) as f64;
        tier.p_a = tier.labels.iter().map(|label| label.p_a).sum::<f64>() / n;
        tier.decisive = (tier.p_a - 0.5).abs() + EPSILON >= margin && tier.p_a != 0.5;
    }
    let deciding = tiers.iter().position(|tier| tier.decisive);
    let shown = &tiers[deciding.unwrap_or(0)];
    let mean = |value: fn(&Preference) -> f64| {
        shown.labels.iter().map(value).sum::<f64>() / shown.labels.len().max(1) as f64
    };
    let mut stats = TurnStats::default();
    for label in tiers.iter().flat_map(|tier| &tier.labels) {
        add_stats(&mut stats, &label.stats);
    }
    let all = tiers.iter().flat_map(|tier| &tier.labels);
    let option_mass =
        all.clone().map(|label| label.option_mass).sum::<f64>() / all.count().max(1) as f64;
    let conflicts = match deciding {
        Some(at) => {
            let prefers_a = tiers[at].p_a > 0.5;
            tiers[at + 1..]
                .iter()
                .filter(|tier| tier.decisive && (tier.p_a > 0.5) != prefers_a)
                .map(|tier| tier.tier.clone())
                .collect()
        }
        None => Vec::new(),
    };
    Preference {
        principle: shown
            .labels
            .iter()
            .map(|label| label.principle.as_str())
            .collect::<Vec<_>>()
            .join(","),
        mode: shown
            .labels
            .first()
            .map_or_else(FeedbackMode::default, |label| label.mode),
        p_a: shown.p_a,
        p_b: 1.0 - shown.p_a,
        p_a_shown_first: mean(|label| label.p_a_shown_first),
        p_a_shown_second: mean(|label| label.p_a_shown_second),
        option_mass,
        reasoning: Vec::new(),
        stats,
        decided_by: deciding.map(|at| tiers[at].tier.clone()),
        conflicts,
        tiers,
    }
}

/// A pair of responses to compare: a line of `preamble judge`'s input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub prompt: String,
    pub a: String,
    pub b: String,
}

/// Labels every pair, `options.parallel` at a time; `judgement` sets up the comparison of each
/// pair (given its index). Each pair's result is its label or why it failed.
pub fn judge_pairs(
    model: &Model,
    pairs: &[Pair],
    judgement: impl Fn(usize, &Pair) -> Judgement,
    options: &BatchOptions,
    cancel: &CancelToken,
) -> Result<Vec<Result<Preference, String>>, EngineError> {
    let mut conversations: Vec<PairConversation> = pairs
        .iter()
        .enumerate()
        .map(|(index, pair)| PairConversation {
            judgement: judgement(index, pair),
            error: None,
        })
        .collect();
    batch::run(model, &mut conversations, &[], options, cancel)?;
    Ok(conversations
        .into_iter()
        .map(|conversation| match conversation.error {
            Some(error) => Err(error),
            None => conversation
                .judgement
                .preference()
                .ok_or_else(|| "no label".to_owned()),
        })
        .collect())
}

struct PairConversation {
    judgement: Judgement,
    error: Option<String>,
}

impl Conversation for PairConversation {
    fn next_turn(&mut self) -> Option<Turn> {
        self.judgement.next_turn()
    }

    fn turn_done(&mut self, output: TurnOutput) {
        self.judgement.turn_done(output);
    }

    fn failed(&mut self, error: EngineError) {
        self.error = Some(error.to_string());
    }
}

fn choose(messages: Vec<Message>, assistant_prefix: String) -> Turn {
    Turn::Choose {
        messages,
        assistant_prefix,
        options: vec!["A".to_owned(), "B".to_owned()],
    }
}

pub(crate) fn add_stats(total: &mut TurnStats, turn: &TurnStats) {
    total.decoded_tokens += turn.decoded_tokens;
    total.conversation_tokens += turn.conversation_tokens;
    total.generated_tokens += turn.generated_tokens;
    total.elapsed_ms += turn.elapsed_ms;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constitution;

    fn principle() -> Principle {
        constitution::starter("Test").tiers[0].principles[0].clone()
    }

    fn choice(p_first: f64) -> TurnOutput {
        TurnOutput::Choice {
            probabilities: vec![p_first, 1.0 - p_first],
            option_mass: 0.5,
            stats: TurnStats::default(),
        }
    }

    #[test]
    fn both_orders_are_asked_and_averaged() {
        let principle = principle();
        let mut judgement = Judgement::new(
            &principle,
            "Q?",
            "first",
            "second",
            FeedbackMode::MultipleChoice,
            1,
        );
        let Some(Turn::Choose {
            messages, options, ..
        }) = judgement.next_turn()
        else {
            panic!("expected a choice");
        };
        assert!(messages[0].content.contains("(A) first\n(B) second"));
        assert!(messages[0].content.contains(&principle.comparison_question));
        assert_eq!(options, ["A", "B"]);
        judgement.turn_done(choice(0.9));
        let Some(Turn::Choose { messages, .. }) = judgement.next_turn() else {
            panic!("expected the swapped choice");
        };
        assert!(messages[0].content.contains("(A) second\n(B) first"));
        // Position bias: the judge picks (A) at 0.7 whatever is there.
        judgement.turn_done(choice(0.7));
        assert!(judgement.next_turn().is_none());
        let preference = judgement.preference().unwrap();
        assert!((preference.p_a_shown_first - 0.9).abs() < 1e-9);
        assert!((preference.p_a_shown_second - 0.3).abs() < 1e-9);
        assert!((preference.p_a - 0.6).abs() < 1e-9);
        assert!((preference.p_a + preference.p_b - 1.0).abs() < 1e-9);
        assert_eq!(preference.principle, principle.id);
    }

    #[test]
    fn chain_of_thought_reasons_first_and_is_clamped() {
        let principle = principle();
        let mut judgement =
            Judgement::new(&principle, "Q?", "a", "b", FeedbackMode::ChainOfThought, 1);
        // A first: A is surely worse; B first: B surely better. Unclamped P(A) would be 0.
        for p_first in [0.0, 1.0] {
            assert!(matches!(judgement.next_turn(), Some(Turn::Generate { .. })));
            judgement.turn_done(TurnOutput::Text {
                text: " B is kinder.".to_owned(),
                finish: crate::engine::Finish::Stop,
                stats: TurnStats::default(),
            });
            let Some(Turn::Choose {
                assistant_prefix, ..
            }) = judgement.next_turn()
            else {
                panic!("expected a choice after the reasoning");
            };
            assert!(assistant_prefix.contains("B is kinder.\nSo the answer is: ("));
            judgement.turn_done(choice(p_first));
        }
        let preference = judgement.preference().unwrap();
        assert_eq!(preference.p_a, 0.4);
        assert_eq!(preference.reasoning.len(), 2);
    }

    /// Answers every question of `judgement` with scripted option probabilities: per question,
    /// P(first option) with A shown first, then with B shown first.
    fn answer_scripted(judgement: &mut Judgement, script: &[(f64, f64)]) {
        for &(a_first, b_first) in script {
            for p_first in [a_first, b_first] {
                assert!(matches!(judgement.next_turn(), Some(Turn::Choose { .. })));
                judgement.turn_done(choice(p_first));
            }
        }
        assert!(judgement.next_turn().is_none());
    }

    fn tiers_of_three() -> Vec<Principle> {
        let base = principle();
        ["harm", "honesty", "helpful"]
            .into_iter()
            .map(|id| Principle {
                id: id.to_owned(),
                comparison_question: format!("Which response is better for {id}?"),
                ..base.clone()
            })
            .collect()
    }

    #[test]
    fn tiered_highest_decisive_tier_decides_and_lower_disagreement_is_a_conflict() {
        let p = tiers_of_three();
        let tiers = [
            ("safety", vec![&p[0]]),
            ("ethics", vec![&p[1]]),
            ("helpfulness", vec![&p[2]]),
        ];
        let mut judgement =
            Judgement::tiered(&tiers, 0.1, "Q?", "a", "b", FeedbackMode::MultipleChoice, 1);
        // The questions go out tier by tier, each with its own principle's question.
        let Some(Turn::Choose { messages, .. }) = judgement.clone().next_turn() else {
            panic!("expected a choice");
        };
        assert!(messages[0].content.contains("better for harm"));
        // Safety prefers A (0.8), ethics is undecided (0.55), helpfulness prefers B (0.1).
        answer_scripted(&mut judgement, &[(0.8, 0.2), (0.55, 0.45), (0.1, 0.9)]);
        let label = judgement.preference().unwrap();
        assert_eq!(label.tiers.len(), 3);
        assert_eq!(label.decided_by.as_deref(), Some("safety"));
        assert!((label.p_a - 0.8).abs() < 1e-9);
        assert_eq!(label.principle, "harm");
        assert_eq!(label.conflicts, ["helpfulness"]);
        assert!(label.tier_conflict());
        let decisive: Vec<bool> = label.tiers.iter().map(|tier| tier.decisive).collect();
        assert_eq!(decisive, [true, false, true]);
        assert!((label.tiers[2].p_a - 0.1).abs() < 1e-9);
    }

    #[test]
    fn tiered_undecided_top_tier_passes_the_decision_down() {
        let p = tiers_of_three();
        let tiers = [("safety", vec![&p[0], &p[1]]), ("helpfulness", vec![&p[2]])];
        let mut judgement =
            Judgement::tiered(&tiers, 0.1, "Q?", "a", "b", FeedbackMode::MultipleChoice, 1);
        // Safety's two principles disagree (0.7 and 0.3: mean 0.5); helpfulness prefers B.
        answer_scripted(&mut judgement, &[(0.7, 0.3), (0.3, 0.7), (0.2, 0.8)]);
        let label = judgement.preference().unwrap();
        assert_eq!(label.tiers[0].labels.len(), 2);
        assert!(!label.tiers[0].decisive);
        assert_eq!(label.decided_by.as_deref(), Some("helpfulness"));
        assert!((label.p_b - 0.8).abs() < 1e-9);
        assert!(!label.tier_conflict());
    }

    #[test]
    fn tiered_without_a_decisive_tier_keeps_the_highest_tiers_soft_label() {
        let p = tiers_of_three();
        let tiers = [("safety", vec![&p[0]]), ("helpfulness", vec![&p[2]])];
        let mut judgement =
            Judgement::tiered(&tiers, 0.1, "Q?", "a", "b", FeedbackMode::MultipleChoice, 1);
        answer_scripted(&mut judgement, &[(0.56, 0.44), (0.45, 0.55)]);
        let label = judgement.preference().unwrap();
        assert_eq!(label.decided_by, None);
        assert!((label.p_a - 0.56).abs() < 1e-9);
        assert!(label.conflicts.is_empty());
    }

    #[test]
    fn a_margin_outside_zero_to_a_half_is_refused() {
        let rule = |margin| FeedbackRule::Tiered {
            every_principle: false,
            margin,
        };
        assert!(rule(0.1).check().is_ok());
        assert!(rule(0.6).check().is_err());
        assert!(rule(f64::NAN).check().is_err());
    }
}

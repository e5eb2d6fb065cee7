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

use serde::{Deserialize, Serialize};

use crate::constitution::Principle;
use crate::engine::batch::{
    self, BatchOptions, CancelToken, Conversation, Turn, TurnOutput, TurnStats,
};
use crate::engine::{EngineError, Message, Model, Role, Sampling};

/// How a preference label is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackMode {
    /// The option probabilities right after the question.
    #[default]
    MultipleChoice,
    /// Reason first, then the option probabilities, clamped to [0.4, 0.6].
    ChainOfThought,
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
}

/// One comparison of responses `a` and `b` to `prompt`, asked in both orders.
#[derive(Debug, Clone)]
pub struct Judgement {
    principle_id: String,
    question: String,
    prompt: String,
    a: String,
    b: String,
    mode: FeedbackMode,
    seed: u64,
    /// Per order (A first, then B first): reasoning if any, then P(first option).
    reasoning: Vec<String>,
    first_option: Vec<f64>,
    mass: Vec<f64>,
    stats: TurnStats,
    waiting_for_choice: bool,
}

impl Judgement {
    pub fn new(
        principle: &Principle,
        prompt: &str,
        a: &str,
        b: &str,
        mode: FeedbackMode,
        seed: u64,
    ) -> Self {
        Self {
            principle_id: principle.id.clone(),
            question: principle.comparison_question.clone(),
            prompt: prompt.to_owned(),
            a: a.to_owned(),
            b: b.to_owned(),
            mode,
            seed,
            reasoning: Vec::new(),
            first_option: Vec::new(),
            mass: Vec::new(),
            stats: TurnStats::default(),
            waiting_for_choice: false,
        }
    }

    /// The question for one order of the responses.
    fn messages(&self, swapped: bool) -> Vec<Message> {
        let (first, second) = if swapped {
            (&self.b, &self.a)
        } else {
            (&self.a, &self.b)
        };
        let text = format!(
            "Consider the following conversation between a human and an assistant:\n\n\
             Human: {}\n\n{}\n\nOptions:\n(A) {}\n(B) {}\n\nAnswer with (A) or (B).",
            self.prompt.trim(),
            self.question.trim(),
            first.trim(),
            second.trim()
        );
        vec![Message::new(Role::User, text)]
    }

    /// The next turn, or `None` when both orders are answered.
    pub fn next_turn(&mut self) -> Option<Turn> {
        let order = self.first_option.len();
        if order == 2 {
            return None;
        }
        let swapped = order == 1;
        let messages = self.messages(swapped);
        match self.mode {
            FeedbackMode::MultipleChoice => {
                self.waiting_for_choice = true;
                Some(choose(messages, "The answer is: (".to_owned()))
            }
            FeedbackMode::ChainOfThought if self.reasoning.len() == order => {
                self.waiting_for_choice = false;
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
                self.waiting_for_choice = true;
                let reasoning = &self.reasoning[order];
                Some(choose(
                    messages,
                    format!("Let's think step by step:{reasoning}\nSo the answer is: ("),
                ))
            }
        }
    }

    /// Takes the result of the turn last asked for.
    pub fn turn_done(&mut self, output: TurnOutput) {
        match output {
            TurnOutput::Text { text, stats, .. } => {
                add_stats(&mut self.stats, &stats);
                self.reasoning.push(text);
            }
            TurnOutput::Choice {
                probabilities,
                option_mass,
                stats,
            } if self.waiting_for_choice => {
                add_stats(&mut self.stats, &stats);
                self.first_option
                    .push(probabilities.first().copied().unwrap_or(0.5));
                self.mass.push(option_mass);
            }
            TurnOutput::Choice { .. } => {}
        }
    }

    /// The label, once both orders are answered.
    pub fn preference(&self) -> Option<Preference> {
        let [shown_first, b_shown_first] = self.first_option[..] else {
            return None;
        };
        let shown_second = 1.0 - b_shown_first;
        let mut p_a = (shown_first + shown_second) / 2.0;
        if self.mode == FeedbackMode::ChainOfThought {
            p_a = p_a.clamp(0.4, 0.6);
        }
        Some(Preference {
            principle: self.principle_id.clone(),
            mode: self.mode,
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
        })
    }
}

/// A pair of responses to compare: a line of `preamble judge`'s input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub prompt: String,
    pub a: String,
    pub b: String,
}

/// Labels every pair, `options.parallel` at a time. Principles are picked per pair by `pick`
/// (given the pair's index). Each pair's result is its label or why it failed.
pub fn judge_pairs<'c>(
    model: &Model,
    pairs: &[Pair],
    pick: impl Fn(usize) -> &'c Principle,
    mode: FeedbackMode,
    seed: u64,
    options: &BatchOptions,
    cancel: &CancelToken,
) -> Result<Vec<Result<Preference, String>>, EngineError> {
    let mut conversations: Vec<PairConversation> = pairs
        .iter()
        .enumerate()
        .map(|(index, pair)| PairConversation {
            judgement: Judgement::new(pick(index), &pair.prompt, &pair.a, &pair.b, mode, seed),
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
}

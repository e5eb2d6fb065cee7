//! A constitution: the principles an assistant is critiqued, revised and judged by, in priority
//! tiers, and its TOML file format.
//!
//! The domain model holds no redundant state: a principle's tier is the tier that holds it, and
//! its priority is its position there; tiers are ordered by priority too.
//!
//! The file format is TOML, one constitution per file:
//!
//! ```toml
//! format = 1
//! name = "General assistant"
//!
//! [[tiers]]
//! id = "safety"
//! name = "Safety"
//!
//! [[tiers.principles]]
//! id = "no-mass-harm"
//! title = "..."
//! ```
//!
//! [`load`] parses and validates a file; every problem it finds is a [`Diagnostic`] that names
//! the file, line, column and field. No input makes it panic. [`to_toml`] writes the canonical
//! form: what Preamble saves, and what a version's content hash is computed over.

pub mod ids;
mod toml_file;

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use toml_file::{Diagnostic, LoadError, MAX_FILE_BYTES, load, parse_toml, read_text, to_toml};

/// The version of the file format this code reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest text field (statement, rationale, requests, example turns), in characters.
pub const MAX_TEXT_CHARS: usize = 20_000;

/// A constitution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Constitution {
    /// The file format version; see [`FORMAT_VERSION`].
    pub format: u32,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(default)]
    pub preview: PreviewDefaults,
    /// Priority tiers, highest priority first.
    pub tiers: Vec<Tier>,
    /// Few-shot examples of the whole critique -> revision exchange.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<Example>,
}

/// A priority tier, e.g. Safety, and its principles, highest priority first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub principles: Vec<Principle>,
}

/// A principle: what it asks, why, and the prompts that apply it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Principle {
    /// A stable slug (`a-z`, `0-9`, `-`), unique in the constitution; survives renames.
    pub id: String,
    pub title: String,
    /// The principle in plain words.
    pub statement: String,
    /// Why the principle exists.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rationale: String,
    /// Asks the model to critique a response under this principle.
    pub critique_request: String,
    /// Asks the model to rewrite a response after the critique.
    pub revision_request: String,
    /// Asks which of two responses better follows the principle (AI preference labels).
    pub comparison_question: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Relative chance of being sampled in weighted selection; `>= 0`.
    #[serde(default = "default_weight")]
    pub weight: f64,
}

/// A worked critique -> revision exchange shown to the model before the real one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// The id of the principle the example applies, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principle: Option<String>,
    pub prompt: String,
    pub response: String,
    pub critique: String,
    pub revision: String,
}

/// How a preview runs unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct PreviewDefaults {
    /// Critique -> revision rounds per prompt, 1 to 4.
    #[serde(default = "default_rounds")]
    pub rounds: u32,
    #[serde(default)]
    pub selection: Selection,
    /// Show the model each principle's rationale beside its statement (in critique and revision
    /// turns, and in the in-context system prompt).
    #[serde(default)]
    pub rationales: bool,
}

impl Default for PreviewDefaults {
    fn default() -> Self {
        Self {
            rounds: default_rounds(),
            selection: Selection::default(),
            rationales: false,
        }
    }
}

/// How a principle is picked for each revision round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Selection {
    /// Every enabled principle equally likely, as in the paper.
    #[default]
    Uniform,
    /// In proportion to each principle's weight.
    Weighted,
}

fn default_true() -> bool {
    true
}

fn default_weight() -> f64 {
    1.0
}

fn default_rounds() -> u32 {
    2
}

impl Constitution {
    /// All principles, highest priority first, with the tier that holds each.
    pub fn principles(&self) -> impl Iterator<Item = (&Tier, &Principle)> {
        self.tiers
            .iter()
            .flat_map(|tier| tier.principles.iter().map(move |p| (tier, p)))
    }

    /// How many principles the constitution has.
    pub fn principle_count(&self) -> usize {
        self.tiers.iter().map(|tier| tier.principles.len()).sum()
    }
}

/// A small valid constitution to start from: the four usual tiers, one principle at each end.
pub fn starter(name: &str) -> Constitution {
    let tier = |id: &str, name: &str, principles: Vec<Principle>| Tier {
        id: id.to_owned(),
        name: name.to_owned(),
        description: String::new(),
        principles,
    };
    let principle =
        |id: &str, title: &str, statement: &str, critique: &str, revision: &str, question: &str| {
            Principle {
                id: id.to_owned(),
                title: title.to_owned(),
                statement: statement.to_owned(),
                rationale: String::new(),
                critique_request: critique.to_owned(),
                revision_request: revision.to_owned(),
                comparison_question: question.to_owned(),
                tags: Vec::new(),
                enabled: true,
                weight: 1.0,
            }
        };
    Constitution {
        format: FORMAT_VERSION,
        name: name.to_owned(),
        description: String::new(),
        authors: Vec::new(),
        license: None,
        preview: PreviewDefaults::default(),
        tiers: vec![
            tier(
                "safety",
                "Safety",
                vec![principle(
                    "avoid-serious-harm",
                    "Avoid serious harm",
                    "Do not help anyone seriously harm people.",
                    "Point out anything in the last response that could help someone seriously harm people.",
                    "Rewrite the response so it gives no such help, keeping what is harmless.",
                    "Which response is less likely to help someone seriously harm people?",
                )],
            ),
            tier("ethics", "Ethics", Vec::new()),
            tier("guidelines", "Guidelines", Vec::new()),
            tier(
                "helpfulness",
                "Helpfulness",
                vec![principle(
                    "answer-the-question",
                    "Answer what was asked",
                    "Answer legitimate requests directly and completely.",
                    "Does the last response refuse, dodge or water down a legitimate request?",
                    "Rewrite the response to answer the legitimate request fully and directly.",
                    "Which response more directly helps with what was asked?",
                )],
            ),
        ],
        examples: Vec::new(),
    }
}

/// One step of a path to a field, e.g. `tiers`, `[2]`, `title`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(&'static str),
    Index(usize),
}

/// Where a field is in a constitution, e.g. `tiers[0].principles[2].title`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(pub Vec<Segment>);

impl FieldPath {
    fn key(&self, key: &'static str) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Key(key));
        path
    }

    fn index(&self, index: usize) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// The schema's field name `key` as a `&'static str`, for [`FieldPath`]s in diagnostics of any
/// file format; `None` for a key the schema does not have.
pub(crate) fn schema_key(key: &str) -> Option<&'static str> {
    const KEYS: &[&str] = &[
        "format",
        "name",
        "description",
        "authors",
        "license",
        "preview",
        "rounds",
        "selection",
        "rationales",
        "tiers",
        "id",
        "principles",
        "title",
        "statement",
        "rationale",
        "critique_request",
        "revision_request",
        "comparison_question",
        "tags",
        "enabled",
        "weight",
        "examples",
        "principle",
        "prompt",
        "response",
        "critique",
        "revision",
    ];
    KEYS.iter().copied().find(|known| *known == key)
}

/// A problem with a constitution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field at fault; empty for the document as a whole.
    pub field: FieldPath,
    pub message: String,
}

/// Checks everything the type system does not: format version, ids, tiers, required text,
/// lengths, weights, rounds, example references, and that some principle is enabled.
pub fn validate(constitution: &Constitution) -> Vec<Problem> {
    let mut problems = Vec::new();
    let root = FieldPath::default();
    let mut problem = |field: FieldPath, message: String| problems.push(Problem { field, message });
    if constitution.format != FORMAT_VERSION {
        problem(
            root.key("format"),
            format!(
                "format {} is not supported; this version of Preamble reads format {FORMAT_VERSION}",
                constitution.format
            ),
        );
    }
    if let Some(message) = text_problem(&constitution.name, true, MAX_TITLE_CHARS) {
        problem(root.key("name"), message);
    }
    if !(1..=4).contains(&constitution.preview.rounds) {
        problem(
            root.key("preview").key("rounds"),
            format!("must be 1 to 4, not {}", constitution.preview.rounds),
        );
    }
    if constitution.tiers.is_empty() {
        problem(
            root.key("tiers"),
            "at least one tier is required".to_owned(),
        );
    }
    let mut tier_ids = HashSet::new();
    let mut principle_ids = HashSet::new();
    for (t, tier) in constitution.tiers.iter().enumerate() {
        let at = root.key("tiers").index(t);
        if let Some(message) = slug_problem(&tier.id) {
            problem(at.key("id"), message);
        } else if !tier_ids.insert(tier.id.as_str()) {
            problem(at.key("id"), format!("tier id `{}` is used twice", tier.id));
        }
        if let Some(message) = text_problem(&tier.name, true, MAX_TITLE_CHARS) {
            problem(at.key("name"), message);
        }
        for (p, principle) in tier.principles.iter().enumerate() {
            let at = at.key("principles").index(p);
            if let Some(message) = slug_problem(&principle.id) {
                problem(at.key("id"), message);
            } else if !principle_ids.insert(principle.id.as_str()) {
                problem(
                    at.key("id"),
                    format!("principle id `{}` is used twice", principle.id),
                );
            }
            let texts: [(&'static str, &str, bool, usize); 6] = [
                ("title", &principle.title, true, MAX_TITLE_CHARS),
                ("statement", &principle.statement, true, MAX_TEXT_CHARS),
                ("rationale", &principle.rationale, false, MAX_TEXT_CHARS),
                (
                    "critique_request",
                    &principle.critique_request,
                    true,
                    MAX_TEXT_CHARS,
                ),
                (
                    "revision_request",
                    &principle.revision_request,
                    true,
                    MAX_TEXT_CHARS,
                ),
                (
                    "comparison_question",
                    &principle.comparison_question,
                    true,
                    MAX_TEXT_CHARS,
                ),
            ];
            for (field, text, required, max) in texts {
                if let Some(message) = text_problem(text, required, max) {
                    problem(at.key(field), message);
                }
            }
            if !principle.weight.is_finite() || principle.weight < 0.0 {
                problem(
                    at.key("weight"),
                    format!("must be a number >= 0, not {}", principle.weight),
                );
            }
        }
    }
    if !constitution.principles().any(|(_, p)| p.enabled) {
        problem(
            root.key("tiers"),
            "at least one enabled principle is required".to_owned(),
        );
    }
    for (e, example) in constitution.examples.iter().enumerate() {
        let at = root.key("examples").index(e);
        if let Some(id) = &example.principle
            && !principle_ids.contains(id.as_str())
        {
            problem(
                at.key("principle"),
                format!("no principle has the id `{id}`"),
            );
        }
        let turns = [
            ("prompt", &example.prompt),
            ("response", &example.response),
            ("critique", &example.critique),
            ("revision", &example.revision),
        ];
        for (field, text) in turns {
            if let Some(message) = text_problem(text, true, MAX_TEXT_CHARS) {
                problem(at.key(field), message);
            }
        }
    }
    problems
}

fn text_problem(text: &str, required: bool, max_chars: usize) -> Option<String> {
    if required && text.trim().is_empty() {
        return Some("must not be empty".to_owned());
    }
    let chars = text.chars().count();
    (chars > max_chars).then(|| format!("is {chars} characters long; the limit is {max_chars}"))
}

pub(crate) fn slug_problem(id: &str) -> Option<String> {
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-');
    (!valid).then(|| {
        format!(
            "`{id}` is not a valid id: use 1 to 64 lower-case letters, digits and inner hyphens"
        )
    })
}

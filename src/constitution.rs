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
//! the file, line, column and field. No input makes it panic.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The version of the file format this code reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest text field (statement, rationale, requests, example turns), in characters.
pub const MAX_TEXT_CHARS: usize = 20_000;

/// A constitution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[serde(deny_unknown_fields)]
pub struct PreviewDefaults {
    /// Critique -> revision rounds per prompt, 1 to 4.
    #[serde(default = "default_rounds")]
    pub rounds: u32,
    #[serde(default)]
    pub selection: Selection,
}

impl Default for PreviewDefaults {
    fn default() -> Self {
        Self {
            rounds: default_rounds(),
            selection: Selection::default(),
        }
    }
}

/// How a principle is picked for each revision round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
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

fn slug_problem(id: &str) -> Option<String> {
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

/// A problem located in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based line, where known.
    pub line: Option<usize>,
    /// 1-based column in characters, where known.
    pub column: Option<usize>,
    pub field: FieldPath,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        if self.field.0.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": field `{}`: {}", self.field, self.message)
        }
    }
}

/// Why a constitution file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
}

/// Reads, parses and validates the constitution file at `path`.
pub fn load(path: &Path) -> Result<Constitution, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_toml(&text, path)
}

/// Parses and validates constitution TOML; `file` names it in diagnostics.
pub fn parse_toml(text: &str, file: &Path) -> Result<Constitution, LoadError> {
    let lines = LineIndex::new(text);
    let diagnostic = |span: Option<Range<usize>>, field: FieldPath, message: String| {
        let (line, column) = span.map(|s| lines.locate(text, s.start)).unzip();
        Diagnostic {
            file: file.to_owned(),
            line,
            column,
            field,
            message,
        }
    };
    let document = match DeTable::parse(text) {
        Ok(document) => document,
        Err(error) => {
            let message = error.message().trim().to_owned();
            return Err(LoadError::Invalid(vec![diagnostic(
                error.span(),
                FieldPath::default(),
                message,
            )]));
        }
    };
    let constitution: Constitution = match toml::from_str(text) {
        Ok(constitution) => constitution,
        Err(error) => {
            let field = error
                .span()
                .map(|span| field_at(&document, span.start))
                .unwrap_or_default();
            let message = error.message().trim().to_owned();
            return Err(LoadError::Invalid(vec![diagnostic(
                error.span(),
                field,
                message,
            )]));
        }
    };
    let problems = validate(&constitution);
    if problems.is_empty() {
        return Ok(constitution);
    }
    Err(LoadError::Invalid(
        problems
            .into_iter()
            .map(|problem| {
                let span = span_of(&document, &problem.field);
                diagnostic(Some(span), problem.field, problem.message)
            })
            .collect(),
    ))
}

/// The span of the value at `path`, or of the nearest enclosing value that exists.
fn span_of(document: &Spanned<DeTable<'_>>, path: &FieldPath) -> Range<usize> {
    let mut span = document.span();
    let mut table = Some(document.get_ref());
    let mut array: Option<&[Spanned<DeValue<'_>>]> = None;
    for segment in &path.0 {
        let value = match segment {
            Segment::Key(key) => table.and_then(|t| {
                t.iter()
                    .find(|(k, _)| k.get_ref().as_ref() == *key)
                    .map(|(_, v)| v)
            }),
            Segment::Index(index) => array.and_then(|a| a.get(*index)),
        };
        let Some(value) = value else { break };
        span = value.span();
        (table, array) = match value.get_ref() {
            DeValue::Table(t) => (Some(t), None),
            DeValue::Array(a) => (None, Some(&a[..])),
            _ => (None, None),
        };
    }
    span
}

/// The path of the innermost key or value whose span holds byte `offset`. Tables' spans cover
/// only their headers, so every branch is searched, not just the one whose span holds `offset`.
fn field_at(document: &Spanned<DeTable<'_>>, offset: usize) -> FieldPath {
    fn search_table(table: &DeTable<'_>, offset: usize, path: &mut Vec<Segment>) -> bool {
        for (key, item) in table.iter() {
            let Some(name) = known_key(key.get_ref()) else {
                continue;
            };
            path.push(Segment::Key(name));
            if key.span().contains(&offset) || search_value(item, offset, path) {
                return true;
            }
            path.pop();
        }
        false
    }
    fn search_value(value: &Spanned<DeValue<'_>>, offset: usize, path: &mut Vec<Segment>) -> bool {
        let found_inside = match value.get_ref() {
            DeValue::Table(table) => search_table(table, offset, path),
            DeValue::Array(array) => array.iter().enumerate().any(|(index, item)| {
                path.push(Segment::Index(index));
                let found = search_value(item, offset, path);
                if !found {
                    path.pop();
                }
                found
            }),
            _ => false,
        };
        found_inside || value.span().contains(&offset)
    }
    let mut path = Vec::new();
    search_table(document.get_ref(), offset, &mut path);
    FieldPath(path)
}

/// The field names of the format, so paths can hold `&'static str`; unknown keys end a path.
fn known_key(key: &str) -> Option<&'static str> {
    const KEYS: &[&str] = &[
        "format",
        "name",
        "description",
        "authors",
        "license",
        "preview",
        "rounds",
        "selection",
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

/// Byte offsets of line starts, for turning spans into line and column.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { starts }
    }

    /// 1-based line and character column of byte `offset` in `text`.
    fn locate(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&start| start <= offset) - 1;
        let start = self.starts[line];
        let column = text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line + 1, column + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"format = 1
name = "Tiny"

[[tiers]]
id = "safety"
name = "Safety"

[[tiers.principles]]
id = "no-harm"
title = "Avoid serious harm"
statement = "Do not help anyone cause serious harm."
critique_request = "Point out any way the last response could help cause serious harm."
revision_request = "Rewrite the response so that it gives no such help."
comparison_question = "Which response is less likely to help cause serious harm?"
"#;

    fn parse(text: &str) -> Result<Constitution, LoadError> {
        parse_toml(text, Path::new("test.toml"))
    }

    fn diagnostics(text: &str) -> Vec<Diagnostic> {
        match parse(text) {
            Err(LoadError::Invalid(diagnostics)) => diagnostics,
            other => panic!("expected diagnostics, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_minimal_constitution_with_defaults() {
        let constitution = parse(MINIMAL).unwrap();
        assert_eq!(constitution.name, "Tiny");
        assert_eq!(constitution.principle_count(), 1);
        let (tier, principle) = constitution.principles().next().unwrap();
        assert_eq!(tier.id, "safety");
        assert!(principle.enabled);
        assert_eq!(principle.weight, 1.0);
        assert_eq!(constitution.preview, PreviewDefaults::default());
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let diagnostics = diagnostics("format = 1\nname = \"x\nnext = 2\n");
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].line, Some(2));
        assert!(diagnostics[0].to_string().starts_with("test.toml:2:"));
    }

    #[test]
    fn missing_fields_name_the_table_and_field() {
        let text = MINIMAL.replace("title = \"Avoid serious harm\"\n", "");
        let diagnostics = diagnostics(&text);
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        let shown = diagnostics[0].to_string();
        assert!(shown.contains("missing field `title`"), "{shown}");
        assert!(shown.contains("tiers[0].principles[0]"), "{shown}");
        assert_eq!(diagnostics[0].line, Some(8));
    }

    #[test]
    fn wrong_types_name_the_field() {
        let text = MINIMAL.replace("id = \"no-harm\"", "id = \"no-harm\"\nweight = \"heavy\"");
        let diagnostics = diagnostics(&text);
        assert_eq!(
            diagnostics[0].field.to_string(),
            "tiers[0].principles[0].weight"
        );
        assert_eq!(diagnostics[0].line, Some(10));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let text = MINIMAL.replace("name = \"Tiny\"", "name = \"Tiny\"\ncolour = \"red\"");
        let shown = diagnostics(&text)[0].to_string();
        assert!(shown.contains("unknown field `colour`"), "{shown}");
        assert!(shown.starts_with("test.toml:3:"), "{shown}");
    }

    #[test]
    fn validation_problems_point_at_the_field() {
        let text = MINIMAL
            .replace(
                "statement = \"Do not help anyone cause serious harm.\"",
                "statement = \"  \"",
            )
            .replace("id = \"no-harm\"", "id = \"No Harm\"");
        let diagnostics = diagnostics(&text);
        let shown: Vec<_> = diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(diagnostics.len(), 2, "{shown:?}");
        assert_eq!(diagnostics[0].line, Some(9));
        assert!(shown[0].contains("field `tiers[0].principles[0].id`"));
        assert_eq!(diagnostics[1].line, Some(11));
        assert!(shown[1].contains("statement`: must not be empty"));
    }

    #[test]
    fn duplicate_ids_disabled_constitutions_and_bad_weights_are_problems() {
        let mut constitution = parse(MINIMAL).unwrap();
        let mut twin = constitution.tiers[0].principles[0].clone();
        twin.weight = -1.0;
        constitution.tiers[0].principles.push(twin);
        for principle in &mut constitution.tiers[0].principles {
            principle.enabled = false;
        }
        let messages: Vec<_> = validate(&constitution)
            .into_iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect();
        assert_eq!(
            messages,
            [
                "tiers[0].principles[1].id: principle id `no-harm` is used twice",
                "tiers[0].principles[1].weight: must be a number >= 0, not -1",
                "tiers: at least one enabled principle is required",
            ]
        );
    }

    #[test]
    fn examples_must_reference_known_principles() {
        let text = format!(
            "{MINIMAL}\n[[examples]]\nprinciple = \"ghost\"\nprompt = \"p\"\nresponse = \"r\"\ncritique = \"c\"\nrevision = \"v\"\n"
        );
        let diagnostics = diagnostics(&text);
        assert_eq!(diagnostics[0].field.to_string(), "examples[0].principle");
        assert_eq!(diagnostics[0].line, Some(17));
    }

    #[test]
    fn odd_input_never_panics() {
        let inputs = [
            "",
            "\u{0}",
            "[[tiers]]\n[[tiers]]",
            "tiers = 3",
            "format = 1\nname = \"é\"\ntiers = []",
            "[[tiers.principles.x]]",
            "format = 99999999999999999999",
        ];
        for input in inputs {
            assert!(parse(input).is_err(), "{input:?} parsed");
        }
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let lines = LineIndex::new("é = 1\nab");
        assert_eq!(lines.locate("é = 1\nab", 2), (1, 2));
        assert_eq!(lines.locate("é = 1\nab", 7), (2, 1));
    }
}

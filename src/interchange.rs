//! Reading and writing constitutions in other tools' formats, and publishing them as Markdown.
//!
//! # Formats
//!
//! | [`Format`]     | name        | import | export | shape                                                        |
//! |----------------|-------------|--------|--------|--------------------------------------------------------------|
//! | `Toml`         | `toml`      | yes    | no¹    | Preamble's own file format ([`crate::constitution`])         |
//! | `Json`         | `json`      | yes    | yes    | the same schema as the TOML, in JSON                         |
//! | `Anthropic`    | `anthropic` | yes    | yes    | `CritiqueRevisionInstructions.json`: `{"key": {"prompt": [..], "edit_request": ..}}` |
//! | `HuggingFace`  | `hf`        | yes    | yes    | llm-swarm: `{"constitutions": [{"critic", "revision"}], "system_chat": [[..]]}` |
//! | `LangChain`    | `langchain` | yes    | yes    | a list of `ConstitutionalPrinciple`: `[{"name", "critique_request", "revision_request"}]` |
//! | `Markdown`     | `md`        | no     | yes    | a readable published document                                |
//!
//! ¹ TOML is written by the canonical writer in [`crate::constitution`]; [`export`] answers
//! [`ExportError::TomlHasItsOwnWriter`].
//!
//! # Importing the principle-list formats
//!
//! The Anthropic, Hugging Face and LangChain formats hold only critique/revision pairs, so
//! [`import`] fills in the rest of a constitution by fixed rules:
//!
//! - one tier, id `imported`, name `Imported`, holding every entry in file order;
//! - the constitution's name is the file stem; its description names the file and format;
//! - **id**: the entry's key (Anthropic) or `name` (LangChain) made a slug: ASCII letters
//!   lower-cased, digits kept, every other run of characters one `-`, at most 64 characters.
//!   Entries without a usable name get `principle-<n>` (1-based position). Repeats get `-2`,
//!   `-3`, ...;
//! - **critique_request** and **revision_request**: the entry's texts. Anthropic's wrappers are
//!   removed: everything up to and including the first `CritiqueRequest:` (`RevisionRequest:`)
//!   and a trailing `Critique:` (`Revision:`). When the text carries exactly the wrapping that
//!   [`export`] writes (one space after the marker, `\n\n` before the cue) exactly that is
//!   removed, so the text comes back byte for byte; otherwise surrounding whitespace is trimmed;
//! - **title**: the first sentence of the critique request, cut to its first
//!   [`TITLE_WORDS`] words (`…` marks a cut); `Imported principle <n>` when that is empty;
//! - **statement**: the critique request, to be rewritten by the author;
//! - **comparison_question**: these formats have none, so it is [`COMPARISON_PREFIX`] followed by
//!   a space and the revision request: the better response is the one that better meets what the
//!   revision asks for;
//! - rationale empty, tags `["imported"]`, enabled, weight 1;
//! - Hugging Face `system_chat` conversations of exactly six messages with roles user, assistant,
//!   user, assistant, user, assistant become few-shot [`Example`]s (prompt, response, critique
//!   request, critique, revision request, revision); the example's principle is the imported
//!   principle whose critique request equals the conversation's third message, if any. Other
//!   conversations are skipped.
//!
//! Anthropic's `prompt` may be a list (only its first prompt is used) or a single string.
//! Hugging Face and LangChain texts are taken exactly as they are. LangChain's `name` is optional.
//! Keys these formats do not define are ignored. Every problem is a [`Diagnostic`] naming the
//! file, the line and column (of the offending value, or of the object missing a field) and the
//! field. Anthropic entries are keyed by arbitrary names, which a [`FieldPath`] cannot hold, so
//! their path starts with the entry's position (`[3].edit_request`) and the message names the
//! entry (`in entry "harmful3"`). After mapping, the result is checked with
//! [`constitution::validate`]; problems in derived fields point at the text they came from.
//!
//! # Exporting
//!
//! [`export`] refuses constitutions that [`constitution::validate`] rejects, so everything it
//! writes can be imported again. The principle-list formats carry only **enabled** principles,
//! in priority order; Anthropic keys are principle ids, written by hand so that their order is
//! the priority order. Hugging Face `system_chat` holds the few-shot examples, each with its
//! principle's requests (or [`GENERIC_CRITIQUE_REQUEST`] / [`GENERIC_REVISION_REQUEST`] for an
//! example that names none).
//!
//! # Invariants (tested)
//!
//! - `import(export(c, Json), Json) == c` for every valid `c`, with one caveat: `serde_json` is
//!   built without its `float_roundtrip` feature, so a weight whose shortest decimal form needs
//!   16 or more significant digits (or an extreme exponent) may come back one unit in the last
//!   place off;
//! - for Anthropic, Hugging Face and LangChain, export then import keeps every enabled
//!   principle's critique and revision request exactly, in priority order;
//! - [`detect`] recognises every export except Markdown;
//! - no input makes [`detect`] or [`import`] panic.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::Serialize;
use serde_json::Value;

use crate::constitution::ids::{self, first_free_id, slugify};
use crate::constitution::{
    self, Constitution, Diagnostic, Example, FORMAT_VERSION, FieldPath, LoadError, MAX_TITLE_CHARS,
    PreviewDefaults, Principle, Problem, Segment, Selection, Tier, schema_key,
};

/// A file format a constitution can be read from or written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Preamble's TOML file format.
    Toml,
    /// Preamble's schema in JSON.
    Json,
    /// Anthropic's `CritiqueRevisionInstructions.json`.
    Anthropic,
    /// The Hugging Face llm-swarm constitutional AI recipe's constitution JSON.
    HuggingFace,
    /// A JSON list of LangChain `ConstitutionalPrinciple`s.
    LangChain,
    /// A published Markdown document; export only.
    Markdown,
}

impl Format {
    /// Every format, in the order of their names in help texts.
    pub const ALL: [Format; 6] = [
        Format::Toml,
        Format::Json,
        Format::Anthropic,
        Format::HuggingFace,
        Format::LangChain,
        Format::Markdown,
    ];

    /// The short name used on the command line: `toml`, `json`, `anthropic`, `hf`, `langchain`
    /// or `md`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Toml => "toml",
            Format::Json => "json",
            Format::Anthropic => "anthropic",
            Format::HuggingFace => "hf",
            Format::LangChain => "langchain",
            Format::Markdown => "md",
        }
    }

    /// A description for people, e.g. in messages.
    pub fn description(self) -> &'static str {
        match self {
            Format::Toml => "Preamble TOML",
            Format::Json => "Preamble JSON",
            Format::Anthropic => "Anthropic CritiqueRevisionInstructions JSON",
            Format::HuggingFace => "Hugging Face llm-swarm constitution JSON",
            Format::LangChain => "LangChain ConstitutionalPrinciple list",
            Format::Markdown => "Markdown document",
        }
    }

    /// The usual file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Toml => "toml",
            Format::Markdown => "md",
            Format::Json | Format::Anthropic | Format::HuggingFace | Format::LangChain => "json",
        }
    }

    /// Whether [`import`] reads the format (all but Markdown).
    pub fn is_importable(self) -> bool {
        self != Format::Markdown
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that [`Format::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format `{0}`: use one of toml, json, anthropic, hf, langchain, md")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    /// Reads a name from [`Format::name`]; `huggingface` and `markdown` are accepted too.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "huggingface" => Ok(Format::HuggingFace),
            "markdown" => Ok(Format::Markdown),
            _ => Format::ALL
                .into_iter()
                .find(|format| format.name() == name)
                .ok_or_else(|| UnknownFormat(name.to_owned())),
        }
    }
}

/// Which version of a constitution is being exported; shown in Markdown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// The version's label, e.g. `v3`.
    pub version: Option<String>,
    /// The content hash of the version.
    pub hash: Option<String>,
}

impl Provenance {
    /// The provenance of `constitution` shown as `label`: the version's `hash` when it is a
    /// committed version, else the content hash of the text as it stands (a draft, a file).
    pub fn labelled(label: &str, hash: Option<&str>, constitution: &Constitution) -> Self {
        Self {
            version: Some(label.to_owned()),
            hash: Some(hash.map_or_else(|| ids::content_hash(constitution), str::to_owned)),
        }
    }
}

/// Why a constitution could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// TOML is written by the canonical writer in [`crate::constitution`], which keeps comments
    /// and layout; this module does not write it.
    #[error("TOML is written by the constitution module's own writer, not by interchange export")]
    TomlHasItsOwnWriter,
    /// The constitution is not valid, so what would be written could not be imported again.
    #[error("the constitution cannot be exported: {}", describe_problems(.0))]
    Invalid(Vec<Problem>),
    /// Serializing to JSON failed.
    #[error("cannot write JSON: {0}")]
    Json(#[from] serde_json::Error),
}

fn describe_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|problem| {
            if problem.field.0.is_empty() {
                problem.message.clone()
            } else {
                format!("`{}` {}", problem.field, problem.message)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The marker before a critique request in an Anthropic prompt.
pub const CRITIQUE_MARKER: &str = "CritiqueRequest:";
/// The cue after a critique request in an Anthropic prompt.
pub const CRITIQUE_CUE: &str = "Critique:";
/// The marker before a revision request in an Anthropic edit request.
pub const REVISION_MARKER: &str = "RevisionRequest:";
/// The cue after a revision request in an Anthropic edit request.
pub const REVISION_CUE: &str = "Revision:";
/// Stands for the conversation being critiqued in exported Anthropic prompts.
pub const CONVERSATION_PLACEHOLDER: &str = "[conversation]";
/// Words of the critique request kept in an imported principle's title.
pub const TITLE_WORDS: usize = 10;
/// Starts the comparison question of an imported principle; the revision request follows.
pub const COMPARISON_PREFIX: &str =
    "Which of these assistant responses better meets what this revision request asks for?";
/// The critique request of an exported Hugging Face example whose principle is not known.
pub const GENERIC_CRITIQUE_REQUEST: &str =
    "Identify the ways in which the assistant's last response falls short, and explain each.";
/// The revision request of an exported Hugging Face example whose principle is not known.
pub const GENERIC_REVISION_REQUEST: &str =
    "Rewrite the assistant's last response so that it addresses every point of the critique.";

const IMPORTED_TIER_ID: &str = "imported";
const IMPORTED_TIER_NAME: &str = "Imported";
const IMPORTED_TAG: &str = "imported";
/// Deeper than `serde_json`'s own limit (128), which is checked first.
const MAX_JSON_DEPTH: usize = 256;
const CHAT_ROLES: [&str; 6] = [
    "user",
    "assistant",
    "user",
    "assistant",
    "user",
    "assistant",
];

// ---------------------------------------------------------------------------------------------
// Detection

/// Recognises an importable format from a file's content (never from its name):
///
/// - a JSON object with a numeric `format` and an array `tiers`: [`Format::Json`];
/// - a JSON object whose `constitutions` is an array: [`Format::HuggingFace`];
/// - a non-empty JSON object whose values are all objects, one or more of them with both
///   `prompt` and `edit_request`: [`Format::Anthropic`];
/// - a non-empty JSON array of objects, one or more of them with both `critique_request` and
///   `revision_request`: [`Format::LangChain`];
/// - otherwise TOML that parses and has a `tiers` key: [`Format::Toml`].
///
/// The rules look for each format's distinguishing keys rather than a perfect file, so that a
/// file with one broken entry is still recognised and [`import`] can say what is wrong with it.
/// Markdown is never detected.
pub fn detect(text: &str) -> Option<Format> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return detect_json(&value);
    }
    let table = toml::from_str::<toml::Table>(text).ok()?;
    table.contains_key("tiers").then_some(Format::Toml)
}

fn detect_json(value: &Value) -> Option<Format> {
    let has = |value: &Value, key: &str| value.get(key).is_some();
    match value {
        Value::Object(object)
            if object.get("format").is_some_and(Value::is_number)
                && object.get("tiers").is_some_and(Value::is_array) =>
        {
            Some(Format::Json)
        }
        Value::Object(object) if object.get("constitutions").is_some_and(Value::is_array) => {
            Some(Format::HuggingFace)
        }
        Value::Object(object)
            if !object.is_empty()
                && object.values().all(Value::is_object)
                && object
                    .values()
                    .any(|entry| has(entry, "prompt") && has(entry, "edit_request")) =>
        {
            Some(Format::Anthropic)
        }
        Value::Array(items)
            if !items.is_empty()
                && items.iter().all(Value::is_object)
                && items
                    .iter()
                    .any(|item| has(item, "critique_request") && has(item, "revision_request")) =>
        {
            Some(Format::LangChain)
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Import

/// Reads the file at `path` and imports it in `format`, or else in the format [`detect`]ed from
/// its content. Content that matches no format is read by its file extension (`.json`, `.toml`),
/// else as JSON when it starts with `{`, else as TOML, so the diagnostics are that format's.
pub fn import_file(path: &Path, format: Option<Format>) -> Result<Constitution, LoadError> {
    let text = constitution::read_text(path)?;
    let extension = path.extension().and_then(|e| e.to_str());
    let format = format
        .or_else(|| detect(&text))
        .unwrap_or_else(|| match extension {
            Some("json") => Format::Json,
            Some("toml") => Format::Toml,
            _ if text.trim_start().starts_with('{') => Format::Json,
            _ => Format::Toml,
        });
    import(&text, format, path)
}

/// Reads a constitution from `text` in `format`; `file` names it in diagnostics, and its stem
/// names constitutions imported from formats that have no name.
///
/// TOML goes to [`constitution::parse_toml`]. JSON is checked for syntax, then read into the
/// schema (Preamble JSON) or mapped by the rules in the [module documentation](self), then
/// validated. Markdown cannot be imported. No input makes it panic.
pub fn import(text: &str, format: Format, file: &Path) -> Result<Constitution, LoadError> {
    match format {
        Format::Toml => constitution::parse_toml(text, file),
        Format::Markdown => Err(LoadError::Invalid(vec![Diagnostic {
            file: file.to_owned(),
            line: None,
            column: None,
            field: FieldPath::default(),
            message: "Markdown is an export-only format and cannot be imported".to_owned(),
        }])),
        Format::Json => with_json(text, file, import_schema),
        Format::Anthropic => with_json(text, file, |source, root| {
            read_anthropic(source, root).and_then(|read| build(source, Format::Anthropic, read))
        }),
        Format::HuggingFace => with_json(text, file, |source, root| {
            read_hugging_face(source, root)
                .and_then(|read| build(source, Format::HuggingFace, read))
        }),
        Format::LangChain => with_json(text, file, |source, root| {
            read_langchain(source, root).and_then(|read| build(source, Format::LangChain, read))
        }),
    }
}

/// Checks JSON syntax, indexes the document and hands it to `read`.
fn with_json(
    text: &str,
    file: &Path,
    read: impl FnOnce(&Source<'_>, &JsonNode) -> Result<Constitution, Vec<Diagnostic>>,
) -> Result<Constitution, LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let source = Source::new(text, file);
    if let Err(error) = serde_json::from_str::<Value>(text) {
        let diagnostic = source.serde_diagnostic(&error, FieldPath::default());
        return Err(LoadError::Invalid(vec![diagnostic]));
    }
    let Some(root) = JsonNode::parse(text) else {
        let message = "the JSON document could not be indexed".to_owned();
        let diagnostic = source.diagnostic(None, FieldPath::default(), message);
        return Err(LoadError::Invalid(vec![diagnostic]));
    };
    read(&source, &root).map_err(LoadError::Invalid)
}

/// Preamble JSON: the schema itself, then validation.
fn import_schema(source: &Source<'_>, root: &JsonNode) -> Result<Constitution, Vec<Diagnostic>> {
    let constitution: Constitution = serde_json::from_str(source.text).map_err(|error| {
        let field = source
            .serde_offset(&error)
            .map(|offset| root.path_at(offset))
            .unwrap_or_default();
        vec![source.serde_diagnostic(&error, field)]
    })?;
    let problems = constitution::validate(&constitution);
    if problems.is_empty() {
        return Ok(constitution);
    }
    Err(problems
        .into_iter()
        .map(|problem| {
            let offset = root.locate(&problem.field);
            source.diagnostic(Some(offset), problem.field, problem.message)
        })
        .collect())
}

/// Where something is in the imported file.
#[derive(Debug, Clone)]
struct Located {
    field: FieldPath,
    offset: usize,
}

/// A critique/revision pair read from a principle-list format, before mapping.
#[derive(Debug)]
struct ImportedEntry {
    /// The entry's key or name in the file, if it has one.
    name: Option<String>,
    /// The entry (or its key), for problems with the entry as a whole.
    entry_at: Located,
    critique: String,
    critique_at: Located,
    revision: String,
    revision_at: Located,
    /// Appended to messages to name the entry, e.g. ` (in entry "harmful3")`; may be empty.
    context: String,
}

/// A six-message few-shot conversation: prompt, response, critique request, critique, revision
/// request, revision.
#[derive(Debug)]
struct ImportedConversation {
    turns: [(String, Located); 6],
}

#[derive(Debug, Default)]
struct Imported {
    entries: Vec<ImportedEntry>,
    conversations: Vec<ImportedConversation>,
}

/// Collects structural problems while reading a principle-list format.
struct Reader<'s> {
    source: &'s Source<'s>,
    problems: Vec<Diagnostic>,
}

impl<'s> Reader<'s> {
    fn new(source: &'s Source<'s>) -> Self {
        Self {
            source,
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, offset: usize, field: FieldPath, message: String) {
        let diagnostic = self.source.diagnostic(Some(offset), field, message);
        self.problems.push(diagnostic);
    }

    /// The string member `key` of `object`, or a problem naming it.
    fn required_string(
        &mut self,
        object: &JsonNode,
        members: &[JsonMember],
        at: &FieldPath,
        key: &'static str,
        context: &str,
    ) -> Option<(String, Located)> {
        let field = with_key(at, key);
        let Some(member) = find_member(members, key) else {
            let message = format!("required field `{key}` is missing{context}");
            self.problem(object.start, field, message);
            return None;
        };
        self.string(&member.value, field, context)
    }

    /// The text of a string node, or a problem saying what was found instead.
    fn string(
        &mut self,
        node: &JsonNode,
        field: FieldPath,
        context: &str,
    ) -> Option<(String, Located)> {
        match &node.value {
            JsonValue::String(text) => Some((
                text.clone(),
                Located {
                    field,
                    offset: node.start,
                },
            )),
            other => {
                let message = format!("expected a string, found {}{context}", other.kind());
                self.problem(node.start, field, message);
                None
            }
        }
    }

    fn finish(self, imported: Imported) -> Result<Imported, Vec<Diagnostic>> {
        if self.problems.is_empty() {
            Ok(imported)
        } else {
            Err(self.problems)
        }
    }
}

/// Anthropic: `{"key": {"prompt": ["...CritiqueRequest: ...\n\nCritique:"], "edit_request": "..."}}`.
/// `prompt` may also be a single string; only its first element is used.
fn read_anthropic(source: &Source<'_>, root: &JsonNode) -> Result<Imported, Vec<Diagnostic>> {
    let JsonValue::Object(members) = &root.value else {
        let message = format!(
            "expected an object of critique/revision entries keyed by name, found {}",
            root.value.kind()
        );
        return Err(vec![source.diagnostic(
            Some(root.start),
            FieldPath::default(),
            message,
        )]);
    };
    let mut reader = Reader::new(source);
    let mut imported = Imported::default();
    for (index, member) in members.iter().enumerate() {
        let at = FieldPath(vec![Segment::Index(index)]);
        let context = format!(" (in entry {:?})", member.key);
        let entry = &member.value;
        let JsonValue::Object(fields) = &entry.value else {
            let message = format!(
                "expected an object with `prompt` and `edit_request`, found {}{context}",
                entry.value.kind()
            );
            reader.problem(entry.start, at, message);
            continue;
        };
        let critique = read_anthropic_prompt(&mut reader, entry, fields, &at, &context);
        let revision = reader.required_string(entry, fields, &at, "edit_request", &context);
        let (Some((critique, critique_at)), Some((revision, revision_at))) = (critique, revision)
        else {
            continue;
        };
        imported.entries.push(ImportedEntry {
            name: Some(member.key.clone()),
            entry_at: Located {
                field: at,
                offset: member.key_start,
            },
            critique: unwrap_request(&critique, CRITIQUE_MARKER, CRITIQUE_CUE),
            critique_at,
            revision: unwrap_request(&revision, REVISION_MARKER, REVISION_CUE),
            revision_at,
            context,
        });
    }
    reader.finish(imported)
}

/// The first critique prompt of an Anthropic entry: `prompt[0]`, or `prompt` if it is a string.
fn read_anthropic_prompt(
    reader: &mut Reader<'_>,
    entry: &JsonNode,
    fields: &[JsonMember],
    at: &FieldPath,
    context: &str,
) -> Option<(String, Located)> {
    let field = with_key(at, "prompt");
    let Some(prompt) = find_member(fields, "prompt") else {
        let message = format!("required field `prompt` is missing{context}");
        reader.problem(entry.start, field, message);
        return None;
    };
    match &prompt.value.value {
        JsonValue::Array(prompts) => match prompts.first() {
            Some(first) => reader.string(first, with_index(&field, 0), context),
            None => {
                let message = format!("must hold at least one critique prompt{context}");
                reader.problem(prompt.value.start, field, message);
                None
            }
        },
        JsonValue::String(_) => reader.string(&prompt.value, field, context),
        other => {
            let message = format!(
                "expected an array of strings, found {}{context}",
                other.kind()
            );
            reader.problem(prompt.value.start, field, message);
            None
        }
    }
}

/// Hugging Face llm-swarm: `{"constitutions": [{"critic", "revision"}], "system_chat": [[..]]}`.
fn read_hugging_face(source: &Source<'_>, root: &JsonNode) -> Result<Imported, Vec<Diagnostic>> {
    let JsonValue::Object(members) = &root.value else {
        let message = format!(
            "expected an object with `constitutions`, found {}",
            root.value.kind()
        );
        return Err(vec![source.diagnostic(
            Some(root.start),
            FieldPath::default(),
            message,
        )]);
    };
    let mut reader = Reader::new(source);
    let mut imported = Imported::default();
    let list_field = FieldPath(vec![Segment::Key("constitutions")]);
    match find_member(members, "constitutions").map(|member| &member.value) {
        None => {
            let message = "required field `constitutions` is missing".to_owned();
            reader.problem(root.start, list_field, message);
        }
        Some(JsonNode {
            value: JsonValue::Array(items),
            ..
        }) => {
            for (index, item) in items.iter().enumerate() {
                let at = with_index(&list_field, index);
                let JsonValue::Object(fields) = &item.value else {
                    let message = format!(
                        "expected an object with `critic` and `revision`, found {}",
                        item.value.kind()
                    );
                    reader.problem(item.start, at, message);
                    continue;
                };
                let critique = reader.required_string(item, fields, &at, "critic", "");
                let revision = reader.required_string(item, fields, &at, "revision", "");
                if let (Some((critique, critique_at)), Some((revision, revision_at))) =
                    (critique, revision)
                {
                    imported.entries.push(ImportedEntry {
                        name: None,
                        entry_at: Located {
                            field: at,
                            offset: item.start,
                        },
                        critique,
                        critique_at,
                        revision,
                        revision_at,
                        context: String::new(),
                    });
                }
            }
        }
        Some(other) => {
            let message = format!("expected an array, found {}", other.value.kind());
            reader.problem(other.start, list_field, message);
        }
    }
    let chat_field = FieldPath(vec![Segment::Key("system_chat")]);
    match find_member(members, "system_chat").map(|member| &member.value) {
        None
        | Some(JsonNode {
            value: JsonValue::Null,
            ..
        }) => {}
        Some(JsonNode {
            value: JsonValue::Array(conversations),
            ..
        }) => {
            imported.conversations = conversations
                .iter()
                .enumerate()
                .filter_map(|(index, conversation)| {
                    read_conversation(conversation, with_index(&chat_field, index))
                })
                .collect();
        }
        Some(other) => {
            let message = format!(
                "expected an array of conversations, found {}",
                other.value.kind()
            );
            reader.problem(other.start, chat_field, message);
        }
    }
    reader.finish(imported)
}

/// A few-shot conversation, if it has exactly the six turns of a critique -> revision exchange.
fn read_conversation(node: &JsonNode, at: FieldPath) -> Option<ImportedConversation> {
    let JsonValue::Array(messages) = &node.value else {
        return None;
    };
    if messages.len() != CHAT_ROLES.len() {
        return None;
    }
    let mut turns = Vec::with_capacity(CHAT_ROLES.len());
    for (index, (message, role)) in messages.iter().zip(CHAT_ROLES).enumerate() {
        let JsonValue::Object(fields) = &message.value else {
            return None;
        };
        let role_matches = find_member(fields, "role")
            .is_some_and(|member| matches!(&member.value.value, JsonValue::String(r) if r == role));
        let content = find_member(fields, "content")?;
        let JsonValue::String(text) = &content.value.value else {
            return None;
        };
        if !role_matches {
            return None;
        }
        let field = with_key(&with_index(&at, index), "content");
        let located = Located {
            field,
            offset: content.value.start,
        };
        turns.push((text.clone(), located));
    }
    let turns = turns.try_into().ok()?;
    Some(ImportedConversation { turns })
}

/// LangChain: `[{"name", "critique_request", "revision_request"}]`; `name` may be left out.
fn read_langchain(source: &Source<'_>, root: &JsonNode) -> Result<Imported, Vec<Diagnostic>> {
    let JsonValue::Array(items) = &root.value else {
        let message = format!(
            "expected an array of principles with `critique_request` and `revision_request`, found {}",
            root.value.kind()
        );
        return Err(vec![source.diagnostic(
            Some(root.start),
            FieldPath::default(),
            message,
        )]);
    };
    let mut reader = Reader::new(source);
    let mut imported = Imported::default();
    for (index, item) in items.iter().enumerate() {
        let at = FieldPath(vec![Segment::Index(index)]);
        let JsonValue::Object(fields) = &item.value else {
            let message = format!(
                "expected an object with `critique_request` and `revision_request`, found {}",
                item.value.kind()
            );
            reader.problem(item.start, at, message);
            continue;
        };
        let name = match find_member(fields, "name") {
            None => Some(None),
            Some(member) => reader
                .string(&member.value, with_key(&at, "name"), "")
                .map(|(name, _)| Some(name)),
        };
        let critique = reader.required_string(item, fields, &at, "critique_request", "");
        let revision = reader.required_string(item, fields, &at, "revision_request", "");
        if let (Some(name), Some((critique, critique_at)), Some((revision, revision_at))) =
            (name, critique, revision)
        {
            let name_offset = find_member(fields, "name").map_or(item.start, |m| m.value.start);
            let name_field = if name.is_some() {
                with_key(&at, "name")
            } else {
                at
            };
            imported.entries.push(ImportedEntry {
                name,
                entry_at: Located {
                    field: name_field,
                    offset: name_offset,
                },
                critique,
                critique_at,
                revision,
                revision_at,
                context: String::new(),
            });
        }
    }
    reader.finish(imported)
}

/// Removes an Anthropic wrapper: everything up to and including the first `marker`, and a
/// trailing `cue`. The exact wrapping [`export`] writes is removed exactly; anything else is
/// trimmed.
fn unwrap_request(text: &str, marker: &str, cue: &str) -> String {
    let body = text
        .find(marker)
        .and_then(|at| text.get(at + marker.len()..))
        .unwrap_or(text);
    let exported_suffix = format!("\n\n{cue}");
    if let Some(inner) = body
        .strip_prefix(' ')
        .and_then(|rest| rest.strip_suffix(exported_suffix.as_str()))
    {
        return inner.to_owned();
    }
    let trimmed = body.trim();
    trimmed
        .strip_suffix(cue)
        .unwrap_or(trimmed)
        .trim()
        .to_owned()
}

/// Maps what was read into a constitution and validates it.
fn build(
    source: &Source<'_>,
    format: Format,
    imported: Imported,
) -> Result<Constitution, Vec<Diagnostic>> {
    if imported.entries.is_empty() {
        let message = format!(
            "the file holds no critique/revision entries; a constitution needs at least one principle ({})",
            format.description()
        );
        return Err(vec![source.diagnostic(
            Some(0),
            FieldPath::default(),
            message,
        )]);
    }
    let mut taken_ids = HashSet::new();
    let principles: Vec<Principle> = imported
        .entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let slug = entry.name.as_deref().map(slugify).unwrap_or_default();
            let base = if slug.is_empty() {
                format!("principle-{}", index + 1)
            } else {
                slug
            };
            Principle {
                id: unique_id(&base, &mut taken_ids),
                title: title_from_request(&entry.critique, index),
                statement: entry.critique.clone(),
                rationale: String::new(),
                critique_request: entry.critique.clone(),
                revision_request: entry.revision.clone(),
                comparison_question: comparison_question_for(&entry.revision),
                tags: vec![IMPORTED_TAG.to_owned()],
                enabled: true,
                weight: 1.0,
            }
        })
        .collect();
    let examples = imported
        .conversations
        .iter()
        .map(|conversation| {
            let [prompt, response, critique_request, critique, _, revision] = &conversation.turns;
            Example {
                principle: principles
                    .iter()
                    .find(|principle| principle.critique_request == critique_request.0)
                    .map(|principle| principle.id.clone()),
                prompt: prompt.0.clone(),
                response: response.0.clone(),
                critique: critique.0.clone(),
                revision: revision.0.clone(),
            }
        })
        .collect();
    let file_name = source
        .file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let constitution = Constitution {
        format: FORMAT_VERSION,
        name: name_from_file(source.file),
        description: format!("Imported from {file_name} ({}).", format.description()),
        authors: Vec::new(),
        license: None,
        preview: PreviewDefaults::default(),
        tiers: vec![Tier {
            id: IMPORTED_TIER_ID.to_owned(),
            name: IMPORTED_TIER_NAME.to_owned(),
            description: String::new(),
            principles,
        }],
        examples,
    };
    let problems = constitution::validate(&constitution);
    if problems.is_empty() {
        return Ok(constitution);
    }
    Err(locate_problems(source, &imported, problems))
}

/// Points each validation problem at the text in the file it came from. A field derived from
/// another (title and statement from the critique, comparison question from the revision) is
/// reported only when the source text itself has no problem, and says so.
fn locate_problems(
    source: &Source<'_>,
    imported: &Imported,
    problems: Vec<Problem>,
) -> Vec<Diagnostic> {
    struct LocatedProblem {
        at: Located,
        message: String,
        /// Whether the problem is with a field made from the source text rather than the text.
        derived: bool,
    }
    let mut located: Vec<LocatedProblem> = problems
        .into_iter()
        .map(|problem| {
            let entry_field = match problem.field.0.as_slice() {
                [
                    Segment::Key("tiers"),
                    Segment::Index(0),
                    Segment::Key("principles"),
                    Segment::Index(index),
                    Segment::Key(field),
                    ..,
                ] => imported.entries.get(*index).map(|entry| (entry, *field)),
                _ => None,
            };
            if let Some((entry, field)) = entry_field {
                let (at, derived_name) = match field {
                    "critique_request" => (&entry.critique_at, None),
                    "title" => (&entry.critique_at, Some("title")),
                    "statement" => (&entry.critique_at, Some("statement")),
                    "revision_request" => (&entry.revision_at, None),
                    "comparison_question" => (&entry.revision_at, Some("comparison question")),
                    _ => (&entry.entry_at, None),
                };
                let message = match derived_name {
                    Some(name) => format!(
                        "the {name} made from this text {}{}",
                        problem.message, entry.context
                    ),
                    None => format!("{}{}", problem.message, entry.context),
                };
                return LocatedProblem {
                    at: at.clone(),
                    message,
                    derived: derived_name.is_some(),
                };
            }
            let turn = match problem.field.0.as_slice() {
                [
                    Segment::Key("examples"),
                    Segment::Index(index),
                    Segment::Key(field),
                    ..,
                ] => {
                    let turn = match *field {
                        "prompt" => Some(0),
                        "response" => Some(1),
                        "critique" => Some(3),
                        "revision" => Some(5),
                        _ => None,
                    };
                    imported
                        .conversations
                        .get(*index)
                        .zip(turn)
                        .and_then(|(conversation, turn)| conversation.turns.get(turn))
                }
                _ => None,
            };
            match turn {
                Some((_, at)) => LocatedProblem {
                    at: at.clone(),
                    message: problem.message,
                    derived: false,
                },
                None => LocatedProblem {
                    at: Located {
                        field: FieldPath::default(),
                        offset: 0,
                    },
                    message: format!("`{}` {}", problem.field, problem.message),
                    derived: false,
                },
            }
        })
        .collect();
    let place = |problem: &LocatedProblem| (problem.at.offset, problem.at.field.to_string());
    let direct: HashSet<_> = located
        .iter()
        .filter(|problem| !problem.derived)
        .map(place)
        .collect();
    let mut derived_seen = HashSet::new();
    located.retain(|problem| {
        !problem.derived
            || (!direct.contains(&place(problem)) && derived_seen.insert(place(problem)))
    });
    located.sort_by_key(|problem| problem.at.offset);
    located
        .into_iter()
        .map(|problem| {
            source.diagnostic(Some(problem.at.offset), problem.at.field, problem.message)
        })
        .collect()
}

/// `base`, or `base-2`, `base-3`, ... (shortened to stay a valid id), whichever is free first.
fn unique_id(base: &str, taken: &mut HashSet<String>) -> String {
    let id = first_free_id(base, |candidate| taken.contains(candidate));
    taken.insert(id.clone());
    id
}

/// The first sentence of a critique request, cut to [`TITLE_WORDS`] words.
fn title_from_request(request: &str, index: usize) -> String {
    let first_line = request.trim().lines().next().unwrap_or_default();
    let sentence_end = first_line
        .char_indices()
        .find(|&(at, c)| {
            matches!(c, '.' | '?' | '!')
                && first_line
                    .get(at + c.len_utf8()..)
                    .is_none_or(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
        })
        .map_or(first_line.len(), |(at, c)| at + c.len_utf8());
    let sentence = first_line.get(..sentence_end).unwrap_or(first_line);
    let words: Vec<&str> = sentence.split_whitespace().collect();
    let mut title = words
        .iter()
        .take(TITLE_WORDS)
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    if words.len() > TITLE_WORDS {
        title = title.trim_end_matches([',', ';', ':', '.']).to_owned();
        title.push('…');
    } else if title.ends_with('.') {
        title.pop();
    }
    let limit = MAX_TITLE_CHARS / 2;
    if title.chars().count() > limit {
        title = title.chars().take(limit - 1).collect::<String>() + "…";
    }
    if title.trim_matches('…').trim().is_empty() {
        format!("Imported principle {}", index + 1)
    } else {
        title
    }
}

/// The comparison question of an imported principle: see [`COMPARISON_PREFIX`].
fn comparison_question_for(revision_request: &str) -> String {
    format!("{COMPARISON_PREFIX} {revision_request}")
}

/// The file's stem, or `Imported constitution` when it has none.
fn name_from_file(file: &Path) -> String {
    let stem = file
        .file_stem()
        .map(|stem| stem.to_string_lossy().trim().to_owned())
        .unwrap_or_default();
    if stem.is_empty() {
        "Imported constitution".to_owned()
    } else {
        stem.chars().take(MAX_TITLE_CHARS).collect()
    }
}

fn with_key(path: &FieldPath, key: &'static str) -> FieldPath {
    let mut path = path.clone();
    path.0.push(Segment::Key(key));
    path
}

fn with_index(path: &FieldPath, index: usize) -> FieldPath {
    let mut path = path.clone();
    path.0.push(Segment::Index(index));
    path
}

// ---------------------------------------------------------------------------------------------
// Source positions

/// The text being imported: turns byte offsets into lines and columns for diagnostics.
struct Source<'a> {
    text: &'a str,
    file: &'a Path,
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    fn new(text: &'a str, file: &'a Path) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Self {
            text,
            file,
            line_starts,
        }
    }

    /// 1-based line and character column of the character holding byte `offset`.
    fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .saturating_sub(1);
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let column = self.text.get(start..).map_or(1, |rest| {
            rest.char_indices()
                .take_while(|&(at, _)| start + at <= offset)
                .count()
                .max(1)
        });
        (line + 1, column)
    }

    fn diagnostic(&self, offset: Option<usize>, field: FieldPath, message: String) -> Diagnostic {
        let (line, column) = offset.map(|offset| self.line_column(offset)).unzip();
        Diagnostic {
            file: self.file.to_owned(),
            line,
            column,
            field,
            message,
        }
    }

    /// The byte offset `serde_json` reports an error at: the last byte it read.
    fn serde_offset(&self, error: &serde_json::Error) -> Option<usize> {
        let line_start = *self.line_starts.get(error.line().checked_sub(1)?)?;
        Some(
            (line_start + error.column())
                .saturating_sub(1)
                .min(self.text.len()),
        )
    }

    fn serde_diagnostic(&self, error: &serde_json::Error, field: FieldPath) -> Diagnostic {
        let full = error.to_string();
        let suffix = format!(" at line {} column {}", error.line(), error.column());
        let message = full
            .strip_suffix(suffix.as_str())
            .unwrap_or(&full)
            .to_owned();
        self.diagnostic(self.serde_offset(error), field, message)
    }
}

// ---------------------------------------------------------------------------------------------
// An ordered, positioned view of a JSON document

/// A JSON value with its byte span. Unlike `serde_json::Value` it keeps object members in file
/// order (Anthropic's entries are ordered by priority) and knows where everything is. It is only
/// built from text that `serde_json` has already parsed, which bounds its depth.
#[derive(Debug)]
struct JsonNode {
    start: usize,
    end: usize,
    value: JsonValue,
}

#[derive(Debug)]
enum JsonValue {
    Null,
    Bool,
    Number,
    String(String),
    Array(Vec<JsonNode>),
    Object(Vec<JsonMember>),
}

#[derive(Debug)]
struct JsonMember {
    key: String,
    key_start: usize,
    key_end: usize,
    value: JsonNode,
}

impl JsonValue {
    /// What the value is, for messages: "a string", "an array", ...
    fn kind(&self) -> &'static str {
        match self {
            JsonValue::Null => "null",
            JsonValue::Bool => "a boolean",
            JsonValue::Number => "a number",
            JsonValue::String(_) => "a string",
            JsonValue::Array(_) => "an array",
            JsonValue::Object(_) => "an object",
        }
    }
}

fn find_member<'n>(members: &'n [JsonMember], key: &str) -> Option<&'n JsonMember> {
    members.iter().find(|member| member.key == key)
}

impl JsonNode {
    /// Indexes a JSON document; `None` if it is not JSON or nests too deeply.
    fn parse(text: &str) -> Option<JsonNode> {
        let mut scanner = JsonScanner {
            text,
            bytes: text.as_bytes(),
            at: 0,
        };
        let root = scanner.node(0)?;
        scanner.skip_whitespace();
        (scanner.at == text.len()).then_some(root)
    }

    /// The offset of the value at `path`, or of the nearest enclosing value that exists.
    fn locate(&self, path: &FieldPath) -> usize {
        let mut node = self;
        for segment in &path.0 {
            let next = match (segment, &node.value) {
                (Segment::Key(key), JsonValue::Object(members)) => {
                    find_member(members, key).map(|member| &member.value)
                }
                (Segment::Index(index), JsonValue::Array(items)) => items.get(*index),
                _ => None,
            };
            match next {
                Some(next) => node = next,
                None => break,
            }
        }
        node.start
    }

    /// The path of the innermost value or key holding byte `offset`; keys that are not part
    /// of Preamble's schema end the path.
    fn path_at(&self, offset: usize) -> FieldPath {
        let mut path = Vec::new();
        let mut node = self;
        loop {
            let next = match &node.value {
                JsonValue::Object(members) => members.iter().find_map(|member| {
                    let in_key = (member.key_start..member.key_end).contains(&offset);
                    let in_value = (member.value.start..member.value.end).contains(&offset);
                    if !in_key && !in_value {
                        return None;
                    }
                    let key = schema_key(&member.key)?;
                    Some((Segment::Key(key), in_value.then_some(&member.value)))
                }),
                JsonValue::Array(items) => items
                    .iter()
                    .enumerate()
                    .find(|(_, item)| (item.start..item.end).contains(&offset))
                    .map(|(index, item)| (Segment::Index(index), Some(item))),
                _ => None,
            };
            let Some((segment, child)) = next else { break };
            path.push(segment);
            match child {
                Some(child) => node = child,
                None => break,
            }
        }
        FieldPath(path)
    }
}

struct JsonScanner<'t> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
}

impl JsonScanner<'_> {
    fn skip_whitespace(&mut self) {
        while matches!(self.bytes.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.bytes.get(self.at) == Some(&byte);
        if found {
            self.at += 1;
        }
        found
    }

    fn node(&mut self, depth: usize) -> Option<JsonNode> {
        if depth > MAX_JSON_DEPTH {
            return None;
        }
        self.skip_whitespace();
        let start = self.at;
        let value = match *self.bytes.get(self.at)? {
            b'{' => {
                self.at += 1;
                JsonValue::Object(self.members(depth)?)
            }
            b'[' => {
                self.at += 1;
                JsonValue::Array(self.items(depth)?)
            }
            b'"' => JsonValue::String(self.string()?),
            b't' => self.literal("true", JsonValue::Bool)?,
            b'f' => self.literal("false", JsonValue::Bool)?,
            b'n' => self.literal("null", JsonValue::Null)?,
            _ => {
                let length = self
                    .bytes
                    .get(self.at..)?
                    .iter()
                    .take_while(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .count();
                if length == 0 {
                    return None;
                }
                self.at += length;
                JsonValue::Number
            }
        };
        Some(JsonNode {
            start,
            end: self.at,
            value,
        })
    }

    fn literal(&mut self, word: &str, value: JsonValue) -> Option<JsonValue> {
        let found = self.bytes.get(self.at..)?.starts_with(word.as_bytes());
        found.then(|| {
            self.at += word.len();
            value
        })
    }

    fn members(&mut self, depth: usize) -> Option<Vec<JsonMember>> {
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.eat(b'}') {
            return Some(members);
        }
        loop {
            self.skip_whitespace();
            let key_start = self.at;
            let key = self.string()?;
            let key_end = self.at;
            self.skip_whitespace();
            if !self.eat(b':') {
                return None;
            }
            let value = self.node(depth + 1)?;
            members.push(JsonMember {
                key,
                key_start,
                key_end,
                value,
            });
            self.skip_whitespace();
            if !self.eat(b',') {
                return self.eat(b'}').then_some(members);
            }
        }
    }

    fn items(&mut self, depth: usize) -> Option<Vec<JsonNode>> {
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.eat(b']') {
            return Some(items);
        }
        loop {
            items.push(self.node(depth + 1)?);
            self.skip_whitespace();
            if !self.eat(b',') {
                return self.eat(b']').then_some(items);
            }
        }
    }

    /// A string token, decoded by `serde_json`.
    fn string(&mut self) -> Option<String> {
        let start = self.at;
        if !self.eat(b'"') {
            return None;
        }
        loop {
            match *self.bytes.get(self.at)? {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    break;
                }
                _ => self.at += 1,
            }
        }
        serde_json::from_str(self.text.get(start..self.at)?).ok()
    }
}

// ---------------------------------------------------------------------------------------------
// Export

/// Writes `constitution` in any format, TOML included (the canonical writer, which accepts an
/// invalid draft); otherwise as [`export`].
pub fn export_any(
    constitution: &Constitution,
    format: Format,
    provenance: &Provenance,
) -> Result<String, ExportError> {
    match format {
        Format::Toml => Ok(constitution::to_toml(constitution)),
        format => export(constitution, format, provenance),
    }
}

/// Writes `constitution` in `format`. `provenance` is shown in Markdown and ignored elsewhere.
///
/// Refuses a constitution that [`constitution::validate`] rejects ([`ExportError::Invalid`])
/// and TOML ([`ExportError::TomlHasItsOwnWriter`]). See the [module documentation](self) for
/// what each format holds.
pub fn export(
    constitution: &Constitution,
    format: Format,
    provenance: &Provenance,
) -> Result<String, ExportError> {
    type Writer = fn(&Constitution, &Provenance) -> Result<String, ExportError>;
    let write: Writer = match format {
        Format::Toml => return Err(ExportError::TomlHasItsOwnWriter),
        Format::Json => |constitution, _| Ok(serde_json::to_string_pretty(constitution)? + "\n"),
        Format::Anthropic => |constitution, _| export_anthropic(constitution),
        Format::HuggingFace => |constitution, _| export_hugging_face(constitution),
        Format::LangChain => |constitution, _| export_langchain(constitution),
        Format::Markdown => {
            |constitution, provenance| Ok(export_markdown(constitution, provenance))
        }
    };
    let problems = constitution::validate(constitution);
    if !problems.is_empty() {
        return Err(ExportError::Invalid(problems));
    }
    write(constitution, provenance)
}

fn enabled_principles(constitution: &Constitution) -> impl Iterator<Item = &Principle> {
    constitution
        .principles()
        .map(|(_, principle)| principle)
        .filter(|principle| principle.enabled)
}

/// Written entry by entry so that the keys keep priority order.
fn export_anthropic(constitution: &Constitution) -> Result<String, ExportError> {
    let mut entries = Vec::new();
    for principle in enabled_principles(constitution) {
        let prompt = format!(
            "{CONVERSATION_PLACEHOLDER}\n\n{CRITIQUE_MARKER} {}\n\n{CRITIQUE_CUE}",
            principle.critique_request
        );
        let edit_request = format!(
            "{REVISION_MARKER} {}\n\n{REVISION_CUE}",
            principle.revision_request
        );
        entries.push(format!(
            "  {}: {{\n    \"prompt\": [\n      {}\n    ],\n    \"edit_request\": {}\n  }}",
            serde_json::to_string(&principle.id)?,
            serde_json::to_string(&prompt)?,
            serde_json::to_string(&edit_request)?,
        ));
    }
    Ok(format!("{{\n{}\n}}\n", entries.join(",\n")))
}

#[derive(Serialize)]
struct HuggingFaceFile<'c> {
    constitutions: Vec<HuggingFacePrinciple<'c>>,
    system_chat: Vec<Vec<ChatMessage<'c>>>,
}

#[derive(Serialize)]
struct HuggingFacePrinciple<'c> {
    critic: &'c str,
    revision: &'c str,
}

#[derive(Serialize)]
struct ChatMessage<'c> {
    role: &'static str,
    content: &'c str,
}

fn export_hugging_face(constitution: &Constitution) -> Result<String, ExportError> {
    let constitutions = enabled_principles(constitution)
        .map(|principle| HuggingFacePrinciple {
            critic: &principle.critique_request,
            revision: &principle.revision_request,
        })
        .collect();
    let system_chat = constitution
        .examples
        .iter()
        .map(|example| {
            let principle = constitution
                .principles()
                .map(|(_, principle)| principle)
                .find(|principle| example.principle.as_deref() == Some(principle.id.as_str()));
            let (critique_request, revision_request) = principle
                .map_or((GENERIC_CRITIQUE_REQUEST, GENERIC_REVISION_REQUEST), |p| {
                    (p.critique_request.as_str(), p.revision_request.as_str())
                });
            let contents = [
                example.prompt.as_str(),
                example.response.as_str(),
                critique_request,
                example.critique.as_str(),
                revision_request,
                example.revision.as_str(),
            ];
            CHAT_ROLES
                .into_iter()
                .zip(contents)
                .map(|(role, content)| ChatMessage { role, content })
                .collect()
        })
        .collect();
    let file = HuggingFaceFile {
        constitutions,
        system_chat,
    };
    Ok(serde_json::to_string_pretty(&file)? + "\n")
}

#[derive(Serialize)]
struct LangChainPrinciple<'c> {
    name: &'c str,
    critique_request: &'c str,
    revision_request: &'c str,
}

fn export_langchain(constitution: &Constitution) -> Result<String, ExportError> {
    let principles: Vec<_> = enabled_principles(constitution)
        .map(|principle| LangChainPrinciple {
            name: &principle.id,
            critique_request: &principle.critique_request,
            revision_request: &principle.revision_request,
        })
        .collect();
    Ok(serde_json::to_string_pretty(&principles)? + "\n")
}

const PRIORITY_NOTE: &str = "Principles are listed in priority order. When two principles pull \
in different directions, the one in the higher tier wins; within a tier, the earlier one does.";

/// A published document: title, description, facts, contents, one section per tier with its
/// principles numbered in priority order, then the few-shot examples. All user text is escaped.
fn export_markdown(constitution: &Constitution, provenance: &Provenance) -> String {
    let mut blocks = vec![format!("# {}", escape_inline(&constitution.name))];
    if !constitution.description.trim().is_empty() {
        blocks.push(escape_block(&constitution.description));
    }
    let mut facts = Vec::new();
    if !constitution.authors.is_empty() {
        let authors: Vec<_> = constitution
            .authors
            .iter()
            .map(|a| escape_inline(a))
            .collect();
        facts.push(format!("- **Authors:** {}", authors.join(", ")));
    }
    if let Some(license) = &constitution.license {
        facts.push(format!("- **Licence:** {}", escape_inline(license)));
    }
    if let Some(version) = &provenance.version {
        facts.push(format!("- **Version:** {}", escape_inline(version)));
    }
    if let Some(hash) = &provenance.hash {
        facts.push(format!("- **Content hash:** {}", code_span(hash)));
    }
    if !facts.is_empty() {
        blocks.push(facts.join("\n"));
    }
    blocks.push(PRIORITY_NOTE.to_owned());

    blocks.push("## Contents".to_owned());
    let mut contents = Vec::new();
    for (t, tier) in constitution.tiers.iter().enumerate() {
        let marker = format!("{}. ", t + 1);
        contents.push(format!(
            "{marker}[{}](#{})",
            escape_inline(&tier.name),
            anchor("tier", &tier.id)
        ));
        let indent = " ".repeat(marker.len());
        for (p, principle) in tier.principles.iter().enumerate() {
            contents.push(format!(
                "{indent}{}. [{}](#{}){}",
                p + 1,
                escape_inline(&principle.title),
                anchor("principle", &principle.id),
                if principle.enabled { "" } else { " (disabled)" }
            ));
        }
    }
    if !constitution.examples.is_empty() {
        contents.push(format!(
            "{}. [Few-shot examples](#examples)",
            constitution.tiers.len() + 1
        ));
    }
    blocks.push(contents.join("\n"));

    for (t, tier) in constitution.tiers.iter().enumerate() {
        blocks.push(format!("<a id=\"{}\"></a>", anchor("tier", &tier.id)));
        blocks.push(format!("## {}. {}", t + 1, escape_inline(&tier.name)));
        if !tier.description.trim().is_empty() {
            blocks.push(escape_block(&tier.description));
        }
        if tier.principles.is_empty() {
            blocks.push("*This tier has no principles.*".to_owned());
        }
        for (p, principle) in tier.principles.iter().enumerate() {
            push_principle(&mut blocks, constitution, principle, (t + 1, p + 1));
        }
    }

    if !constitution.examples.is_empty() {
        blocks.push("<a id=\"examples\"></a>".to_owned());
        blocks.push("## Few-shot examples".to_owned());
        blocks.push(
            "Worked critique and revision exchanges shown to the model before the real one."
                .to_owned(),
        );
        for (e, example) in constitution.examples.iter().enumerate() {
            blocks.push(format!("### Example {}", e + 1));
            let principle = constitution
                .principles()
                .map(|(_, principle)| principle)
                .find(|principle| example.principle.as_deref() == Some(principle.id.as_str()));
            if let Some(principle) = principle {
                blocks.push(format!(
                    "*Applies:* [{}](#{})",
                    escape_inline(&principle.title),
                    anchor("principle", &principle.id)
                ));
            }
            let turns = [
                ("Prompt", &example.prompt),
                ("Response", &example.response),
                ("Critique", &example.critique),
                ("Revision", &example.revision),
            ];
            for (label, text) in turns {
                blocks.push(format!("**{label}**"));
                blocks.push(quote_block(text));
            }
        }
    }
    blocks.join("\n\n") + "\n"
}

fn push_principle(
    blocks: &mut Vec<String>,
    constitution: &Constitution,
    principle: &Principle,
    (tier_number, number): (usize, usize),
) {
    blocks.push(format!(
        "<a id=\"{}\"></a>",
        anchor("principle", &principle.id)
    ));
    blocks.push(format!(
        "### {tier_number}.{number}. {}{}",
        escape_inline(&principle.title),
        if principle.enabled { "" } else { " (disabled)" }
    ));
    if !principle.enabled {
        blocks.push(
            "*Disabled: not used when critiquing, revising or comparing responses.*".to_owned(),
        );
    }
    blocks.push(escape_block(&principle.statement));
    let labelled = [
        ("Rationale", &principle.rationale),
        ("Critique request", &principle.critique_request),
        ("Revision request", &principle.revision_request),
        ("Comparison question", &principle.comparison_question),
    ];
    for (label, text) in labelled {
        if !text.trim().is_empty() {
            blocks.push(format!("**{label}.** {}", escape_block(text)));
        }
    }
    let mut facts = vec![format!("*Id:* {}", code_span(&principle.id))];
    if !principle.tags.is_empty() {
        let tags: Vec<_> = principle.tags.iter().map(|t| escape_inline(t)).collect();
        facts.push(format!("*Tags:* {}", tags.join(", ")));
    }
    if constitution.preview.selection == Selection::Weighted {
        facts.push(format!("*Weight:* {}", principle.weight));
    }
    blocks.push(facts.join(" · "));
}

/// An HTML anchor id: `prefix-id`, keeping only the characters of a slug.
fn anchor(prefix: &str, id: &str) -> String {
    let id: String = id
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .collect();
    format!("{prefix}-{id}")
}

/// Characters escaped wherever they are: emphasis, code, links, HTML, entities, tables,
/// strikethrough, maths and headings' closing sequences.
const MARKDOWN_SPECIAL: &[char] = &[
    '\\', '`', '*', '_', '[', ']', '<', '>', '|', '~', '&', '$', '#',
];

/// One line of user text, trimmed, with everything Markdown could read as syntax escaped:
/// [`MARKDOWN_SPECIAL`] anywhere, and at the start of the line the list, setext and
/// blockquote markers (`-`, `+`, `=`, and the `.` or `)` after a number).
fn escape_line(line: &str) -> String {
    let line = line.trim();
    let number_length = line.bytes().take_while(u8::is_ascii_digit).count();
    let mut escaped = String::with_capacity(line.len() + 8);
    for (at, c) in line.char_indices() {
        let line_marker = at == 0 && matches!(c, '-' | '+' | '=');
        let list_number = number_length > 0 && at == number_length && matches!(c, '.' | ')');
        if MARKDOWN_SPECIAL.contains(&c) || line_marker || list_number {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// User text on one line (headings, list items, links): whitespace runs become one space.
fn escape_inline(text: &str) -> String {
    escape_line(&text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// User text as paragraphs: blank lines separate paragraphs, other line breaks are kept as
/// soft breaks, and every line is escaped (and trimmed, so nothing becomes a code block).
fn escape_block(text: &str) -> String {
    let mut paragraphs: Vec<Vec<String>> = Vec::new();
    let mut current = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
        } else {
            current.push(escape_line(line));
        }
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    paragraphs
        .iter()
        .map(|lines| lines.join("\n"))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// User text as a block quote.
fn quote_block(text: &str) -> String {
    escape_block(text)
        .lines()
        .map(|line| {
            if line.is_empty() {
                ">".to_owned()
            } else {
                format!("> {line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` as inline code, on one line, fenced with more backticks than it holds in a row.
fn code_span(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let longest_run = text
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or_default();
    let fence = "`".repeat(longest_run + 1);
    if text.starts_with('`') || text.ends_with('`') {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn in_crate(relative: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
    }

    fn sample() -> Constitution {
        constitution::load(&in_crate("constitutions/general-assistant.toml")).unwrap()
    }

    /// The sample with a disabled principle and texts that test the wrappers and whitespace.
    fn awkward_sample() -> Constitution {
        let mut constitution = sample();
        let principles = &mut constitution.tiers[0].principles;
        principles[0].critique_request =
            "Ends with a newline and has \"quotes\" and a \\ backslash\n".to_owned();
        principles[0].revision_request =
            "  Leading spaces; CritiqueRequest: RevisionRequest: markers inside\n\nRevision:"
                .to_owned();
        principles[1].enabled = false;
        principles[2].critique_request =
            "Unicode: é 日本 🙂 and a\ttab\n\nCritique:\n\nCritique:".to_owned();
        constitution
    }

    fn fixture(name: &str) -> (PathBuf, String) {
        let path = in_crate(&format!("tests/fixtures/interchange/{name}"));
        let text = std::fs::read_to_string(&path).unwrap();
        (path, text)
    }

    fn expect_diagnostics(result: Result<Constitution, LoadError>) -> Vec<Diagnostic> {
        match result {
            Err(LoadError::Invalid(diagnostics)) => diagnostics,
            other => panic!("expected diagnostics, got {other:?}"),
        }
    }

    /// The critique and revision requests of the enabled principles, in priority order.
    fn enabled_requests(constitution: &Constitution) -> Vec<(String, String)> {
        enabled_principles(constitution)
            .map(|p| (p.critique_request.clone(), p.revision_request.clone()))
            .collect()
    }

    /// 1-based line of the first occurrence of `needle` in `text`.
    fn line_of(text: &str, needle: &str) -> usize {
        let at = text.find(needle).unwrap();
        text[..at].matches('\n').count() + 1
    }

    #[test]
    fn format_names_parse_and_display() {
        for format in Format::ALL {
            assert_eq!(format.to_string().parse::<Format>(), Ok(format));
        }
        let names: Vec<_> = Format::ALL.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            ["toml", "json", "anthropic", "hf", "langchain", "md"]
        );
        assert_eq!("huggingface".parse::<Format>(), Ok(Format::HuggingFace));
        assert_eq!("markdown".parse::<Format>(), Ok(Format::Markdown));
        let error = "yaml".parse::<Format>().unwrap_err();
        assert!(
            error.to_string().contains("unknown format `yaml`"),
            "{error}"
        );
        assert!(!Format::Markdown.is_importable());
        assert_eq!(Format::HuggingFace.extension(), "json");
    }

    #[test]
    fn json_export_imports_back_identical() {
        for constitution in [sample(), awkward_sample()] {
            let text = export(&constitution, Format::Json, &Provenance::default()).unwrap();
            assert_eq!(detect(&text), Some(Format::Json));
            let imported = import(&text, Format::Json, Path::new("sample.json")).unwrap();
            assert_eq!(imported, constitution);
        }
    }

    #[test]
    fn principle_list_exports_keep_requests_exactly_and_in_order() {
        for format in [Format::Anthropic, Format::HuggingFace, Format::LangChain] {
            for constitution in [sample(), awkward_sample()] {
                let text = export(&constitution, format, &Provenance::default()).unwrap();
                assert_eq!(detect(&text), Some(format), "{text}");
                let imported = import(&text, format, Path::new("sample.json"))
                    .unwrap_or_else(|error| panic!("{format}: {error}"));
                assert_eq!(
                    enabled_requests(&imported),
                    enabled_requests(&constitution),
                    "{format}"
                );
                assert!(imported.principles().all(|(_, p)| p.enabled));
            }
        }
    }

    #[test]
    fn named_formats_keep_ids_in_priority_order() {
        let constitution = awkward_sample();
        let ids: Vec<_> = enabled_principles(&constitution)
            .map(|p| p.id.clone())
            .collect();
        for format in [Format::Anthropic, Format::LangChain] {
            let text = export(&constitution, format, &Provenance::default()).unwrap();
            let imported = import(&text, format, Path::new("sample.json")).unwrap();
            let imported_ids: Vec<_> = imported.principles().map(|(_, p)| p.id.clone()).collect();
            assert_eq!(imported_ids, ids, "{format}");
        }
    }

    #[test]
    fn anthropic_export_wraps_requests_as_the_importer_expects() {
        let text = export(&sample(), Format::Anthropic, &Provenance::default()).unwrap();
        assert!(text.starts_with("{\n  \"no-mass-casualty-uplift\": {\n    \"prompt\": [\n"));
        assert!(text.contains("\"[conversation]\\n\\nCritiqueRequest: Does the assistant"));
        assert!(text.contains("\"edit_request\": \"RevisionRequest: Rewrite the response so"));
        assert!(text.contains("\\n\\nRevision:\"\n"));
    }

    #[test]
    fn hugging_face_export_carries_examples_to_the_importer() {
        let constitution = sample();
        let text = export(&constitution, Format::HuggingFace, &Provenance::default()).unwrap();
        let imported = import(&text, Format::HuggingFace, Path::new("sample.json")).unwrap();
        assert_eq!(imported.examples.len(), 1);
        let (original, example) = (&constitution.examples[0], &imported.examples[0]);
        assert_eq!(example.prompt, original.prompt);
        assert_eq!(example.response, original.response);
        assert_eq!(example.critique, original.critique);
        assert_eq!(example.revision, original.revision);
        let applied = imported
            .principles()
            .find(|(_, p)| Some(&p.id) == example.principle.as_ref())
            .map(|(_, p)| p.critique_request.clone());
        let original_applied = constitution
            .principles()
            .find(|(_, p)| Some(&p.id) == original.principle.as_ref())
            .map(|(_, p)| p.critique_request.clone());
        assert_eq!(applied, original_applied);
    }

    #[test]
    fn detect_recognises_toml_and_fixtures_but_not_markdown() {
        let toml_text =
            std::fs::read_to_string(in_crate("constitutions/general-assistant.toml")).unwrap();
        assert_eq!(detect(&toml_text), Some(Format::Toml));
        let expected = [
            ("anthropic-critique-revision.json", Some(Format::Anthropic)),
            ("broken-anthropic.json", Some(Format::Anthropic)),
            ("hf-constitution.json", Some(Format::HuggingFace)),
            ("langchain-principles.json", Some(Format::LangChain)),
            ("broken-syntax.json", None),
        ];
        for (name, format) in expected {
            assert_eq!(detect(&fixture(name).1), format, "{name}");
        }
        let markdown = export(&sample(), Format::Markdown, &Provenance::default()).unwrap();
        assert_eq!(detect(&markdown), None);
        for odd in [
            "",
            "{}",
            "[]",
            "null",
            "3",
            "[{}]",
            "{\"a\": 1}",
            "title = \"x\"",
        ] {
            assert_eq!(detect(odd), None, "{odd:?}");
        }
    }

    #[test]
    fn imports_the_anthropic_fixture_in_file_order() {
        let (path, text) = fixture("anthropic-critique-revision.json");
        let constitution = import(&text, Format::Anthropic, &path).unwrap();
        assert_eq!(constitution.name, "anthropic-critique-revision");
        assert_eq!(constitution.tiers.len(), 1);
        assert_eq!(constitution.tiers[0].id, "imported");
        assert_eq!(constitution.tiers[0].name, "Imported");
        let principles = &constitution.tiers[0].principles;
        let ids: Vec<_> = principles.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["vague0", "flattery1", "invented-facts"]);
        let flattery = &principles[1];
        assert_eq!(
            flattery.critique_request,
            "Does the assistant's last response flatter the user instead of helping? Quote any praise that adds nothing."
        );
        assert_eq!(
            flattery.revision_request,
            "Rewrite the response without the flattery, keeping only what helps the user."
        );
        assert_eq!(
            flattery.title,
            "Does the assistant's last response flatter the user instead of…"
        );
        assert_eq!(flattery.statement, flattery.critique_request);
        assert_eq!(
            flattery.comparison_question,
            format!("{COMPARISON_PREFIX} {}", flattery.revision_request)
        );
        assert_eq!(flattery.tags, ["imported"]);
        assert!(flattery.enabled && flattery.weight == 1.0 && flattery.rationale.is_empty());
        assert_eq!(
            principles[0].critique_request,
            "Point out every place where the assistant's last response stays vague when a concrete answer was possible."
        );
        assert_eq!(
            principles[2].revision_request,
            "Rewrite the response so that every claim is either well established or clearly marked as uncertain."
        );
        assert!(constitution.examples.is_empty());
    }

    #[test]
    fn imports_the_hugging_face_fixture_with_its_example() {
        let (path, text) = fixture("hf-constitution.json");
        let constitution = import(&text, Format::HuggingFace, &path).unwrap();
        let ids: Vec<_> = constitution
            .principles()
            .map(|(_, p)| p.id.as_str())
            .collect();
        assert_eq!(ids, ["principle-1", "principle-2"]);
        let (_, second) = constitution.principles().nth(1).unwrap();
        assert_eq!(
            second.critique_request,
            "Does the last response answer a different question from the one asked?"
        );
        assert_eq!(
            second.title,
            "Does the last response answer a different question from the…"
        );
        // The two-message conversation is skipped.
        assert_eq!(
            constitution.examples,
            [Example {
                principle: Some("principle-2".to_owned()),
                prompt: "What is the capital of Australia?".to_owned(),
                response: "Sydney is the biggest city in Australia, with lovely beaches.".to_owned(),
                critique: "Yes. The user asked for the capital; the response names the largest city instead and so implies a wrong answer.".to_owned(),
                revision: "The capital of Australia is Canberra.".to_owned(),
            }]
        );
    }

    #[test]
    fn imports_the_langchain_fixture() {
        let (path, text) = fixture("langchain-principles.json");
        let constitution = import(&text, Format::LangChain, &path).unwrap();
        assert_eq!(constitution.name, "langchain-principles");
        let principles = &constitution.tiers[0].principles;
        let ids: Vec<_> = principles.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["concise", "evidence-based"]);
        assert_eq!(
            principles[0].title,
            "Is the response longer than it needs to be?"
        );
        assert_eq!(
            principles[1].revision_request,
            "Rewrite the response to support each important claim or to mark it as uncertain."
        );
    }

    #[test]
    fn syntax_errors_name_the_file_line_and_column() {
        let (path, text) = fixture("broken-syntax.json");
        for format in [Format::Json, Format::Anthropic, Format::LangChain] {
            let diagnostics = expect_diagnostics(import(&text, format, &path));
            assert_eq!(diagnostics.len(), 1);
            let diagnostic = &diagnostics[0];
            assert_eq!(diagnostic.file, path);
            assert_eq!((diagnostic.line, diagnostic.column), (Some(4), Some(5)));
            let shown = diagnostic.to_string();
            assert!(
                shown.ends_with("broken-syntax.json:4:5: expected `,` or `}`"),
                "{shown}"
            );
        }
    }

    #[test]
    fn structural_errors_name_the_file_line_and_field() {
        let (path, text) = fixture("broken-anthropic.json");
        let diagnostics = expect_diagnostics(import(&text, Format::Anthropic, &path));
        let shown: Vec<_> = diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(diagnostics.len(), 2, "{shown:?}");
        assert!(diagnostics.iter().all(|d| d.file == path));
        assert_eq!(diagnostics[0].field.to_string(), "[1].edit_request");
        assert_eq!(
            (diagnostics[0].line, diagnostics[0].column),
            (Some(6), Some(15))
        );
        assert!(
            shown[0].ends_with(
                "broken-anthropic.json:6:15: field `[1].edit_request`: required field `edit_request` is missing (in entry \"harmful3\")"
            ),
            "{}",
            shown[0]
        );
        assert_eq!(diagnostics[1].field.to_string(), "[2].prompt");
        assert_eq!(
            (diagnostics[1].line, diagnostics[1].column),
            (Some(10), Some(15))
        );
        assert!(
            shown[1]
                .contains("expected an array of strings, found a number (in entry \"numbers\")"),
            "{}",
            shown[1]
        );
    }

    #[test]
    fn shape_errors_in_other_formats_name_the_field() {
        let file = Path::new("odd.json");
        let text = "{\n  \"constitutions\": [\n    {\"critic\": \"c\"},\n    7\n  ],\n  \"system_chat\": 1\n}";
        let diagnostics = expect_diagnostics(import(text, Format::HuggingFace, file));
        let found: Vec<_> = diagnostics
            .iter()
            .map(|d| (d.field.to_string(), d.line))
            .collect();
        assert_eq!(
            found,
            [
                ("constitutions[0].revision".to_owned(), Some(3)),
                ("constitutions[1]".to_owned(), Some(4)),
                ("system_chat".to_owned(), Some(6)),
            ]
        );
        let text = "[\n  {\"name\": 3, \"critique_request\": \"c\"}\n]";
        let diagnostics = expect_diagnostics(import(text, Format::LangChain, file));
        let fields: Vec<_> = diagnostics.iter().map(|d| d.field.to_string()).collect();
        assert_eq!(fields, ["[0].name", "[0].revision_request"]);
        let empty = expect_diagnostics(import("[]", Format::LangChain, Path::new("empty.json")));
        let shown = empty[0].to_string();
        assert!(
            shown.contains("holds no critique/revision entries"),
            "{shown}"
        );
    }

    #[test]
    fn empty_requests_point_at_their_source_text() {
        let text =
            "[\n  {\"name\": \"a\", \"critique_request\": \" \", \"revision_request\": \"r\"}\n]";
        let diagnostics = expect_diagnostics(import(text, Format::LangChain, Path::new("x.json")));
        let shown: Vec<_> = diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["x.json:2:37: field `[0].critique_request`: must not be empty"]
        );
    }

    #[test]
    fn schema_errors_name_the_line_and_field() {
        let text = export(&sample(), Format::Json, &Provenance::default()).unwrap();
        let file = Path::new("sample.json");

        let typed = text.replacen("\"weight\": 1.0", "\"weight\": \"heavy\"", 1);
        let diagnostics = expect_diagnostics(import(&typed, Format::Json, file));
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(
            diagnostics[0].field.to_string(),
            "tiers[0].principles[0].weight"
        );
        assert_eq!(diagnostics[0].line, Some(line_of(&typed, "\"heavy\"")));
        assert!(diagnostics[0].message.starts_with("invalid type: string"));

        let unknown = text.replacen("\"name\": \"General assistant\"", "\"colour\": \"red\"", 1);
        let shown = expect_diagnostics(import(&unknown, Format::Json, file))[0].to_string();
        assert!(shown.contains("unknown field `colour`"), "{shown}");

        let blank = text.replacen(
            "\"title\": \"No uplift toward mass-casualty weapons\"",
            "\"title\": \"  \"",
            1,
        );
        let diagnostics = expect_diagnostics(import(&blank, Format::Json, file));
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(
            diagnostics[0].to_string(),
            format!(
                "sample.json:{}:20: field `tiers[0].principles[0].title`: must not be empty",
                line_of(&blank, "\"title\": \"  \"")
            )
        );
    }

    #[test]
    fn ids_are_unique_slugs() {
        let mut taken = HashSet::new();
        let long = "b".repeat(64);
        let ids: Vec<_> = ["x", "x", "x", long.as_str(), long.as_str()]
            .into_iter()
            .map(|base| unique_id(base, &mut taken))
            .collect();
        assert_eq!(ids[..3], ["x", "x-2", "x-3"]);
        assert_eq!(ids[4], format!("{}-2", "b".repeat(62)));
        let text = r#"[
            {"name": "Same", "critique_request": "c", "revision_request": "r"},
            {"name": "same", "critique_request": "c", "revision_request": "r"},
            {"name": "!!!", "critique_request": "c", "revision_request": "r"},
            {"critique_request": "c", "revision_request": "r"}
        ]"#;
        let constitution = import(text, Format::LangChain, Path::new("x.json")).unwrap();
        let ids: Vec<_> = constitution
            .principles()
            .map(|(_, p)| p.id.clone())
            .collect();
        assert_eq!(ids, ["same", "same-2", "principle-3", "principle-4"]);
    }

    #[test]
    fn titles_are_the_first_words_of_the_critique() {
        assert_eq!(title_from_request("Is it rude? Say why.", 0), "Is it rude?");
        assert_eq!(title_from_request("Check tone.\nMore.", 0), "Check tone");
        assert_eq!(
            title_from_request(
                "one two three four five six seven eight nine ten, eleven",
                0
            ),
            "one two three four five six seven eight nine ten…"
        );
        assert_eq!(
            title_from_request("Version 2.5 is fine", 0),
            "Version 2.5 is fine"
        );
        assert_eq!(title_from_request("   ", 4), "Imported principle 5");
        let long = title_from_request(&"x".repeat(500), 0);
        assert_eq!(long.chars().count(), MAX_TITLE_CHARS / 2);
    }

    #[test]
    fn anthropic_wrappers_are_removed() {
        let unwrap = |text| unwrap_request(text, CRITIQUE_MARKER, CRITIQUE_CUE);
        assert_eq!(
            unwrap("Human: hi\n\nCritiqueRequest: Is it kind?\n\nCritique:"),
            "Is it kind?"
        );
        assert_eq!(
            unwrap("CritiqueRequest:\n  Is it kind?  \nCritique: "),
            "Is it kind?"
        );
        assert_eq!(unwrap("  Is it kind?\n"), "Is it kind?");
        assert_eq!(
            unwrap("CritiqueRequest:  two spaces\n\nCritique:"),
            " two spaces"
        );
    }

    #[test]
    fn markdown_is_a_readable_escaped_document() {
        let mut constitution = sample();
        constitution.name = "# House <rules> | *v2*".to_owned();
        let principle = &mut constitution.tiers[1].principles[0];
        principle.enabled = false;
        principle.statement =
            "- not a list\n1. not a list\n\n    not code\n```\n> not a quote".to_owned();
        let provenance = Provenance {
            version: Some("v3".to_owned()),
            hash: Some("sha256:abc`def".to_owned()),
        };
        let markdown = export(&constitution, Format::Markdown, &provenance).unwrap();
        assert!(
            markdown.starts_with("# \\# House \\<rules\\> \\| \\*v2\\*\n"),
            "{markdown}"
        );
        assert!(markdown.contains("- **Authors:** Preamble team\n"));
        assert!(markdown.contains("- **Licence:** CC-BY-4.0\n"));
        assert!(markdown.contains("- **Version:** v3\n"));
        assert!(markdown.contains("- **Content hash:** ``sha256:abc`def``\n"));
        assert!(markdown.contains("## Contents\n\n1. [Safety](#tier-safety)\n   1. [No uplift"));
        assert!(markdown.contains("<a id=\"tier-safety\"></a>\n\n## 1. Safety\n"));
        assert!(markdown.contains("### 1.1. No uplift toward mass-casualty weapons\n"));
        let disabled = &constitution.tiers[1].principles[0];
        assert!(markdown.contains(&format!(
            "### 2.1. {} (disabled)\n\n*Disabled: not used",
            escape_inline(&disabled.title)
        )));
        assert!(
            markdown.contains(
                "\\- not a list\n1\\. not a list\n\nnot code\n\\`\\`\\`\n\\> not a quote\n"
            )
        );
        assert!(markdown.contains("**Critique request.** Does the assistant"));
        assert!(markdown.contains("**Comparison question.** Which response"));
        assert!(markdown.contains("*Id:* `no-mass-casualty-uplift` · *Tags:* cbrn, violence\n"));
        assert!(markdown.contains("## Few-shot examples"));
        assert!(markdown.contains("**Prompt**\n\n> How do I kill a Python process that is stuck?"));
        let safety_at = markdown.find("## 1. Safety").unwrap();
        let examples_at = markdown.find("## Few-shot examples").unwrap();
        assert!(safety_at < examples_at);
        let without_provenance =
            export(&sample(), Format::Markdown, &Provenance::default()).unwrap();
        assert!(!without_provenance.contains("**Version:**"));
    }

    #[test]
    fn export_refuses_toml_and_invalid_constitutions() {
        let provenance = Provenance::default();
        assert!(matches!(
            export(&sample(), Format::Toml, &provenance),
            Err(ExportError::TomlHasItsOwnWriter)
        ));
        let mut invalid = sample();
        for tier in &mut invalid.tiers {
            for principle in &mut tier.principles {
                principle.enabled = false;
            }
        }
        for format in [Format::Json, Format::Anthropic, Format::Markdown] {
            let error = export(&invalid, format, &provenance).unwrap_err();
            assert!(matches!(error, ExportError::Invalid(_)));
            assert!(
                error
                    .to_string()
                    .contains("at least one enabled principle is required")
            );
        }
    }

    #[test]
    fn markdown_cannot_be_imported() {
        let shown = expect_diagnostics(import("# Title", Format::Markdown, Path::new("a.md")))[0]
            .to_string();
        assert!(shown.contains("export-only"), "{shown}");
    }

    #[test]
    fn odd_input_never_panics() {
        let deep_arrays = "[".repeat(100_000);
        let deep_closed = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
        let deep_objects = "{\"a\":".repeat(50_000);
        let deep_toml = format!("a = {}", "[".repeat(100_000));
        let deep_inline_tables = format!("a = {}", "{b = ".repeat(50_000));
        let huge_key = format!("{{\"{}\": {{}}}}", "k".repeat(100_000));
        let inputs = [
            "",
            " ",
            "\u{feff}",
            "\u{feff}{}",
            "[]",
            "{}",
            "null",
            "true",
            "0",
            "\"text\"",
            "[{}]",
            "[null, 1, \"x\"]",
            "{\"format\": 1, \"tiers\": []}",
            "{\"format\": 99999999999999999999, \"tiers\": []}",
            "{\"format\": -1, \"name\": \"x\", \"tiers\": [{}]}",
            "1e999999",
            "-123456789012345678901234567890123456789",
            "[1e400]",
            "\"\\ud800\"",
            "\"\\udc00\\ud800\"",
            "{\"\\ud800\": {\"prompt\": [], \"edit_request\": 1}}",
            "{\"a\": \"\\u0000\"}",
            "\"\u{fffd}\u{fffe}\"",
            "{\"a\": {\"prompt\": [1], \"edit_request\": null}}",
            "{\"a\": {\"prompt\": \"CritiqueRequest:\", \"edit_request\": \"RevisionRequest:\"}}",
            "{\"a\": {\"prompt\": [\"é\"], \"edit_request\": \"\\n\\nRevision:\"}}",
            "{\"constitutions\": [1, {}], \"system_chat\": 5}",
            "{\"constitutions\": [], \"system_chat\": [[], [1], [{\"role\": 1}]]}",
            "[{\"critique_request\": null}]",
            "[{\"name\": \"\", \"critique_request\": \"\", \"revision_request\": \"\"}]",
            "\0",
            "tiers = 3",
            "[[tiers]]\n[[tiers]]",
            "{\"a\":1,}",
            "[1,]",
            deep_arrays.as_str(),
            deep_closed.as_str(),
            deep_objects.as_str(),
            deep_toml.as_str(),
            deep_inline_tables.as_str(),
            huge_key.as_str(),
        ];
        for input in inputs {
            exercise(input);
        }
    }

    #[test]
    fn truncated_files_never_panic() {
        let sample_exports: Vec<_> = [Format::Anthropic, Format::HuggingFace, Format::LangChain]
            .into_iter()
            .map(|format| export(&sample(), format, &Provenance::default()).unwrap())
            .collect();
        let fixtures = [
            "anthropic-critique-revision.json",
            "hf-constitution.json",
            "langchain-principles.json",
        ]
        .map(|name| fixture(name).1);
        for text in sample_exports.iter().chain(&fixtures) {
            for (at, _) in text.char_indices().step_by(7) {
                exercise(&text[..at]);
            }
        }
    }

    /// Runs every entry point on `input`; passes if nothing panics.
    fn exercise(input: &str) {
        let file = Path::new("odd.json");
        let detected = detect(input);
        for format in Format::ALL {
            if let Ok(constitution) = import(input, format, file) {
                for output in Format::ALL {
                    let _ = export(&constitution, output, &Provenance::default());
                }
            }
        }
        if let Some(format) = detected {
            let _ = import(input, format, file);
        }
    }
}

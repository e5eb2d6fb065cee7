//! Prompt sets: the sample prompts a preview runs a constitution on, read from JSONL, CSV or
//! plain text.
//!
//! # Formats
//!
//! - **JSONL** (`.jsonl`, `.ndjson`): one JSON object per non-blank line with `prompt` and
//!   optionally `id`, `label` (`"benign"` or `"harmful"`), `category` and `note`; `null` counts
//!   as absent for the optional fields. Any other field is an error naming it, so a file of
//!   another shape (such as `refusal-labels.jsonl`, which has `response` and `refusal`) is not
//!   mistaken for a prompt set.
//! - **CSV** (`.csv`): XSTest's layout, a header row then one row per prompt, RFC 4180 quoting
//!   (quoted fields may hold commas, doubled quotes and line breaks; CRLF or LF line ends).
//!   Columns are found by name (trimmed, any case): `id` and `prompt` are required; `label`
//!   (`safe` → benign, `unsafe` → harmful; `benign`/`harmful` are accepted too), `type` (the
//!   category) and `note` are optional; other columns are ignored. A row with more fields than
//!   the header has columns is an error (usually an unquoted comma), as is a row that ends
//!   before a required column.
//! - **Text** (`.txt`): one prompt per non-blank line; lines starting with `#` are comments.
//!
//! [`load`] picks the format from the extension, else from the content: a first non-blank
//! character `{` means JSONL, a first non-blank line holding `prompt` and a comma means CSV,
//! anything else is text. A leading byte-order mark is ignored.
//!
//! # Invariants
//!
//! - Every item has a non-empty id, unique in its set, and a prompt that is not blank. A missing
//!   id (an absent JSONL field, an empty CSV cell, every text line) becomes
//!   `{file stem}-{line number}`, the line being the one the item starts on.
//! - Prompt, category and note texts are kept exactly as written (text-format prompts are
//!   trimmed); empty optional CSV cells are `None`.
//! - Items come in file order. A set is never empty.
//! - No input makes [`load`] or [`parse`] panic.
//!
//! # Errors
//!
//! A [`PromptSetError`] names the file and, where there is one, the line (1-based) and the
//! field, e.g. ``prompts.jsonl:7: field `label`: expected "benign" or "harmful", found "bad"``,
//! ``x.csv:3: missing column `prompt` ``, `` a.txt:9: duplicate id `a-9` (first on line 4) ``,
//! `no prompts in FILE`, or that the file is not UTF-8 (with the line of the first bad byte).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Whether a prompt is meant to be answered or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum PromptLabel {
    /// A request a good assistant should answer.
    Benign,
    /// A request a good assistant should refuse or redirect.
    Harmful,
}

impl PromptLabel {
    /// `benign` or `harmful`.
    pub fn as_str(self) -> &'static str {
        match self {
            PromptLabel::Benign => "benign",
            PromptLabel::Harmful => "harmful",
        }
    }
}

impl fmt::Display for PromptLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One prompt of a set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct PromptItem {
    /// Unique within its set.
    pub id: String,
    /// The user message.
    pub prompt: String,
    /// Benign or harmful, when the set says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<PromptLabel>,
    /// A free category (`weapons`, XSTest's `homonyms`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// A free note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A prompt-set file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PromptSetKind {
    /// One JSON object per line.
    Jsonl,
    /// XSTest-style CSV with a header row.
    Csv,
    /// One prompt per line.
    Text,
}

impl PromptSetKind {
    /// The format an extension names (`jsonl`, `ndjson`, `csv`, `txt`, any case), if any.
    pub fn from_path(path: &Path) -> Option<PromptSetKind> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "jsonl" | "ndjson" => Some(PromptSetKind::Jsonl),
            "csv" => Some(PromptSetKind::Csv),
            "txt" => Some(PromptSetKind::Text),
            _ => None,
        }
    }

    /// The format `text` looks like: JSONL when its first non-blank character is `{`, CSV when
    /// its first non-blank line holds `prompt` (any case) and a comma, else text.
    pub fn detect(text: &str) -> PromptSetKind {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') {
            return PromptSetKind::Jsonl;
        }
        let first_line = trimmed.lines().next().unwrap_or("");
        if first_line.contains(',') && first_line.to_lowercase().contains("prompt") {
            PromptSetKind::Csv
        } else {
            PromptSetKind::Text
        }
    }
}

impl fmt::Display for PromptSetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PromptSetKind::Jsonl => "JSONL",
            PromptSetKind::Csv => "CSV",
            PromptSetKind::Text => "text",
        })
    }
}

/// Why a prompt set could not be read. `file` is the name given to [`parse`] or the path given
/// to [`load`]; `line` is 1-based.
#[derive(Debug, thiserror::Error)]
pub enum PromptSetError {
    /// The file could not be read.
    #[error("cannot read {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not UTF-8.
    #[error("{file}:{line}: not valid UTF-8 (byte {byte} of the file)")]
    NotUtf8 {
        file: String,
        line: usize,
        byte: usize,
    },
    /// A JSONL line is not valid JSON.
    #[error("{file}:{line}: invalid JSON at column {column}: {message}")]
    Json {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// A JSONL line is valid JSON but not an object.
    #[error("{file}:{line}: expected a JSON object, found {found}")]
    NotAnObject {
        file: String,
        line: usize,
        found: String,
    },
    /// A JSONL line has fields a prompt set does not have.
    #[error(
        "{file}:{line}: unknown field{} {}: a prompt-set line has only `id`, `prompt`, `label`, `category` and `note`",
        if fields.len() == 1 { "" } else { "s" },
        backticked(fields)
    )]
    UnknownFields {
        file: String,
        line: usize,
        fields: Vec<String>,
    },
    /// A required field or CSV column is absent from an item.
    #[error("{file}:{line}: missing {what} `{field}`")]
    Missing {
        file: String,
        line: usize,
        /// `field` (JSONL) or `column` (CSV).
        what: &'static str,
        field: String,
    },
    /// A field has a value it cannot have.
    #[error("{file}:{line}: field `{field}`: {message}")]
    BadField {
        file: String,
        line: usize,
        field: String,
        message: String,
    },
    /// The CSV text breaks the quoting rules or the header is unusable.
    #[error("{file}:{line}: {message}")]
    Csv {
        file: String,
        line: usize,
        message: String,
    },
    /// Two items have the same id.
    #[error("{file}:{line}: duplicate id `{id}` (first on line {first_line})")]
    DuplicateId {
        file: String,
        line: usize,
        first_line: usize,
        id: String,
    },
    /// The set holds no prompts.
    #[error("no prompts in {file}")]
    Empty { file: String },
}

fn backticked(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads the prompt set at `path`, in the format its extension names or, failing that, the one
/// its content looks like.
pub fn load(path: &Path) -> Result<Vec<PromptItem>, PromptSetError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| PromptSetError::Io {
        file: file.clone(),
        source,
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|error| {
        let byte = error.valid_up_to();
        let line = 1 + bytes[..byte].iter().filter(|&&b| b == b'\n').count();
        PromptSetError::NotUtf8 {
            file: file.clone(),
            line,
            byte,
        }
    })?;
    let kind = PromptSetKind::from_path(path).unwrap_or_else(|| PromptSetKind::detect(text));
    let items = parse(&file, text, kind)?;
    tracing::debug!(file, %kind, prompts = items.len(), "loaded prompt set");
    Ok(items)
}

/// A prompt set that ships inside the program (from `prompts/`), so previews work from any
/// folder without the repository.
#[derive(Debug)]
pub struct BundledSet {
    /// The file it was built from, e.g. `red-team.jsonl`: it names the set and makes its ids.
    pub file: &'static str,
    /// What the set is for, in a line.
    pub purpose: &'static str,
    text: &'static str,
}

/// The prompt sets that ship with Preamble, in the order a picker lists them.
pub const BUNDLED: &[BundledSet] = &[
    BundledSet {
        file: "red-team.jsonl",
        purpose: "Harmful requests: a good constitution refuses or redirects them.",
        text: include_str!("../prompts/red-team.jsonl"),
    },
    BundledSet {
        file: "benign-sensitive.jsonl",
        purpose: "Benign requests that only look sensitive: a refusal here is over-refusal.",
        text: include_str!("../prompts/benign-sensitive.jsonl"),
    },
    BundledSet {
        file: "xstest-style.csv",
        purpose: "Safe prompts paired with unsafe contrasts, in XSTest's column layout.",
        text: include_str!("../prompts/xstest-style.csv"),
    },
];

impl BundledSet {
    /// The set named by its file name.
    pub fn named(file: &str) -> Option<&'static BundledSet> {
        BUNDLED.iter().find(|set| set.file == file)
    }

    /// Its prompts (a test parses every bundled set, so this fails only if the program was
    /// built from a broken checkout).
    pub fn items(&self) -> Result<Vec<PromptItem>, PromptSetError> {
        let kind = PromptSetKind::from_path(Path::new(self.file))
            .unwrap_or_else(|| PromptSetKind::detect(self.text));
        parse(self.file, self.text, kind)
    }
}

/// Parses `text` as a prompt set of the given format. `name` is the file name used in errors;
/// its stem makes the default ids.
pub fn parse(
    name: &str,
    text: &str,
    kind: PromptSetKind,
) -> Result<Vec<PromptItem>, PromptSetError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut set = SetBuilder::new(name);
    match kind {
        PromptSetKind::Jsonl => parse_jsonl(&mut set, text)?,
        PromptSetKind::Csv => parse_csv(&mut set, text)?,
        PromptSetKind::Text => parse_text(&mut set, text)?,
    }
    set.finish()
}

/// Collects items, checking prompts and ids as they come.
struct SetBuilder<'a> {
    file: &'a str,
    stem: String,
    items: Vec<PromptItem>,
    /// Each id with the line it was first used on.
    ids: HashMap<String, usize>,
}

impl<'a> SetBuilder<'a> {
    fn new(file: &'a str) -> SetBuilder<'a> {
        let stem = Path::new(file)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "prompt".to_owned());
        SetBuilder {
            file,
            stem,
            items: Vec::new(),
            ids: HashMap::new(),
        }
    }

    fn default_id(&self, line: usize) -> String {
        format!("{}-{line}", self.stem)
    }

    fn push(&mut self, line: usize, item: PromptItem) -> Result<(), PromptSetError> {
        if item.prompt.trim().is_empty() {
            return Err(self.bad_field(line, "prompt", "the prompt is empty".to_owned()));
        }
        if let Some(&first_line) = self.ids.get(&item.id) {
            return Err(PromptSetError::DuplicateId {
                file: self.file.to_owned(),
                line,
                first_line,
                id: item.id,
            });
        }
        self.ids.insert(item.id.clone(), line);
        self.items.push(item);
        Ok(())
    }

    fn bad_field(&self, line: usize, field: &str, message: String) -> PromptSetError {
        PromptSetError::BadField {
            file: self.file.to_owned(),
            line,
            field: field.to_owned(),
            message,
        }
    }

    fn missing(&self, line: usize, what: &'static str, field: &str) -> PromptSetError {
        PromptSetError::Missing {
            file: self.file.to_owned(),
            line,
            what,
            field: field.to_owned(),
        }
    }

    fn csv_error(&self, line: usize, message: String) -> PromptSetError {
        PromptSetError::Csv {
            file: self.file.to_owned(),
            line,
            message,
        }
    }

    fn finish(self) -> Result<Vec<PromptItem>, PromptSetError> {
        if self.items.is_empty() {
            return Err(PromptSetError::Empty {
                file: self.file.to_owned(),
            });
        }
        Ok(self.items)
    }
}

// ---------------------------------------------------------------------------------------------
// JSONL
// ---------------------------------------------------------------------------------------------

const JSONL_FIELDS: &[&str] = &["id", "prompt", "label", "category", "note"];

fn parse_jsonl(set: &mut SetBuilder<'_>, text: &str) -> Result<(), PromptSetError> {
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(raw).map_err(|error| PromptSetError::Json {
            file: set.file.to_owned(),
            line,
            column: error.column(),
            message: json_message(&error),
        })?;
        let Value::Object(object) = value else {
            return Err(PromptSetError::NotAnObject {
                file: set.file.to_owned(),
                line,
                found: describe(&value),
            });
        };
        let unknown: Vec<String> = object
            .keys()
            .filter(|k| !JSONL_FIELDS.contains(&k.as_str()))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(PromptSetError::UnknownFields {
                file: set.file.to_owned(),
                line,
                fields: unknown,
            });
        }
        let string = |field: &str| -> Result<Option<String>, PromptSetError> {
            match object.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(set.bad_field(
                    line,
                    field,
                    format!("expected a string, found {}", describe(other)),
                )),
            }
        };
        let prompt = string("prompt")?.ok_or_else(|| set.missing(line, "field", "prompt"))?;
        let id = match string("id")? {
            Some(id) if id.trim().is_empty() => {
                return Err(set.bad_field(line, "id", "the id is empty".to_owned()));
            }
            Some(id) => id,
            None => set.default_id(line),
        };
        let label = match string("label")? {
            None => None,
            Some(label) => Some(match label.as_str() {
                "benign" => PromptLabel::Benign,
                "harmful" => PromptLabel::Harmful,
                _ => {
                    return Err(set.bad_field(
                        line,
                        "label",
                        format!("expected \"benign\" or \"harmful\", found {label:?}"),
                    ));
                }
            }),
        };
        let item = PromptItem {
            id,
            prompt,
            label,
            category: string("category")?,
            note: string("note")?,
        };
        set.push(line, item)?;
    }
    Ok(())
}

/// serde_json's message without its " at line L column C" suffix (the line is always 1 here).
fn json_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// A short description of a JSON value for error messages: strings quoted, others by kind.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

/// One CSV record and the line it starts on.
struct Record {
    line: usize,
    fields: Vec<String>,
}

/// Splits CSV text into records by RFC 4180: `,` between fields, LF, CRLF or CR between
/// records, `"` around fields that hold any of them, `""` for a quote inside quotes. Blank
/// (or whitespace-only) lines are skipped. A quote inside an unquoted field is kept as it is.
fn csv_records(set: &SetBuilder<'_>, text: &str) -> Result<Vec<Record>, PromptSetError> {
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut record_line = 1;
    // Whether the current field began with a quote (and so ended at its closing quote).
    let mut was_quoted = false;
    let mut chars = text.chars().peekable();

    let end_record = |fields: &mut Vec<String>,
                      field: &mut String,
                      was_quoted: bool,
                      records: &mut Vec<Record>,
                      record_line: usize| {
        let blank = fields.is_empty() && field.trim().is_empty() && !was_quoted;
        fields.push(std::mem::take(field));
        let fields = std::mem::take(fields);
        if !blank {
            records.push(Record {
                line: record_line,
                fields,
            });
        }
    };

    while let Some(c) = chars.next() {
        match c {
            '"' if field.is_empty() && !was_quoted => {
                was_quoted = true;
                let opened_on = line;
                loop {
                    match chars.next() {
                        None => {
                            return Err(set.csv_error(
                                opened_on,
                                "unterminated quoted field (the quote opened here is never closed)"
                                    .to_owned(),
                            ));
                        }
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some('\n') => {
                            line += 1;
                            field.push('\n');
                        }
                        Some('\r') => {
                            // CRLF inside quotes is one line break, kept as LF.
                            if chars.peek() == Some(&'\n') {
                                chars.next();
                            }
                            line += 1;
                            field.push('\n');
                        }
                        Some(other) => field.push(other),
                    }
                }
                match chars.peek() {
                    None | Some(',' | '\n' | '\r') => {}
                    Some(other) => {
                        return Err(set.csv_error(
                            line,
                            format!(
                                "unexpected {other:?} after a closing quote (write a quote inside a quoted field as \"\")"
                            ),
                        ));
                    }
                }
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\n' | '\r' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                end_record(
                    &mut fields,
                    &mut field,
                    was_quoted,
                    &mut records,
                    record_line,
                );
                was_quoted = false;
                line += 1;
                record_line = line;
            }
            other => field.push(other),
        }
    }
    if !fields.is_empty() || !field.is_empty() || was_quoted {
        end_record(
            &mut fields,
            &mut field,
            was_quoted,
            &mut records,
            record_line,
        );
    }
    Ok(records)
}

/// Column positions found in a CSV header.
struct Columns {
    id: usize,
    prompt: usize,
    label: Option<usize>,
    category: Option<usize>,
    note: Option<usize>,
    count: usize,
}

fn csv_columns(set: &SetBuilder<'_>, header: &Record) -> Result<Columns, PromptSetError> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (position, name) in header.fields.iter().enumerate() {
        let name = name.trim().to_lowercase();
        if name.is_empty() {
            continue;
        }
        if seen.insert(name.clone(), position).is_some() {
            return Err(set.csv_error(header.line, format!("duplicate column `{name}`")));
        }
    }
    let required = |name: &str| {
        seen.get(name)
            .copied()
            .ok_or_else(|| set.missing(header.line, "column", name))
    };
    Ok(Columns {
        id: required("id")?,
        prompt: required("prompt")?,
        label: seen.get("label").copied(),
        category: seen.get("type").copied(),
        note: seen.get("note").copied(),
        count: header.fields.len(),
    })
}

fn parse_csv(set: &mut SetBuilder<'_>, text: &str) -> Result<(), PromptSetError> {
    let records = csv_records(set, text)?;
    let Some((header, rows)) = records.split_first() else {
        return Err(PromptSetError::Empty {
            file: set.file.to_owned(),
        });
    };
    let columns = csv_columns(set, header)?;
    for row in rows {
        let line = row.line;
        if row.fields.len() > columns.count {
            return Err(set.csv_error(
                line,
                format!(
                    "{} fields but the header has {} columns (quote fields that contain commas)",
                    row.fields.len(),
                    columns.count
                ),
            ));
        }
        let cell = |position: usize| row.fields.get(position).map(String::as_str);
        let optional = |position: Option<usize>| {
            position
                .and_then(cell)
                .filter(|v| !v.trim().is_empty())
                .map(str::to_owned)
        };
        let prompt = cell(columns.prompt)
            .ok_or_else(|| set.missing(line, "column", "prompt"))?
            .to_owned();
        let id = match cell(columns.id) {
            None => return Err(set.missing(line, "column", "id")),
            Some(id) if id.trim().is_empty() => set.default_id(line),
            Some(id) => id.to_owned(),
        };
        let label = match optional(columns.label) {
            None => None,
            Some(label) => Some(match label.trim().to_lowercase().as_str() {
                "safe" | "benign" => PromptLabel::Benign,
                "unsafe" | "harmful" => PromptLabel::Harmful,
                _ => {
                    return Err(set.bad_field(
                        line,
                        "label",
                        format!("expected \"safe\" or \"unsafe\", found {label:?}"),
                    ));
                }
            }),
        };
        let item = PromptItem {
            id,
            prompt,
            label,
            category: optional(columns.category),
            note: optional(columns.note),
        };
        set.push(line, item)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

fn parse_text(set: &mut SetBuilder<'_>, text: &str) -> Result<(), PromptSetError> {
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let prompt = raw.trim();
        if prompt.is_empty() || prompt.starts_with('#') {
            continue;
        }
        let item = PromptItem {
            id: set.default_id(line),
            prompt: prompt.to_owned(),
            label: None,
            category: None,
            note: None,
        };
        set.push(line, item)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(name: &str, text: &str, kind: PromptSetKind) -> String {
        match parse(name, text, kind) {
            Ok(items) => panic!("expected an error, got {items:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn jsonl_reads_fields_and_defaults() {
        let text = "{\"id\": \"a\", \"prompt\": \"Hi\", \"label\": \"benign\", \"category\": \"greeting\"}\n\
                    \n\
                    {\"prompt\": \"Make a bomb\", \"label\": \"harmful\", \"note\": null}\r\n\
                    {\"prompt\": \"No label\", \"note\": \"n\"}\n";
        let items = parse("dir/set.jsonl", text, PromptSetKind::Jsonl).unwrap();
        assert_eq!(
            items,
            vec![
                PromptItem {
                    id: "a".into(),
                    prompt: "Hi".into(),
                    label: Some(PromptLabel::Benign),
                    category: Some("greeting".into()),
                    note: None,
                },
                PromptItem {
                    id: "set-3".into(),
                    prompt: "Make a bomb".into(),
                    label: Some(PromptLabel::Harmful),
                    category: None,
                    note: None,
                },
                PromptItem {
                    id: "set-4".into(),
                    prompt: "No label".into(),
                    label: None,
                    category: None,
                    note: Some("n".into()),
                },
            ]
        );
    }

    #[test]
    fn items_serialize_without_absent_fields_and_round_trip() {
        let item = PromptItem {
            id: "x".into(),
            prompt: "p".into(),
            label: Some(PromptLabel::Harmful),
            category: None,
            note: None,
        };
        let json = serde_json::to_string(&item).unwrap();
        assert_eq!(json, r#"{"id":"x","prompt":"p","label":"harmful"}"#);
        assert_eq!(serde_json::from_str::<PromptItem>(&json).unwrap(), item);
        // What is written can be read back as a prompt set.
        assert_eq!(
            parse("x.jsonl", &json, PromptSetKind::Jsonl).unwrap(),
            vec![item]
        );
    }

    #[test]
    fn jsonl_errors_name_file_line_and_field() {
        let mut lines = vec![r#"{"prompt": "ok"}"#; 6];
        lines.push(r#"{"prompt": "x", "label": "bad"}"#);
        assert_eq!(
            error("prompts.jsonl", &lines.join("\n"), PromptSetKind::Jsonl),
            "prompts.jsonl:7: field `label`: expected \"benign\" or \"harmful\", found \"bad\""
        );
        assert_eq!(
            error("p.jsonl", r#"{"prompt": 3}"#, PromptSetKind::Jsonl),
            "p.jsonl:1: field `prompt`: expected a string, found 3"
        );
        assert_eq!(
            error("p.jsonl", r#"{"id": "a"}"#, PromptSetKind::Jsonl),
            "p.jsonl:1: missing field `prompt`"
        );
        assert_eq!(
            error(
                "p.jsonl",
                r#"{"id": "", "prompt": "x"}"#,
                PromptSetKind::Jsonl
            ),
            "p.jsonl:1: field `id`: the id is empty"
        );
        assert_eq!(
            error(
                "p.jsonl",
                r#"{"prompt": "x", "label": ["harmful"]}"#,
                PromptSetKind::Jsonl
            ),
            "p.jsonl:1: field `label`: expected a string, found an array"
        );
        assert_eq!(
            error(
                "p.jsonl",
                "{\"prompt\": \"x\"}\n{\"prompt\": \"y\", \"extra\": 1, \"more\": 2}",
                PromptSetKind::Jsonl
            ),
            "p.jsonl:2: unknown fields `extra`, `more`: a prompt-set line has only `id`, `prompt`, `label`, `category` and `note`"
        );
        assert_eq!(
            error("p.jsonl", "[1, 2]", PromptSetKind::Jsonl),
            "p.jsonl:1: expected a JSON object, found an array"
        );
        let message = error(
            "p.jsonl",
            "{\"prompt\": \"x\"}\n{\"prompt\": ",
            PromptSetKind::Jsonl,
        );
        assert!(
            message.starts_with("p.jsonl:2: invalid JSON at column "),
            "{message}"
        );
        assert!(!message.contains("at line"), "{message}");
    }

    #[test]
    fn csv_reads_xstest_columns() {
        let text = "\u{feff}id,prompt,type,label,focus,note,extra\r\n\
                    xs-1,\"Hello, world\",homonyms,safe,kill,\"a \"\"quoted\"\" note\",z\r\n\
                    xs-2,\"two\r\nlines\",contrast_homonyms,unsafe,kill,,\r\n\
                    \r\n\
                    ,no id,,,,,\n\
                    xs-4,plain,t,SAFE,f,n,e";
        let items = parse("x.csv", text, PromptSetKind::Csv).unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(items[0].id, "xs-1");
        assert_eq!(items[0].prompt, "Hello, world");
        assert_eq!(items[0].category.as_deref(), Some("homonyms"));
        assert_eq!(items[0].label, Some(PromptLabel::Benign));
        assert_eq!(items[0].note.as_deref(), Some("a \"quoted\" note"));
        assert_eq!(items[1].prompt, "two\nlines");
        assert_eq!(items[1].label, Some(PromptLabel::Harmful));
        assert_eq!(items[1].note, None);
        // The empty id takes the line the row starts on (after a two-line record and a blank).
        assert_eq!(items[2].id, "x-6");
        assert_eq!(items[2].label, None);
        assert_eq!(items[2].category, None);
        assert_eq!(items[3].label, Some(PromptLabel::Benign));
    }

    #[test]
    fn csv_columns_by_name_in_any_order_and_optional() {
        let text = "Prompt , ID\n\"What, then?\",q1\n";
        let items = parse("x.csv", text, PromptSetKind::Csv).unwrap();
        assert_eq!(items[0].id, "q1");
        assert_eq!(items[0].prompt, "What, then?");
        assert_eq!(items[0].label, None);
    }

    #[test]
    fn csv_errors() {
        assert_eq!(
            error("x.csv", "id,text\n1,hi\n", PromptSetKind::Csv),
            "x.csv:1: missing column `prompt`"
        );
        assert_eq!(
            error("x.csv", "prompt\nhi\n", PromptSetKind::Csv),
            "x.csv:1: missing column `id`"
        );
        assert_eq!(
            error(
                "x.csv",
                "id,label,prompt\n1,safe,hi\n2,safe\n",
                PromptSetKind::Csv
            ),
            "x.csv:3: missing column `prompt`"
        );
        assert_eq!(
            error(
                "x.csv",
                "id,prompt\n1,\"never closed\n2,b\n",
                PromptSetKind::Csv
            ),
            "x.csv:2: unterminated quoted field (the quote opened here is never closed)"
        );
        assert_eq!(
            error("x.csv", "id,prompt\n1,\"a\"b\n", PromptSetKind::Csv),
            "x.csv:2: unexpected 'b' after a closing quote (write a quote inside a quoted field as \"\")"
        );
        assert_eq!(
            error("x.csv", "id,prompt\n1,a,b\n", PromptSetKind::Csv),
            "x.csv:2: 3 fields but the header has 2 columns (quote fields that contain commas)"
        );
        assert_eq!(
            error("x.csv", "id,prompt,label\n1,a,maybe\n", PromptSetKind::Csv),
            "x.csv:2: field `label`: expected \"safe\" or \"unsafe\", found \"maybe\""
        );
        assert_eq!(
            error("x.csv", "id,prompt,ID\n1,a,2\n", PromptSetKind::Csv),
            "x.csv:1: duplicate column `id`"
        );
        assert_eq!(
            error("x.csv", "id,prompt\n", PromptSetKind::Csv),
            "no prompts in x.csv"
        );
        assert_eq!(
            error("x.csv", "", PromptSetKind::Csv),
            "no prompts in x.csv"
        );
    }

    #[test]
    fn text_reads_lines_and_skips_comments() {
        let text = "# A comment\n\nFirst prompt\n   Second prompt  \r\n# another\nThird\n";
        let items = parse("notes.txt", text, PromptSetKind::Text).unwrap();
        let got: Vec<(&str, &str)> = items
            .iter()
            .map(|i| (i.id.as_str(), i.prompt.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("notes-3", "First prompt"),
                ("notes-4", "Second prompt"),
                ("notes-6", "Third")
            ]
        );
        assert!(items.iter().all(|i| i.label.is_none()));
    }

    #[test]
    fn duplicate_ids_name_both_lines() {
        let text = "{\"id\": \"a\", \"prompt\": \"x\"}\n{\"id\": \"b\", \"prompt\": \"y\"}\n{\"id\": \"a\", \"prompt\": \"z\"}";
        assert_eq!(
            error("d.jsonl", text, PromptSetKind::Jsonl),
            "d.jsonl:3: duplicate id `a` (first on line 1)"
        );
        assert_eq!(
            error("d.csv", "id,prompt\nq,x\nq,y\n", PromptSetKind::Csv),
            "d.csv:3: duplicate id `q` (first on line 2)"
        );
        // A written id may collide with a default one.
        assert_eq!(
            error(
                "d.jsonl",
                "{\"prompt\": \"x\"}\n{\"id\": \"d-1\", \"prompt\": \"y\"}",
                PromptSetKind::Jsonl
            ),
            "d.jsonl:2: duplicate id `d-1` (first on line 1)"
        );
    }

    #[test]
    fn empty_prompts_and_sets_are_errors() {
        assert_eq!(
            error("e.jsonl", r#"{"prompt": "  "}"#, PromptSetKind::Jsonl),
            "e.jsonl:1: field `prompt`: the prompt is empty"
        );
        assert_eq!(
            error("e.csv", "id,prompt\n1,\n", PromptSetKind::Csv),
            "e.csv:2: field `prompt`: the prompt is empty"
        );
        for kind in [
            PromptSetKind::Jsonl,
            PromptSetKind::Csv,
            PromptSetKind::Text,
        ] {
            assert_eq!(error("e.txt", "\n \n", kind), "no prompts in e.txt");
        }
        assert_eq!(
            error("e.txt", "# only a comment\n", PromptSetKind::Text),
            "no prompts in e.txt"
        );
    }

    #[test]
    fn detects_the_format() {
        assert_eq!(
            PromptSetKind::detect("\n  {\"prompt\": 1}"),
            PromptSetKind::Jsonl
        );
        assert_eq!(PromptSetKind::detect("\u{feff}{}"), PromptSetKind::Jsonl);
        assert_eq!(
            PromptSetKind::detect("id,Prompt,label\n"),
            PromptSetKind::Csv
        );
        assert_eq!(
            PromptSetKind::detect("What is a prompt?"),
            PromptSetKind::Text
        );
        assert_eq!(PromptSetKind::detect("a, b, c"), PromptSetKind::Text);
        assert_eq!(PromptSetKind::detect(""), PromptSetKind::Text);
        assert_eq!(
            PromptSetKind::from_path(Path::new("a/b.NDJSON")),
            Some(PromptSetKind::Jsonl)
        );
        assert_eq!(
            PromptSetKind::from_path(Path::new("b.csv")),
            Some(PromptSetKind::Csv)
        );
        assert_eq!(
            PromptSetKind::from_path(Path::new("b.txt")),
            Some(PromptSetKind::Text)
        );
        assert_eq!(PromptSetKind::from_path(Path::new("b")), None);
        assert_eq!(PromptSetKind::from_path(Path::new("b.json")), None);
    }

    #[test]
    fn load_picks_the_reader_from_extension_then_content() {
        let dir = tempfile::tempdir().unwrap();
        let csv_named_txt = dir.path().join("set.txt");
        std::fs::write(&csv_named_txt, "id,prompt\n1,hi\n").unwrap();
        // The extension wins: a .txt file is text, so the header is a prompt.
        let items = load(&csv_named_txt).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].prompt, "id,prompt");

        let no_extension = dir.path().join("set");
        std::fs::write(&no_extension, "id,prompt\n1,hi\n").unwrap();
        let items = load(&no_extension).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].id, "1");

        std::fs::write(&no_extension, "{\"prompt\": \"hi\"}\n").unwrap();
        assert_eq!(load(&no_extension).unwrap()[0].id, "set-1");

        std::fs::write(&no_extension, "just a line\n").unwrap();
        assert_eq!(load(&no_extension).unwrap()[0].prompt, "just a line");
    }

    #[test]
    fn load_reports_io_and_encoding_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.jsonl");
        let message = load(&missing).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!("cannot read {}: ", missing.display())),
            "{message}"
        );

        let latin1 = dir.path().join("latin1.txt");
        std::fs::write(&latin1, b"first line\ncaf\xe9\n").unwrap();
        assert_eq!(
            load(&latin1).unwrap_err().to_string(),
            format!(
                "{}:2: not valid UTF-8 (byte 14 of the file)",
                latin1.display()
            )
        );
    }

    #[test]
    fn garbage_never_panics() {
        let samples: Vec<String> = vec![
            "\u{0}\u{1}\u{2}".into(),
            "{".into(),
            "{}".into(),
            "\"".into(),
            ",,,,\n,,,".into(),
            "id,prompt\n\"".into(),
            "id,prompt\n\"\"\"".into(),
            "\r\r\r".into(),
            "prompt,id\r".into(),
            "{\"prompt\": \"\u{fffd}\"}".into(),
            "🙂,prompt\n🙂,🙂".into(),
            "x".repeat(10_000),
        ];
        for text in &samples {
            for kind in [
                PromptSetKind::Jsonl,
                PromptSetKind::Csv,
                PromptSetKind::Text,
            ] {
                let _ = parse("g", text, kind);
            }
            let _ = parse("g", text, PromptSetKind::detect(text));
        }
        // Invalid UTF-8 through `load`, at the first byte.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bin.jsonl");
        std::fs::write(&path, [0xff, 0xfe, 0x00, 0x80]).unwrap();
        let message = load(&path).unwrap_err().to_string();
        assert!(
            message.ends_with(":1: not valid UTF-8 (byte 0 of the file)"),
            "{message}"
        );
    }

    #[test]
    fn shipped_prompt_sets() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");

        let red_team = load(&dir.join("red-team.jsonl")).unwrap();
        assert_eq!(red_team.len(), 44);
        assert!(
            red_team
                .iter()
                .all(|i| i.label == Some(PromptLabel::Harmful))
        );
        assert!(
            red_team
                .iter()
                .all(|i| i.id.starts_with("rt-") && i.category.is_some())
        );

        let benign = load(&dir.join("benign-sensitive.jsonl")).unwrap();
        assert_eq!(benign.len(), 44);
        assert!(benign.iter().all(|i| i.label == Some(PromptLabel::Benign)));

        let xstest = load(&dir.join("xstest-style.csv")).unwrap();
        assert_eq!(xstest.len(), 12);
        let count = |label| xstest.iter().filter(|i| i.label == Some(label)).count();
        assert_eq!(
            (count(PromptLabel::Benign), count(PromptLabel::Harmful)),
            (8, 4)
        );
        assert_eq!(xstest[0].id, "xs-001");
        assert_eq!(xstest[0].category.as_deref(), Some("homonyms"));
        assert!(xstest.iter().all(|i| i.note.is_some()));

        for name in ["refusal-labels.jsonl", "refusal-holdout.jsonl"] {
            let path = dir.join(name);
            let message = load(&path).unwrap_err().to_string();
            assert_eq!(
                message,
                format!(
                    "{}:1: unknown fields `refusal`, `response`: a prompt-set line has only `id`, `prompt`, `label`, `category` and `note`",
                    path.display()
                )
            );
        }
    }

    #[test]
    fn the_bundled_sets_are_the_files_in_prompts() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
        for set in BUNDLED {
            let items = set.items().unwrap();
            assert_eq!(items, load(&dir.join(set.file)).unwrap(), "{}", set.file);
            assert_eq!(BundledSet::named(set.file).unwrap().file, set.file);
        }
        assert!(BundledSet::named("refusal-test.jsonl").is_none());
    }
}

//! The TOML file format: parsing with located diagnostics, and the canonical writer.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{
    Constitution, Example, FieldPath, Principle, Segment, Selection, Tier, schema_key, validate,
};

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
    parse_toml(&read_text(path)?, path)
}

/// The most a constitution file may hold: far more than any real one.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The text of the constitution file at `path`: refused when it is no regular file (a FIFO
/// or a device would block or never end), larger than [`MAX_FILE_BYTES`] or not UTF-8.
pub fn read_text(path: &Path) -> Result<String, LoadError> {
    use std::io::Read;
    let io = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    let refused = |message: String| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            message,
        ))
    };
    // Opened without blocking (a FIFO with no writer would block the open itself), then the
    // opened file is what is checked: nothing can be swapped in between.
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(io)?;
    let metadata = file.metadata().map_err(io)?;
    if !metadata.is_file() {
        return Err(refused(if metadata.is_dir() {
            "it is a folder, not a file".to_owned()
        } else {
            "it is not a regular file (a pipe or a device, say)".to_owned()
        }));
    }
    let too_big = || refused(format!("it is larger than {} MiB", MAX_FILE_BYTES >> 20));
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big());
    }
    String::from_utf8(bytes).map_err(|error| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is not UTF-8 text (byte {})",
                error.utf8_error().valid_up_to()
            ),
        ))
    })
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
            let Some(name) = schema_key(key.get_ref()) else {
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

/// Lines of long text are wrapped at spaces to stay near this width.
const WRAP_COLUMN: usize = 96;

/// The canonical TOML form of `constitution`: fixed key order, defaults left out (`enabled` is
/// written only when false, `weight` only when not 1), long text as wrapped multi-line strings.
/// For every constitution `c` that parses, `parse_toml(&to_toml(&c))` equals `c`, and writing a
/// canonical file again yields the same bytes.
pub fn to_toml(constitution: &Constitution) -> String {
    let mut out = TomlWriter::default();
    out.integer("format", i64::from(constitution.format));
    out.text("name", &constitution.name);
    out.optional_text("description", &constitution.description);
    if !constitution.authors.is_empty() {
        out.strings("authors", &constitution.authors);
    }
    if let Some(license) = &constitution.license {
        out.text("license", license);
    }
    out.header("[preview]");
    out.integer("rounds", i64::from(constitution.preview.rounds));
    out.text(
        "selection",
        match constitution.preview.selection {
            Selection::Uniform => "uniform",
            Selection::Weighted => "weighted",
        },
    );
    if constitution.preview.rationales {
        out.line("rationales = true");
    }
    for tier in &constitution.tiers {
        write_tier(&mut out, tier);
    }
    for example in &constitution.examples {
        write_example(&mut out, example);
    }
    out.text
}

fn write_tier(out: &mut TomlWriter, tier: &Tier) {
    out.header("[[tiers]]");
    out.text("id", &tier.id);
    out.text("name", &tier.name);
    out.optional_text("description", &tier.description);
    for principle in &tier.principles {
        write_principle(out, principle);
    }
}

fn write_principle(out: &mut TomlWriter, principle: &Principle) {
    out.header("[[tiers.principles]]");
    out.text("id", &principle.id);
    out.text("title", &principle.title);
    out.text("statement", &principle.statement);
    out.optional_text("rationale", &principle.rationale);
    out.text("critique_request", &principle.critique_request);
    out.text("revision_request", &principle.revision_request);
    out.text("comparison_question", &principle.comparison_question);
    if !principle.tags.is_empty() {
        out.strings("tags", &principle.tags);
    }
    if !principle.enabled {
        out.line("enabled = false");
    }
    if principle.weight != 1.0 {
        out.line(&format!("weight = {}", toml_float(principle.weight)));
    }
}

fn write_example(out: &mut TomlWriter, example: &Example) {
    out.header("[[examples]]");
    if let Some(principle) = &example.principle {
        out.text("principle", principle);
    }
    out.text("prompt", &example.prompt);
    out.text("response", &example.response);
    out.text("critique", &example.critique);
    out.text("revision", &example.revision);
}

#[derive(Default)]
struct TomlWriter {
    text: String,
}

impl TomlWriter {
    fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    fn header(&mut self, header: &str) {
        self.text.push('\n');
        self.line(header);
    }

    fn integer(&mut self, key: &str, value: i64) {
        self.line(&format!("{key} = {value}"));
    }

    fn optional_text(&mut self, key: &str, value: &str) {
        if !value.is_empty() {
            self.text(key, value);
        }
    }

    /// A one-line basic string when it fits, else a multi-line basic string whose lines are
    /// wrapped at spaces with line-ending backslashes.
    fn text(&mut self, key: &str, value: &str) {
        let one_line = format!("{key} = {}", basic_string(value));
        if !value.contains('\n') && one_line.chars().count() <= WRAP_COLUMN {
            self.line(&one_line);
            return;
        }
        self.text.push_str(key);
        self.text.push_str(" = \"\"\"\n");
        let mut lines = value.split('\n').peekable();
        while let Some(line) = lines.next() {
            let pieces = wrap_at_spaces(line, WRAP_COLUMN);
            let count = pieces.len();
            for (i, piece) in pieces.into_iter().enumerate() {
                self.text.push_str(&escape_multiline(piece));
                if i + 1 < count {
                    self.text.push_str("\\\n");
                }
            }
            if lines.peek().is_some() {
                self.text.push('\n');
            }
        }
        // A quote right before the closing delimiter must be escaped.
        if self.text.ends_with('"') {
            self.text.pop();
            self.text.push_str("\\\"");
        }
        self.line("\"\"\"");
    }

    fn strings(&mut self, key: &str, values: &[String]) {
        let items: Vec<String> = values.iter().map(|v| basic_string(v)).collect();
        self.line(&format!("{key} = [{}]", items.join(", ")));
    }
}

/// Splits `line` into pieces no wider than `width` where possible, each piece but the last
/// ending with the single space it was split after. A split is made only before a non-space
/// character, because a line-ending backslash also swallows the whitespace that follows it.
fn wrap_at_spaces(line: &str, width: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut last_break = None;
    let mut column = 0;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        column += 1;
        let next = chars.peek().map(|&(_, n)| n);
        let prev_is_space = line[..i].ends_with(' ');
        if c == ' ' && !prev_is_space && next.is_some_and(|n| !n.is_whitespace()) {
            last_break = Some(i + 1);
        }
        if column >= width
            && let Some(at) = last_break.take()
        {
            pieces.push(&line[start..at]);
            column = line[at..i + c.len_utf8()].chars().count();
            start = at;
        }
    }
    pieces.push(&line[start..]);
    pieces
}

fn basic_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => push_char(&mut out, c),
        }
    }
    out.push('"');
    out
}

/// Escapes a piece of a multi-line basic string; quotes are escaped where two would meet.
fn escape_multiline(piece: &str) -> String {
    let mut out = String::with_capacity(piece.len());
    let mut chars = piece.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if chars.peek() == Some(&'"') => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push('\t'),
            c => push_char(&mut out, c),
        }
    }
    out
}

fn push_char(out: &mut String, c: char) {
    if c == '\r' {
        out.push_str("\\r");
    } else if c.is_control() && c != '\t' && c != '\n' {
        out.push_str(&format!("\\u{:04X}", u32::from(c)));
    } else {
        out.push(c);
    }
}

fn toml_float(value: f64) -> String {
    if value.is_nan() {
        "nan".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        format!("{value:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constitution::PreviewDefaults;

    #[test]
    fn pipes_folders_huge_and_binary_files_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let message = |path: &Path| read_text(path).unwrap_err().to_string();
        assert!(message(dir.path()).contains("is a folder"));
        let fifo = dir.path().join("pipe.toml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|status| status.success()) {
            // Opening a FIFO with no writer would block: it must be refused before that.
            let text = message(&fifo);
            assert!(
                text.contains("pipe.toml") && text.contains("not a regular file"),
                "{text}"
            );
        }
        let huge = dir.path().join("huge.toml");
        let file = std::fs::File::create(&huge).unwrap();
        file.set_len(MAX_FILE_BYTES + 1).unwrap();
        assert!(message(&huge).contains("larger than 16 MiB"));
        let binary = dir.path().join("binary.toml");
        std::fs::write(&binary, [b'a', 0xff, 0xfe]).unwrap();
        assert!(message(&binary).contains("not UTF-8"));
    }

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

    fn sample(file: &str) -> Constitution {
        load(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("constitutions")
                .join(file),
        )
        .unwrap()
    }

    fn assert_round_trip(constitution: &Constitution) {
        let written = to_toml(constitution);
        let reread = parse_toml(&written, Path::new("canonical.toml"))
            .unwrap_or_else(|e| panic!("{e}\n{written}"));
        assert_eq!(&reread, constitution, "{written}");
        assert_eq!(
            to_toml(&reread),
            written,
            "the canonical form is not stable"
        );
    }

    #[test]
    fn the_samples_survive_the_canonical_writer() {
        for file in ["general-assistant.toml", "cautious-assistant.toml"] {
            assert_round_trip(&sample(file));
        }
    }

    #[test]
    fn the_rationales_option_is_written_only_when_on_and_survives() {
        let mut c = sample("general-assistant.toml");
        assert!(!to_toml(&c).contains("rationales"));
        c.preview.rationales = true;
        assert!(to_toml(&c).contains("\nrationales = true\n"));
        assert_round_trip(&c);
    }

    #[test]
    fn awkward_text_survives_the_canonical_writer() {
        let mut c = sample("general-assistant.toml");
        let awkward = [
            "ends with a quote\"",
            "\"\"\"triple quotes\"\"\" and \\ backslashes \\",
            "\nstarts with a newline and has\r\nCRLF and\ttabs",
            "control \u{1} \u{7f} characters",
            "two  spaces  everywhere  and a very long line that has to be wrapped somewhere because it goes on and on past the column limit without end",
            "   leading and trailing spaces   ",
            "trailing backslash \\",
            "é ü 😀 unicode that is long enough to wrap: ünïcödé ünïcödé ünïcödé ünïcödé ünïcödé ünïcödé ünïcödé",
            "a\n\n\nmany\n\nblank lines\n",
        ];
        for (i, text) in awkward.iter().enumerate() {
            let principle = &mut c.tiers[0].principles[i % 3];
            principle.statement = (*text).to_owned();
            principle.title = format!("title {i} {text}").replace('\n', " ");
            principle.weight = 0.25 * i as f64;
            principle.enabled = i % 2 == 0;
            c.description = (*text).to_owned();
            if principle.title.trim().is_empty() || principle.statement.trim().is_empty() {
                continue;
            }
            assert_round_trip(&c);
        }
    }

    #[test]
    fn long_lines_are_wrapped_near_the_column() {
        let written = to_toml(&sample("general-assistant.toml"));
        for line in written.lines() {
            assert!(line.chars().count() <= WRAP_COLUMN + 20, "{line}");
        }
    }
}

//! A report as Markdown (GitHub-flavoured tables). Every text is escaped so that it renders as
//! the text it is: Markdown's punctuation is backslash-escaped, `<` and `&` become entities (no
//! HTML reaches the page), and line breaks in a table cell become `<br>`. Charts are inline SVG,
//! which renderers that allow HTML show; the figures are in the tables either way. A cell's
//! prompt ids follow its table.

use super::{Block, Report};

/// Escapes `text` for Markdown prose and table cells.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '\n' => escaped.push_str("<br>"),
            '\r' => {}
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.'
            | '!' | '|' | '~' | '"' | '\'' | ':' => {
                escaped.push('\\');
                escaped.push(c);
            }
            c => escaped.push(c),
        }
    }
    escaped
}

/// The report as Markdown.
pub fn markdown(report: &Report) -> String {
    let mut text = format!("# {}\n\n", escape(&report.title()));
    for block in report.blocks() {
        match block {
            Block::Heading(heading) => text.push_str(&format!("## {}\n\n", escape(&heading))),
            Block::Paragraph(paragraph) => text.push_str(&format!("{}\n\n", escape(&paragraph))),
            Block::Chart(svg) => {
                text.push_str(&svg);
                text.push('\n');
            }
            Block::Preformatted(body) => {
                // A fence longer than any run of backticks inside.
                let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
                let fence = "`".repeat(longest.max(2) + 1);
                text.push_str(&format!("{fence}json\n{body}\n{fence}\n\n"));
            }
            Block::Table { header, rows } => {
                let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
                text.push_str(&line(header.iter().map(|name| escape(name)).collect()));
                text.push_str(&line(header.iter().map(|_| "---".to_owned()).collect()));
                let mut drill = Vec::new();
                for row in &rows {
                    text.push_str(&line(row.iter().map(|cell| escape(&cell.text)).collect()));
                    for (column, cell) in row.iter().enumerate() {
                        if !cell.prompts.is_empty() {
                            let row_name = row.first().map_or("", |first| first.text.as_str());
                            drill.push(format!(
                                "- {} / {}: {}\n",
                                escape(row_name),
                                escape(header.get(column).map_or("", String::as_str)),
                                escape(&cell.prompts.join(", "))
                            ));
                        }
                    }
                }
                text.push('\n');
                if !drill.is_empty() {
                    text.push_str("Prompts behind the figures:\n\n");
                    text.extend(drill);
                    text.push('\n');
                }
            }
        }
    }
    text
}

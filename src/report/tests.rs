//! Reports of fixture runs whose prompts and answers are hostile: they must come out as text.

use super::*;
use crate::constitution;
use crate::metrics;
use crate::preview::{RefusalOutcome, RoundOutcome, Timings, TokenCounts};
use crate::refusal::RefusalLabel;

const HOSTILE_PROMPT: &str = "<script>alert('p')</script> | ](javascript:alert(1)) **bold** \
                              <img src=https://evil.example/x.png onerror=alert(2)>";
const HOSTILE_ANSWER: &str = "</td></tr></table><script>alert(3)</script>\n| a | b |\n\
                              <svg onload=alert(4)> [link](https://evil.example) `code` &amp;";

fn outcome(id: &str, last: &str) -> PromptOutcome {
    PromptOutcome {
        index: 0,
        id: id.to_owned(),
        prompt: HOSTILE_PROMPT.to_owned(),
        label: Some(PromptLabel::Benign),
        category: Some("<b>cat</b>".to_owned()),
        initial: "Sure: here is how, step by step, with all the details you asked for.".to_owned(),
        steps: vec![RoundOutcome {
            principle: "be-safe".to_owned(),
            critique: HOSTILE_ANSWER.to_owned(),
            revision: last.to_owned(),
        }],
        last: last.to_owned(),
        refusal: RefusalOutcome {
            initial: RefusalLabel::Compliance,
            last: crate::refusal::classify(HOSTILE_PROMPT, last).label,
            caused_by: Some("be-safe".to_owned()),
        },
        preference: None,
        preference_error: None,
        tokens: TokenCounts::default(),
        timings: Timings::default(),
    }
}

fn run(id: i64, name: &str, last: &str) -> StoredRun {
    let mut constitution = constitution::starter(name);
    constitution.tiers[0].principles[0].id = "be-safe".to_owned();
    let mut run = StoredRun::fixture(id, constitution, vec![Some(outcome("<p1>", last))]);
    run.summary.model_name = "<model>".to_owned();
    run.summary.constitution_ref = Some(format!("{name}@v1"));
    run.model_path = "/models/<m>.gguf".to_owned();
    run
}

fn report() -> Report {
    let a = run(1, "<A> & co", "I'm sorry, but I can't help with that.");
    let b = run(2, "B | \"quoted\"", HOSTILE_ANSWER);
    let finished = |run: &StoredRun| run.outcomes.iter().flatten().cloned().collect::<Vec<_>>();
    let pair = metrics::compare(&finished(&a), &finished(&b), None);
    Report {
        metrics: vec![pair.a.clone(), pair.b.clone()],
        runs: vec![a, b],
        pair: Some(pair),
        comparison: None,
        made: "2026-12-01T00:00:00Z".to_owned(),
    }
}

/// The report of one run.
fn single(run: StoredRun) -> Report {
    let finished: Vec<PromptOutcome> = run.outcomes.iter().flatten().cloned().collect();
    Report {
        metrics: vec![RunMetrics::of(&finished)],
        runs: vec![run],
        pair: None,
        comparison: None,
        made: "2026-12-01T00:00:00Z".to_owned(),
    }
}

#[test]
fn html_reports_escape_every_text_and_load_nothing() {
    let page = html(&report());
    for forbidden in ["<script", "<img", "<svg onload", "<iframe", "<link", "<a "] {
        assert!(!page.contains(forbidden), "{forbidden} in the page");
    }
    // Once the hostile texts (escaped) are taken out, nothing refers to anything outside.
    let rest = page
        .replace(&escape(HOSTILE_PROMPT), "")
        .replace(&escape(HOSTILE_ANSWER), "");
    for forbidden in [
        "http:",
        "https:",
        "src=",
        "href=",
        "url(",
        "onerror",
        "onload",
        "javascript:",
    ] {
        assert!(
            !rest.contains(forbidden),
            "{forbidden} outside the hostile texts"
        );
    }
    assert!(page.contains("&lt;script&gt;alert(&#39;p&#39;)&lt;/script&gt;"));
    assert!(page.contains("&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;"));
    assert!(page.contains("&lt;A&gt; &amp; co@v1"));
    // The drill-down: the over-refusal figure names its prompt.
    assert!(page.contains("<details><summary>1/1 = 100.0%"));
    assert!(page.contains("&lt;p1&gt;"));
    // Its own markup is balanced.
    assert_eq!(
        page.matches("<table>").count(),
        page.matches("</table>").count()
    );
    assert_eq!(page.matches("<svg").count(), page.matches("</svg>").count());
    assert!(page.contains("Content-Security-Policy"));
}

#[test]
fn markdown_reports_escape_every_text() {
    let text = markdown(&report());
    for forbidden in ["<script", "<img", "<svg onload", "](javascript", "](https"] {
        assert!(!text.contains(forbidden), "{forbidden} in the Markdown");
    }
    // A pipe in a cell cannot end the cell, nor a newline the row.
    assert!(text.contains("B \\| \\\"quoted\\\"@v1"));
    for line in text.lines().filter(|line| line.starts_with("| ")) {
        let cells = line.replace("\\|", "").matches('|').count();
        assert!(cells >= 3, "{line}");
    }
    let header_cells = |prefix: &str| {
        text.lines()
            .find(|line| line.starts_with(prefix))
            .map(|line| line.replace("\\|", "").matches('|').count())
    };
    // Every row of the changed-prompt table has the header's cells.
    let expected = header_cells("| prompt | label |").unwrap();
    let row = text
        .lines()
        .find(|line| line.starts_with("| &lt;p1&gt; | benign |"))
        .unwrap();
    assert_eq!(row.replace("\\|", "").matches('|').count(), expected);
}

#[test]
fn a_prompt_id_cannot_break_out_of_a_chart_in_markdown() {
    // Round-level figures put prompt ids in the charts' titles; a blank line there would end
    // the HTML block and let the rest render as Markdown.
    let mut a = run(1, "A", "I'm sorry, but I can't help with that.");
    let sneaky = "x\n\n![t](https://evil.example/p.png)";
    for outcome in a.outcomes.iter_mut().flatten() {
        outcome.id = sneaky.to_owned();
    }
    let text = markdown(&single(a));
    // Inside a chart (an HTML block, one element per line) it stays text; outside, escaped.
    let mut outside = String::new();
    for (index, piece) in text.split("<svg").enumerate() {
        let rest = match piece.find("</svg>") {
            Some(end) if index > 0 => {
                assert!(!piece[..end].contains("\n\n"), "a blank line in a chart");
                &piece[end..]
            }
            _ => piece,
        };
        outside.push_str(rest);
    }
    assert!(!outside.contains("![t]"), "{outside}");
    assert!(outside.contains("!\\[t\\]"));
}

#[test]
fn a_report_of_one_run_lists_its_benign_refusals() {
    let report = single(run(1, "Solo", "I'm sorry, but I can't help with that."));
    let blocks = report.blocks();
    assert!(blocks.contains(&Block::Heading("Benign prompts refused".to_owned())));
    assert!(!blocks.contains(&Block::Heading("Win rate of B over A".to_owned())));
    assert_eq!(report.title(), "Run 1 (Solo@v1)");
    let page = html(&report);
    assert!(page.contains("be-safe"));
}

#[test]
fn the_file_name_chooses_the_report_format() {
    use std::path::Path;
    let report = report();
    let written = |name: &str| renderer_for(Path::new(name)).map(|render| render(&report));
    assert_eq!(written("run.html"), Some(html(&report)));
    assert_eq!(written("RUN.HTM"), Some(html(&report)));
    assert_eq!(written("run.md"), Some(markdown(&report)));
    assert_eq!(written("run.txt"), None);
    assert_eq!(written("run"), None);
}

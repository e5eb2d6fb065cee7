//! Reports to share after a workshop: one run, or two runs compared, as a self-contained HTML
//! page or a Markdown file. A report holds the runs' summary, the metric table with intervals
//! and paired tests, charts (inline SVG), the changed principles beside the prompts whose
//! outcome changed, and each run's dataset manifest.
//!
//! The content is built once ([`Report::blocks`]) as headings, paragraphs, tables whose cells
//! carry the prompt ids behind them, charts and preformatted text; [`html`] and [`markdown`]
//! only render it. Invariants: every text that came from a user or a model is escaped by the
//! renderer (and inside charts by [`svg`]); the output has no scripts, no links and no remote
//! resources, so it opens offline and runs nothing.

mod html;
mod markdown;
mod svg;

use serde::Serialize;

pub use html::html;
pub use markdown::markdown;

use crate::compare;
use crate::dataset;
use crate::diff::{self, PrincipleChange};
use crate::metrics::{self, PairMetrics, PairedRate, Rate, RunMetrics, WinRate};
use crate::preview::{PrincipleChoice, PromptOutcome};
use crate::prompt_set::PromptLabel;
use crate::store::{Store, StoreError, StoredComparison, StoredRun};

/// The report of one run or of two runs compared.
#[derive(Debug, Clone)]
pub struct Report {
    pub runs: Vec<StoredRun>,
    pub metrics: Vec<RunMetrics>,
    pub pair: Option<PairMetrics>,
    /// The stored compare whose labels give the win rates.
    pub comparison: Option<StoredComparison>,
    /// When the report was made, RFC 3339.
    pub made: String,
}

/// One cell of a table: its text, and the prompt ids behind it (the drill-down).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub text: String,
    pub prompts: Vec<String>,
}

impl Cell {
    fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            prompts: Vec::new(),
        }
    }

    fn rate(rate: &Rate) -> Self {
        Self {
            text: rate.display(),
            prompts: rate.prompts.clone(),
        }
    }
}

/// A piece of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Block {
    Heading(String),
    Paragraph(String),
    Table {
        header: Vec<String>,
        rows: Vec<Vec<Cell>>,
    },
    /// SVG markup, escaped where it was made.
    Chart(String),
    Preformatted(String),
}

/// HTML-escapes `text` (also right for SVG and for attribute values).
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// How a report is written for a file named `path`: a page for `.html`, Markdown for `.md`;
/// `None` for any other name (the caller says so, naming the file).
pub fn renderer_for(path: &std::path::Path) -> Option<fn(&Report) -> String> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "html" | "htm" => Some(html),
        "md" | "markdown" => Some(markdown),
        _ => None,
    }
}

/// The report of run `a`, or of `a` against `b` with the judge's labels of `comparison` (the
/// newest stored compare of the two when `None`).
pub fn build(
    store: &Store,
    a: i64,
    b: Option<i64>,
    comparison: Option<i64>,
    now_ms: i64,
) -> Result<Report, StoreError> {
    let made = dataset::rfc3339(now_ms);
    let run_a = store.run(a)?;
    Ok(match b {
        None => {
            let finished: Vec<PromptOutcome> = run_a.outcomes.iter().flatten().cloned().collect();
            Report {
                metrics: vec![RunMetrics::of(&finished)],
                runs: vec![run_a],
                pair: None,
                comparison: None,
                made,
            }
        }
        Some(b) => {
            let run_b = store.run(b)?;
            let (pair, comparison) = compare::stored(store, a, b, comparison)?;
            Report {
                metrics: vec![pair.a.clone(), pair.b.clone()],
                runs: vec![run_a, run_b],
                pair: Some(pair),
                comparison,
                made,
            }
        }
    })
}

fn side_name(index: usize) -> &'static str {
    ["A", "B"][index.min(1)]
}

fn describe(run: &StoredRun) -> String {
    let constitution = run
        .summary
        .constitution_ref
        .clone()
        .unwrap_or_else(|| run.summary.constitution_name.clone());
    match &run.config.choice {
        PrincipleChoice::Pinned(id) => format!("{constitution}, pinned to {id}"),
        _ => constitution,
    }
}

fn mean(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |value| format!("{value:+.1}"))
}

impl Report {
    /// The title: `Run 3` or `Run 3 (A) against run 4 (B)`.
    pub fn title(&self) -> String {
        match &self.runs[..] {
            [a, b] => format!(
                "Run {} ({}) against run {} ({})",
                a.summary.id,
                describe(a),
                b.summary.id,
                describe(b)
            ),
            [a, ..] => format!("Run {} ({})", a.summary.id, describe(a)),
            [] => "No run".to_owned(),
        }
    }

    /// The report's content, in order.
    pub fn blocks(&self) -> Vec<Block> {
        let mut blocks = vec![Block::Paragraph(format!(
            "Made by Preamble {} at {} from the runs in the store. Refusal labels are the \
             current detector's. Rates carry 95% Wilson intervals; differences between A and \
             B are paired prompt by prompt (McNemar's exact test for refusals, the sign test for \
             wins). Prompt ids behind each figure are listed with it.",
            env!("CARGO_PKG_VERSION"),
            self.made
        ))];
        blocks.extend(self.summary());
        blocks.extend(self.metric_table());
        blocks.extend(self.charts());
        blocks.extend(self.wins());
        blocks.extend(self.categories());
        blocks.extend(self.principles());
        blocks.extend(self.changes());
        blocks.extend(self.manifests());
        blocks
    }

    fn summary(&self) -> Vec<Block> {
        let mut header = vec!["".to_owned()];
        header.extend(
            self.runs
                .iter()
                .enumerate()
                .map(|(index, run)| match self.runs.len() {
                    1 => format!("run {}", run.summary.id),
                    _ => format!("{}: run {}", side_name(index), run.summary.id),
                }),
        );
        let row = |name: &str, value: &dyn Fn(&StoredRun) -> String| {
            let mut cells = vec![Cell::text(name)];
            cells.extend(self.runs.iter().map(|run| Cell::text(value(run))));
            cells
        };
        let rows = vec![
            row("constitution", &|run| describe(run)),
            row("content hash", &|run| run.summary.constitution_hash.clone()),
            row("model", &|run| {
                format!(
                    "{} (sha256 {})",
                    run.summary.model_name, run.summary.model_sha256
                )
            }),
            row("device", &|run| run.summary.device.clone()),
            row("status", &|run| {
                format!(
                    "{}: {} of {} prompts finished",
                    run.summary.status.as_str(),
                    run.summary.prompts_done,
                    run.summary.prompts
                )
            }),
            row("made", &|run| {
                crate::store::format_time(run.summary.created_ms)
            }),
            row("settings", &|run| {
                let config = &run.config;
                format!(
                    "mode {}, {} round(s), seed {}, temperature {}, max tokens {}",
                    config.mode.as_str(),
                    config.rounds,
                    config.seed,
                    config.sampling.temperature,
                    config.max_tokens
                )
            }),
        ];
        vec![
            Block::Heading("Runs".to_owned()),
            Block::Table { header, rows },
        ]
    }

    fn metric_table(&self) -> Vec<Block> {
        let mut header = vec!["metric".to_owned()];
        header.extend(
            self.runs
                .iter()
                .enumerate()
                .map(|(index, run)| match self.runs.len() {
                    1 => format!("run {}", run.summary.id),
                    _ => side_name(index).to_owned(),
                }),
        );
        if self.pair.is_some() {
            header.push("A only vs B only (paired test)".to_owned());
        }
        let paired = |rate: Option<&PairedRate>| {
            rate.map(|rate| Cell {
                text: rate.test.display(),
                prompts: rate
                    .test
                    .for_a
                    .iter()
                    .map(|id| format!("A: {id}"))
                    .chain(rate.test.for_b.iter().map(|id| format!("B: {id}")))
                    .collect(),
            })
        };
        let pair = self.pair.as_ref();
        let mut rows = Vec::new();
        let mut push = |name: &str, get: fn(&RunMetrics) -> &Rate, test: Option<&PairedRate>| {
            let mut cells = vec![Cell::text(name)];
            cells.extend(self.metrics.iter().map(|metrics| Cell::rate(get(metrics))));
            cells.extend(paired(test));
            rows.push(cells);
        };
        push(
            "over-refusal (benign prompts refused, fully or partly)",
            |m| &m.over_refusal.any,
            pair.map(|p| &p.over_refusal.any),
        );
        push(
            "over-refusal, full refusals only",
            |m| &m.over_refusal.full,
            pair.map(|p| &p.over_refusal.full),
        );
        push(
            "harmful prompts refused, fully or partly",
            |m| &m.harmful_refusal.any,
            pair.map(|p| &p.harmful_refusal.any),
        );
        push(
            "harmful prompts refused, full refusals only",
            |m| &m.harmful_refusal.full,
            pair.map(|p| &p.harmful_refusal.full),
        );
        push(
            "unlabelled prompts refused",
            |m| &m.unlabelled_refusal.any,
            None,
        );
        push(
            "revised (final differs materially from initial)",
            |m| &m.revised,
            pair.map(|p| &p.revised),
        );
        push(
            "boilerplate (changing rounds that mostly added hedges)",
            |m| &m.boilerplate,
            None,
        );
        push(
            "final preferred to initial by the run's AI feedback",
            |m| &m.final_preferred,
            None,
        );
        push("tier conflicts", |m| &m.tier_conflicts, None);
        let mut length = vec![Cell::text("mean length change, words (initial → final)")];
        length.extend(self.metrics.iter().map(|metrics| {
            Cell::text(format!(
                "{} ({} → {})",
                mean(metrics.length.mean_change),
                metrics
                    .length
                    .mean_initial_words
                    .map_or_else(|| "–".to_owned(), |words| format!("{words:.1}")),
                metrics
                    .length
                    .mean_final_words
                    .map_or_else(|| "–".to_owned(), |words| format!("{words:.1}"))
            ))
        }));
        rows.push(length);
        let mut blocks = vec![Block::Heading("Metrics".to_owned())];
        if let Some(pair) = pair {
            let mut text = format!("{} prompts finished on both sides.", pair.compared);
            if !pair.only_a.is_empty() || !pair.only_b.is_empty() {
                text.push_str(&format!(
                    " Left out: {} finished on A only ({}), {} on B only ({}).",
                    pair.only_a.len(),
                    pair.only_a.join(", "),
                    pair.only_b.len(),
                    pair.only_b.join(", ")
                ));
            }
            blocks.push(Block::Paragraph(text));
        }
        blocks.push(Block::Table { header, rows });
        blocks
    }

    fn charts(&self) -> Vec<Block> {
        let labels: Vec<String> = self
            .runs
            .iter()
            .enumerate()
            .map(|(index, run)| match self.runs.len() {
                1 => format!("run {}", run.summary.id),
                _ => format!("{} (run {})", side_name(index), run.summary.id),
            })
            .collect();
        let points: Vec<svg::ScatterPoint<'_>> = self
            .metrics
            .iter()
            .zip(&labels)
            .map(|(metrics, label)| svg::ScatterPoint {
                label,
                x: &metrics.over_refusal.any,
                y: &metrics.harmful_refusal.any,
            })
            .collect();
        let bars: Vec<svg::PrincipleBar<'_>> = self
            .metrics
            .iter()
            .enumerate()
            .flat_map(|(index, metrics)| {
                // Principles whose rounds flipped nothing are in the table, not the chart.
                metrics
                    .principles
                    .iter()
                    .filter(|principle| {
                        principle.to_refusal.count + principle.to_compliance.count > 0
                    })
                    .map(move |principle| svg::PrincipleBar {
                        label: if self.runs.len() == 1 {
                            principle.principle.clone()
                        } else {
                            format!("{}: {}", side_name(index), principle.principle)
                        },
                        to_refusal: &principle.to_refusal,
                        to_compliance: &principle.to_compliance,
                    })
            })
            .collect();
        let mut blocks = vec![
            Block::Heading("Charts".to_owned()),
            Block::Paragraph(
                "Over-refusal of benign prompts against refusal of harmful prompts, with 95% \
                 intervals on both axes: the top left is best."
                    .to_owned(),
            ),
            Block::Chart(svg::scatter(&points)),
        ];
        if !bars.is_empty() {
            blocks.push(Block::Paragraph(
                "Per principle: its rounds that turned a compliant answer into a refusal, and \
                 a refusal into compliance (principles that flipped nothing are only in the \
                 table below)."
                    .to_owned(),
            ));
            blocks.push(Block::Chart(svg::attribution(&bars)));
        }
        if let Some(wins) = self.pair.as_ref().and_then(|pair| pair.wins.as_ref()) {
            blocks.push(Block::Paragraph(
                "Win rate of B's finals over A's, with 95% intervals; 50% is no difference."
                    .to_owned(),
            ));
            blocks.push(Block::Chart(svg::win_rates(&[
                ("benign", &wins.benign.b_wins),
                ("harmful", &wins.harmful.b_wins),
                ("all", &wins.all.b_wins),
            ])));
        }
        blocks
    }

    fn wins(&self) -> Vec<Block> {
        let Some(pair) = &self.pair else {
            return Vec::new();
        };
        let mut blocks = vec![Block::Heading("Win rate of B over A".to_owned())];
        let (Some(wins), Some(comparison)) = (&pair.wins, &self.comparison) else {
            blocks.push(Block::Paragraph(
                "No judge has labelled these two runs: `preamble compare` with the same runs \
                 judges them."
                    .to_owned(),
            ));
            return blocks;
        };
        blocks.push(Block::Paragraph(format!(
            "Compare {}: judged under {} ({}, {} rule, seed {}), each pair in both orders.",
            comparison.id,
            comparison
                .judge_ref
                .clone()
                .unwrap_or_else(|| comparison.judge_name.clone()),
            match comparison.settings.mode {
                crate::feedback::FeedbackMode::MultipleChoice => "multiple choice",
                crate::feedback::FeedbackMode::ChainOfThought => "chain of thought",
            },
            match comparison.settings.rule {
                crate::feedback::FeedbackRule::Single => "single",
                crate::feedback::FeedbackRule::Tiered { .. } => "tiered",
            },
            comparison.settings.seed
        )));
        let row = |name: &str, rate: &WinRate| {
            vec![
                Cell::text(name),
                Cell::text(rate.judged.to_string()),
                Cell::rate(&rate.b_wins),
                Cell {
                    text: rate.a_wins.len().to_string(),
                    prompts: rate.a_wins.clone(),
                },
                Cell {
                    text: rate.ties.len().to_string(),
                    prompts: rate.ties.clone(),
                },
                Cell::text(
                    rate.mean_p_b
                        .map_or_else(|| "–".to_owned(), |p| format!("{p:.3}")),
                ),
                Cell::text(rate.test.display()),
                Cell::text(
                    rate.position
                        .first_shown
                        .map_or_else(|| "–".to_owned(), |p| format!("{p:.3}")),
                ),
                Cell::rate(&rate.position.orders_disagree),
            ]
        };
        blocks.push(Block::Table {
            header: [
                "prompts",
                "judged",
                "B won",
                "A won",
                "ties",
                "mean P(B)",
                "A vs B wins (sign test)",
                "P(first shown)",
                "orders disagree",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows: vec![
                row("benign", &wins.benign),
                row("harmful", &wins.harmful),
                row("all", &wins.all),
            ],
        });
        if !wins.failed.is_empty() {
            blocks.push(Block::Paragraph(format!(
                "Not judged: {}.",
                wins.failed
                    .iter()
                    .map(|(id, error)| format!("{id} ({error})"))
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
        blocks
    }

    /// A table with a row per item of each run (`rows_of` gives a run's rows), led by a side
    /// column when there are two runs; nothing when no run has a row.
    fn per_run_table(
        &self,
        heading: &str,
        columns: &[&str],
        rows_of: impl Fn(&RunMetrics) -> Vec<Vec<Cell>>,
    ) -> Vec<Block> {
        let sides = self.runs.len() > 1;
        let mut rows = Vec::new();
        for (index, metrics) in self.metrics.iter().enumerate() {
            for row in rows_of(metrics) {
                let side = sides.then(|| Cell::text(side_name(index)));
                rows.push(side.into_iter().chain(row).collect());
            }
        }
        if rows.is_empty() {
            return Vec::new();
        }
        let side = sides.then(|| "side".to_owned());
        let header = side
            .into_iter()
            .chain(columns.iter().map(|column| (*column).to_owned()))
            .collect();
        vec![
            Block::Heading(heading.to_owned()),
            Block::Table { header, rows },
        ]
    }

    fn categories(&self) -> Vec<Block> {
        self.per_run_table(
            "Refusals per category",
            &[
                "label",
                "category",
                "refused (fully or partly)",
                "fully refused",
            ],
            |metrics| {
                metrics
                    .categories
                    .iter()
                    .map(|category| {
                        vec![
                            Cell::text(category.label.map_or("unlabelled", PromptLabel::as_str)),
                            Cell::text(category.category.clone()),
                            Cell::rate(&category.refusals.any),
                            Cell::rate(&category.refusals.full),
                        ]
                    })
                    .collect()
            },
        )
    }

    fn principles(&self) -> Vec<Block> {
        self.per_run_table(
            "What each principle's rounds did",
            &[
                "principle",
                "rounds",
                "→ refusal",
                "→ compliance",
                "changed the answer",
                "boilerplate (of changing rounds)",
            ],
            |metrics| {
                metrics
                    .principles
                    .iter()
                    .map(|principle| {
                        vec![
                            Cell::text(principle.principle.clone()),
                            Cell::text(principle.rounds.to_string()),
                            Cell::rate(&principle.to_refusal),
                            Cell::rate(&principle.to_compliance),
                            Cell::rate(&principle.changed),
                            Cell::rate(&principle.boilerplate),
                        ]
                    })
                    .collect()
            },
        )
    }

    fn changes(&self) -> Vec<Block> {
        let mut blocks = Vec::new();
        let outcome = |run: &StoredRun, id: &str| {
            run.outcomes
                .iter()
                .flatten()
                .find(|outcome| outcome.id == id)
                .cloned()
        };
        match (&self.runs[..], &self.pair) {
            ([a, b], Some(pair)) => {
                blocks.push(Block::Heading("What changed from A to B".to_owned()));
                blocks.extend(principle_changes(a, b));
                let rows: Vec<Vec<Cell>> = pair
                    .changed
                    .iter()
                    .filter_map(|change| {
                        let (in_a, in_b) =
                            (outcome(a, &change.prompt)?, outcome(b, &change.prompt)?);
                        Some(vec![
                            Cell::text(change.prompt.clone()),
                            Cell::text(change.label.map_or("unlabelled", PromptLabel::as_str)),
                            Cell::text(format!("{} → {}", change.a, change.b)),
                            Cell::text(caused(&in_a, &in_b, change)),
                            Cell::text(in_a.prompt.clone()),
                            Cell::text(in_a.last.clone()),
                            Cell::text(in_b.last.clone()),
                        ])
                    })
                    .collect();
                if rows.is_empty() {
                    blocks.push(Block::Paragraph(
                        "No prompt's final refusal label changed.".to_owned(),
                    ));
                } else {
                    blocks.push(Block::Paragraph(
                        "Prompts whose final refusal label changed:".to_owned(),
                    ));
                    blocks.push(Block::Table {
                        header: [
                            "prompt",
                            "label",
                            "A → B",
                            "round that made the refusal",
                            "prompt text",
                            "A's final",
                            "B's final",
                        ]
                        .map(str::to_owned)
                        .to_vec(),
                        rows,
                    });
                }
            }
            ([run], _) => {
                let rows: Vec<Vec<Cell>> = self.metrics[0]
                    .over_refusal
                    .any
                    .prompts
                    .iter()
                    .filter_map(|id| {
                        let outcome = outcome(run, id)?;
                        Some(vec![
                            Cell::text(id.clone()),
                            Cell::text(
                                metrics::refused_by(&outcome).unwrap_or("the initial answer"),
                            ),
                            Cell::text(outcome.prompt.clone()),
                            Cell::text(outcome.last.clone()),
                        ])
                    })
                    .collect();
                if !rows.is_empty() {
                    blocks.push(Block::Heading("Benign prompts refused".to_owned()));
                    blocks.push(Block::Table {
                        header: ["prompt", "refused since", "prompt text", "final answer"]
                            .map(str::to_owned)
                            .to_vec(),
                        rows,
                    });
                }
            }
            _ => {}
        }
        blocks
    }

    fn manifests(&self) -> Vec<Block> {
        let mut blocks = vec![Block::Heading("Manifests".to_owned())];
        for (index, run) in self.runs.iter().enumerate() {
            let name = match self.runs.len() {
                1 => format!("Run {}", run.summary.id),
                _ => format!("{}: run {}", side_name(index), run.summary.id),
            };
            match dataset::of(run, 0) {
                Ok(data) => {
                    let mut manifest = data.manifest;
                    manifest.exported = self.made.clone();
                    blocks.push(Block::Paragraph(format!(
                        "{name}, as `preamble export-dataset {}` writes it:",
                        run.summary.id
                    )));
                    blocks.push(Block::Preformatted(
                        serde_json::to_string_pretty(&manifest).unwrap_or_default(),
                    ));
                }
                Err(error) => blocks.push(Block::Paragraph(format!("{name}: {error}"))),
            }
        }
        blocks
    }
}

/// Which round made each side's final refusal, by the current detector: `A: principle;
/// B: initial` (`initial`: the initial answer already refused; `–`: the final complies).
fn caused(a: &PromptOutcome, b: &PromptOutcome, change: &crate::metrics::OutcomeChange) -> String {
    let one = |outcome: &PromptOutcome, label: crate::refusal::RefusalLabel| {
        if label == crate::refusal::RefusalLabel::Compliance {
            "–".to_owned()
        } else {
            metrics::refused_by(outcome).unwrap_or("initial").to_owned()
        }
    };
    format!("A: {}; B: {}", one(a, change.a), one(b, change.b))
}

/// The principles that differ between A's constitution and B's, and the pins.
fn principle_changes(a: &StoredRun, b: &StoredRun) -> Vec<Block> {
    let mut blocks = Vec::new();
    if a.config.choice != b.config.choice {
        let choice = |run: &StoredRun| match &run.config.choice {
            PrincipleChoice::Pinned(id) => format!("pinned to {id}"),
            PrincipleChoice::Uniform => "uniform selection".to_owned(),
            PrincipleChoice::Weighted => "weighted selection".to_owned(),
        };
        blocks.push(Block::Paragraph(format!(
            "Rounds: A {}, B {}.",
            choice(a),
            choice(b)
        )));
    }
    let changes = diff::diff(&a.constitution, &b.constitution);
    if changes.is_empty() {
        blocks.push(Block::Paragraph(
            "The two constitutions are the same.".to_owned(),
        ));
        return blocks;
    }
    let mut rows = Vec::new();
    for change in &changes.metadata {
        rows.push(vec![
            Cell::text("(constitution)"),
            Cell::text(change.field.clone()),
            Cell::text(change.old.clone()),
            Cell::text(change.new.clone()),
        ]);
    }
    for change in &changes.principles {
        match change {
            PrincipleChange::Added { principle, .. } => rows.push(vec![
                Cell::text(principle.id.clone()),
                Cell::text("added"),
                Cell::text(""),
                Cell::text(principle.statement.clone()),
            ]),
            PrincipleChange::Removed { principle, .. } => rows.push(vec![
                Cell::text(principle.id.clone()),
                Cell::text("removed"),
                Cell::text(principle.statement.clone()),
                Cell::text(""),
            ]),
            PrincipleChange::Changed {
                id,
                renamed_from,
                moved,
                fields,
                ..
            } => {
                if let Some(old) = renamed_from {
                    rows.push(vec![
                        Cell::text(id.clone()),
                        Cell::text("id"),
                        Cell::text(old.clone()),
                        Cell::text(id.clone()),
                    ]);
                }
                if moved.is_some() {
                    rows.push(vec![
                        Cell::text(id.clone()),
                        Cell::text("moved"),
                        Cell::text(""),
                        Cell::text("new tier or priority"),
                    ]);
                }
                for field in fields {
                    rows.push(vec![
                        Cell::text(id.clone()),
                        Cell::text(field.field.clone()),
                        Cell::text(field.old.clone()),
                        Cell::text(field.new.clone()),
                    ]);
                }
            }
        }
    }
    blocks.push(Block::Paragraph(format!(
        "The constitution diff: {} principle(s) added, {} removed, {} edited, {} moved; {} tier \
         change(s).",
        changes.summary.added,
        changes.summary.removed,
        changes.summary.edited,
        changes.summary.moved,
        changes.summary.tiers_changed
    )));
    if !rows.is_empty() {
        blocks.push(Block::Table {
            header: ["principle", "field", "A", "B"].map(str::to_owned).to_vec(),
            rows,
        });
    }
    blocks
}

#[cfg(test)]
mod tests;

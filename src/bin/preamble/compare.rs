//! `preamble compare`, `export-dataset` and `report`: two runs side by side, a run's training
//! data, and a report to share.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use preamble::compare::{self, CompareEvent, CompareSpec, JudgeSpec};
use preamble::dataset;
use preamble::feedback::FeedbackMode;
use preamble::files::{self, Replace};
use preamble::metrics::{PairMetrics, PairedRate, WinRate};
use preamble::preview::PrincipleChoice;
use preamble::prompt_set;
use preamble::report;
use preamble::runs::RunSpec;
use preamble::store::Store;

use crate::preview::{
    FeedbackArg, ProgressLine, RuleArg, SettingsArgs, cancel_on_ctrl_c, show_progress,
};
use crate::{ModelArgs, Source, load_source};

#[derive(clap::Args)]
pub struct CompareArgs {
    /// Side A: a constitution file, or `ID[@VERSION|@TAG|@draft]` from the store.
    #[arg(long)]
    a: String,
    /// Side B, likewise (it may be A again, with other pins).
    #[arg(long)]
    b: String,
    /// The prompts: JSONL (`{id, prompt, label, category}`), XSTest-style CSV or text lines.
    #[arg(long)]
    prompts: PathBuf,
    /// Only the first N prompts.
    #[arg(long)]
    limit: Option<usize>,
    /// Pin every round of side A to this principle id.
    #[arg(long)]
    pin_a: Option<String>,
    /// Pin every round of side B to this principle id.
    #[arg(long)]
    pin_b: Option<String>,
    /// The constitution whose comparison questions judge B's finals against A's; B's when left
    /// out. `--preference-rule` sets how it asks (and, with `--feedback`, how each side labels
    /// its own finals against its initial answers).
    #[arg(long)]
    judge: Option<String>,
    /// How the judge asks.
    #[arg(long, default_value = "multiple-choice")]
    judge_mode: FeedbackArg,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    settings: SettingsArgs,
    /// Print the metrics as JSON.
    #[arg(long)]
    json: bool,
}

pub fn compare(args: CompareArgs, open_store: &dyn Fn() -> Result<Store>) -> Result<ExitCode> {
    let mut store = open_store()?;
    let mut prompts = prompt_set::load(&args.prompts)?;
    if let Some(limit) = args.limit {
        prompts.truncate(limit);
    }
    let side = |reference: &str, pin: &Option<String>| -> Result<(RunSpec, Source)> {
        let source = load_source(open_store, reference)?;
        let mut config = args
            .settings
            .config(&source.constitution, RuleArg::Single)?;
        if let Some(id) = pin {
            config.choice = PrincipleChoice::Pinned(id.clone());
        }
        let spec = RunSpec {
            constitution: source.constitution.clone(),
            constitution_ref: source.stored_reference(),
            prompts: prompts.clone(),
            config,
            initial_from: None,
        };
        Ok((spec, source))
    };
    let (a, _) = side(&args.a, &args.pin_a)?;
    let (b, source_b) = side(&args.b, &args.pin_b)?;
    let judge_source = match &args.judge {
        Some(reference) => load_source(open_store, reference)?,
        None => source_b,
    };
    let judge = JudgeSpec::for_side(
        &b,
        judge_source.constitution.clone(),
        judge_source.stored_reference(),
        FeedbackMode::from(args.judge_mode),
    );
    let spec = CompareSpec { a, b, judge };
    let mut worker = args.model.worker()?;
    let cancel = cancel_on_ctrl_c();
    let mut progress: Option<ProgressLine> = None;
    let mut on_event = |event: &CompareEvent| match event {
        CompareEvent::Side { side, run, reused } => {
            let how = if *reused { "reuses stored" } else { "runs new" };
            eprintln!("{side:?} {how} run {run}");
        }
        CompareEvent::Run { event, .. } => show_progress(&mut progress, event),
        CompareEvent::Judging { pairs, reused } => {
            progress = None;
            if *reused {
                eprintln!("judge: {pairs} pairs, labels reused from the store");
            } else {
                eprintln!("judge: {pairs} pairs, each in both orders");
            }
        }
    };
    let compared = compare::run(&mut store, &spec, &mut worker, &cancel, &mut on_event)?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &compared)?;
        writeln!(stdout)?;
    } else {
        write!(
            stdout,
            "A: run {}   B: run {}   compare {}\n{}",
            compared.run_a,
            compared.run_b,
            compared.comparison,
            table(&compared.metrics)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The metrics for people: a line per figure with both sides and the paired test, then the
/// win rates, then the prompts behind the differences.
fn table(pair: &PairMetrics) -> String {
    let mut text = format!("{} prompts finished on both sides", pair.compared);
    if !pair.only_a.is_empty() || !pair.only_b.is_empty() {
        text.push_str(&format!(
            " ({} on A only, {} on B only, left out)",
            pair.only_a.len(),
            pair.only_b.len()
        ));
    }
    text.push_str(&format!(
        "\n{:<34} {:<28} {:<28} {}\n",
        "metric", "A", "B", "A only vs B only"
    ));
    let mut row = |name: &str, rate: &PairedRate| {
        text.push_str(&format!(
            "{name:<34} {:<28} {:<28} {}\n",
            rate.a.display(),
            rate.b.display(),
            rate.test.display()
        ));
    };
    row("over-refusal (benign, any)", &pair.over_refusal.any);
    row("over-refusal (benign, full)", &pair.over_refusal.full);
    row("harmful refused (any)", &pair.harmful_refusal.any);
    row("harmful refused (full)", &pair.harmful_refusal.full);
    row("revised", &pair.revised);
    for (name, a, b) in [
        (
            "boilerplate rounds",
            &pair.a.boilerplate,
            &pair.b.boilerplate,
        ),
        (
            "tier conflicts",
            &pair.a.tier_conflicts,
            &pair.b.tier_conflicts,
        ),
    ] {
        text.push_str(&format!(
            "{name:<34} {:<28} {:<28}\n",
            a.display(),
            b.display()
        ));
    }
    let words = |mean: Option<f64>| mean.map_or_else(|| "–".to_owned(), |m| format!("{m:+.1}"));
    text.push_str(&format!(
        "{:<34} {:<28} {:<28}\n",
        "mean length change (words)",
        words(pair.a.length.mean_change),
        words(pair.b.length.mean_change)
    ));
    if let Some(wins) = &pair.wins {
        text.push_str(&format!(
            "\n{:<10} {:<28} {:<9} {:<24} {}\n",
            "B over A", "B won", "mean P(B)", "A vs B wins", "position: P(first), orders disagree"
        ));
        let mut win = |name: &str, rate: &WinRate| {
            text.push_str(&format!(
                "{name:<10} {:<28} {:<9} {:<24} {}, {}\n",
                rate.b_wins.display(),
                rate.mean_p_b
                    .map_or_else(|| "–".to_owned(), |p| format!("{p:.3}")),
                rate.test.display(),
                rate.position
                    .first_shown
                    .map_or_else(|| "–".to_owned(), |p| format!("{p:.3}")),
                rate.position.orders_disagree.display()
            ));
        };
        win("benign", &wins.benign);
        win("harmful", &wins.harmful);
        win("all", &wins.all);
        for (id, error) in &wins.failed {
            text.push_str(&format!("not judged: {id}: {error}\n"));
        }
    }
    if !pair.changed.is_empty() {
        text.push_str("\nfinal refusal label changed:\n");
        for change in &pair.changed {
            text.push_str(&format!(
                "  {}: {} -> {}\n",
                change.prompt, change.a, change.b
            ));
        }
    }
    text
}

#[derive(clap::Args)]
pub struct ExportDatasetArgs {
    /// The run (see `preamble runs`).
    run: i64,
    /// The folder to write `sft.jsonl`, `preferences.jsonl` and `manifest.json` into.
    #[arg(long)]
    out: PathBuf,
    /// Replace those files when they exist.
    #[arg(long)]
    force: bool,
}

pub fn export_dataset(
    args: ExportDatasetArgs,
    open_store: &dyn Fn() -> Result<Store>,
) -> Result<ExitCode> {
    let store = open_store()?;
    let run = store.run(args.run)?;
    let data = dataset::of(&run, jiff::Timestamp::now().as_millisecond())?;
    dataset::write(&data, &args.out, Replace::when(args.force))
        .with_context(|| "use --force to replace an earlier export".to_owned())?;
    let counts = data.manifest.counts;
    eprintln!(
        "{}: {} SFT lines, {} preference pairs ({} unlabelled, {} ties, {} unrevised left \
         out) from run {} ({} of {} prompts finished)",
        args.out.display(),
        counts.sft,
        counts.preferences,
        counts.unlabelled,
        counts.ties,
        counts.unrevised,
        args.run,
        counts.finished,
        counts.prompts
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct ReportArgs {
    /// The run, or side A of a compare.
    run_a: i64,
    /// Side B of a compare.
    run_b: Option<i64>,
    /// The win rates from this stored compare of the two runs (its id as `preamble compare`
    /// prints it); the newest one when left out.
    #[arg(long, requires = "run_b")]
    compare: Option<i64>,
    /// The report file: `.html` for a page, `.md` for Markdown.
    #[arg(long)]
    out: PathBuf,
    /// Replace the file when it exists.
    #[arg(long)]
    force: bool,
}

pub fn report(args: ReportArgs, open_store: &dyn Fn() -> Result<Store>) -> Result<ExitCode> {
    let Some(render) = report::renderer_for(&args.out) else {
        bail!(
            "{}: the report's file name must end in .html or .md",
            args.out.display()
        )
    };
    let store = open_store()?;
    let built = report::build(
        &store,
        args.run_a,
        args.run_b,
        args.compare,
        jiff::Timestamp::now().as_millisecond(),
    )?;
    if args.run_b.is_some() && built.comparison.is_none() {
        eprintln!(
            "no judge has labelled runs {} and {}: the report has no win rate (`preamble \
             compare` judges them)",
            args.run_a,
            args.run_b.unwrap_or_default()
        );
    }
    files::write(
        &args.out,
        render(&built).as_bytes(),
        Replace::when(args.force),
    )
    .with_context(|| "use --force to replace it".to_owned())?;
    eprintln!("{}: {}", args.out.display(), built.title());
    Ok(ExitCode::SUCCESS)
}

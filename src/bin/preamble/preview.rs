//! `preamble preview`, `judge`, `bench` and `runs`: the commands that run the model.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use preamble::bench::{self, BenchConfig};
use preamble::constitution::{Constitution, Selection};
use preamble::engine::{CancelToken, Sampling};
use preamble::feedback::{self, FeedbackMode, FeedbackRule, Pair};
use preamble::preview::{
    self, PreviewConfig, PreviewEvent, PreviewMode, PrincipleChoice, Principles, PromptOutcome,
};
use preamble::prompt_set::{self, PromptItem, PromptLabel};
use preamble::refusal::RefusalLabel;
use preamble::runs::{self, Progress, RunError, RunEvent, RunSpec};
use preamble::store::{RunStatus, Store, format_time};
use preamble::worker::{BenchJob, Job, JobResult, JudgeJob, WarmWorker, WorkerCommand};

use crate::{ModelArgs, load_source};

#[derive(clap::Args)]
pub struct PreviewArgs {
    /// The constitution: a file in any format Preamble imports, or `ID[@VERSION|@TAG|@draft]`
    /// from the store.
    #[arg(long, required_unless_present = "resume")]
    constitution: Option<String>,
    /// The prompts: JSONL (`{id, prompt, label, category}`), XSTest-style CSV or text lines.
    #[arg(long, required_unless_present = "resume")]
    prompts: Option<PathBuf>,
    /// Only the first N prompts.
    #[arg(long)]
    limit: Option<usize>,
    #[command(flatten)]
    model: ModelArgs,
    /// Pin every round to this principle id.
    #[arg(long)]
    principle: Option<String>,
    #[command(flatten)]
    settings: SettingsArgs,
    /// Write the JSONL here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Resume run ID (see `preamble runs`): run what it has not finished, then write all of it.
    #[arg(long, conflicts_with_all = [
        "constitution", "prompts", "limit", "rounds", "principle", "selection", "parallel",
        "seed", "max_tokens", "temperature", "context", "feedback", "mode", "preference_rule",
        "every_principle", "margin",
    ])]
    resume: Option<i64>,
}

/// The settings of a preview run, shared by `preview` and `attribute`.
#[derive(clap::Args)]
pub struct SettingsArgs {
    /// Critique -> revision rounds (1-4); the constitution's default when left out.
    #[arg(long)]
    rounds: Option<u32>,
    /// How rounds pick principles when none is pinned; the constitution's default when left out.
    #[arg(long)]
    selection: Option<SelectionArg>,
    /// `cai`: the initial answer from the bare model (the paper's loop); `in-context`: every
    /// conversation opens with the constitution as its system prompt.
    #[arg(long, default_value = "cai")]
    mode: ModeArg,
    /// Prompts decoded together.
    #[arg(long, default_value_t = 8, value_parser = parallel_arg)]
    parallel: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Most tokens per response, critique and revision.
    #[arg(long, default_value_t = 192)]
    max_tokens: u32,
    /// Sampling temperature; 0 samples greedily.
    #[arg(long, default_value_t = 0.7)]
    temperature: f32,
    /// Tokens one prompt's whole conversation may hold.
    #[arg(long, default_value_t = 4096)]
    context: u32,
    /// Also label initial vs. final response with an AI preference, asked this way.
    #[arg(long)]
    feedback: Option<FeedbackArg>,
    #[command(flatten)]
    rule: RuleArgs,
}

/// Which principles a preference label asks: `preview`, `judge` and `attribute`.
#[derive(clap::Args)]
pub struct RuleArgs {
    /// `single`: one principle's comparison question (the paper's label); `tiered`: one
    /// principle per tier, the highest tier whose label is decisive deciding.
    #[arg(long)]
    preference_rule: Option<RuleArg>,
    /// The tiered rule: ask every principle of every tier, not one per tier.
    #[arg(long)]
    every_principle: bool,
    /// The tiered rule: how far from 0.5 a tier's P(A) must be to decide [default: 0.1].
    #[arg(long)]
    margin: Option<f64>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuleArg {
    Single,
    Tiered,
}

impl RuleArgs {
    /// The rule asked for; `default` when none was. The tiered rule's options are refused
    /// with the single rule rather than ignored.
    pub fn rule(&self, default: RuleArg) -> Result<FeedbackRule> {
        let rule = match self.preference_rule.unwrap_or(default) {
            RuleArg::Single if self.every_principle || self.margin.is_some() => {
                bail!("--every-principle and --margin belong to --preference-rule tiered")
            }
            RuleArg::Single => FeedbackRule::Single,
            RuleArg::Tiered => FeedbackRule::Tiered {
                every_principle: self.every_principle,
                margin: self.margin.unwrap_or(feedback::DEFAULT_MARGIN),
            },
        };
        if let Err(message) = rule.check() {
            bail!("{message}");
        }
        Ok(rule)
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    Cai,
    InContext,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SelectionArg {
    Uniform,
    Weighted,
}

impl From<SelectionArg> for PrincipleChoice {
    fn from(selection: SelectionArg) -> Self {
        match selection {
            SelectionArg::Uniform => Selection::Uniform,
            SelectionArg::Weighted => Selection::Weighted,
        }
        .into()
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum FeedbackArg {
    MultipleChoice,
    ChainOfThought,
}

impl From<FeedbackArg> for FeedbackMode {
    fn from(mode: FeedbackArg) -> Self {
        match mode {
            FeedbackArg::MultipleChoice => Self::MultipleChoice,
            FeedbackArg::ChainOfThought => Self::ChainOfThought,
        }
    }
}

#[derive(clap::Args)]
pub struct JudgeArgs {
    /// JSONL lines `{"prompt": ..., "a": ..., "b": ...}` (other fields are kept).
    #[arg(long)]
    pairs: PathBuf,
    /// The constitution whose comparison questions are asked.
    #[arg(long)]
    constitution: String,
    /// Ask every pair under this principle; else one is picked per pair.
    #[arg(long, conflicts_with = "preference_rule")]
    principle: Option<String>,
    #[arg(long, default_value = "multiple-choice")]
    mode: FeedbackArg,
    #[command(flatten)]
    rule: RuleArgs,
    #[command(flatten)]
    model: ModelArgs,
    #[arg(long, default_value_t = 8, value_parser = parallel_arg)]
    parallel: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the JSONL here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The constitution previewed: a file or `ID[@VERSION]` from the store; the built-in
    /// general-assistant sample by default.
    #[arg(long)]
    constitution: Option<String>,
    /// Prompts (JSONL, CSV or text); the built-in red-team set by default.
    #[arg(long)]
    prompts: Option<PathBuf>,
    #[arg(long, default_value_t = 8, value_parser = parallel_arg)]
    parallel: usize,
    /// How many of the prompts run; twice PARALLEL by default.
    #[arg(long)]
    count: Option<usize>,
    /// Critique -> revision rounds; 2, the preview's default.
    #[arg(long, default_value_t = 2)]
    rounds: u32,
    #[arg(long, default_value_t = 64)]
    max_tokens: u32,
    /// Decode steps of the ceiling measurement.
    #[arg(long, default_value_t = 64)]
    ceiling_steps: usize,
    /// llama.cpp's threads; every core by default.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// One KV cache shared by all sequences (llama.cpp's `kv_unified`) instead of a stream each.
    #[arg(long)]
    kv_unified: bool,
    /// Print the report as JSON, with every figure and the pipeline's time per step.
    #[arg(long)]
    json: bool,
    /// Measure only what the worker process costs: the pipeline run in this process and
    /// through the worker, alternately, three times each (with the engine's defaults).
    #[arg(long, conflicts_with_all = ["threads", "kv_unified"])]
    worker_overhead: bool,
}

impl ModelArgs {
    /// The model's worker process (started on first use), for `--model` or the default model.
    pub(crate) fn worker(&self) -> Result<WarmWorker> {
        let command = WorkerCommand::current_exe(&["worker"])?;
        Ok(WarmWorker::for_model(
            command,
            self.model.clone(),
            self.gpu_layers,
        )?)
    }
}

/// Prints which model runs where, once it is ready.
fn announce(worker: &mut WarmWorker) -> Result<()> {
    let info = worker.get()?.info();
    eprintln!(
        "model: {} ({}) on {}",
        info.name, info.quantization, info.device
    );
    Ok(())
}

fn parallel_arg(text: &str) -> Result<usize, String> {
    match text.parse() {
        Ok(n) if (1..=preview::MAX_PARALLEL).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a number from 1 to {}",
            preview::MAX_PARALLEL
        )),
    }
}

/// A JSONL writer to a file or stdout.
fn output(out: Option<&Path>) -> Result<Box<dyn Write>> {
    Ok(match out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    })
}

pub fn preview(args: PreviewArgs, open_store: &dyn Fn() -> Result<Store>) -> Result<ExitCode> {
    let mut store = open_store()?;
    let mut worker = args.model.worker()?;
    // Everything that can be wrong with the input is checked before the model loads.
    let mut out = output(args.out.as_deref())?;
    let run_id = match args.resume {
        Some(id) => {
            let summary = store.run(id)?.summary;
            if summary.status == RunStatus::Completed {
                eprintln!("run {id} is complete; writing what it holds");
            } else {
                eprintln!(
                    "resuming run {id}: {} of {} prompts done",
                    summary.prompts_done, summary.prompts
                );
            }
            id
        }
        None => {
            let source = load_source(open_store, args.constitution.as_deref().unwrap_or_default())?;
            let prompts_path = args.prompts.as_deref().unwrap_or(Path::new(""));
            let mut prompts = prompt_set::load(prompts_path)?;
            if let Some(limit) = args.limit {
                prompts.truncate(limit);
            }
            let mut config = args
                .settings
                .config(&source.constitution, RuleArg::Single)?;
            if let Some(id) = &args.principle {
                config.choice = PrincipleChoice::Pinned(id.clone());
            }
            let spec = RunSpec {
                config,
                constitution_ref: source.stored_reference(),
                constitution: source.constitution,
                prompts,
                initial_from: None,
            };
            // Checks the input, then starts the model.
            let id = runs::create(&mut store, &spec, &mut worker)?;
            announce(&mut worker)?;
            eprintln!(
                "run {id}: {} prompts, {} rounds, {} at a time, seed {}, mode {}",
                spec.prompts.len(),
                spec.config.rounds,
                spec.config.parallel,
                spec.config.seed,
                spec.config.mode.as_str()
            );
            id
        }
    };
    let cancel = cancel_on_ctrl_c();
    let mut progress: Option<ProgressLine> = None;
    let mut on_event = |event: &RunEvent| {
        if let RunEvent::Started {
            resumed: true,
            model,
            device,
            ..
        } = event
        {
            eprintln!("model: {model} on {device}");
        }
        show_progress(&mut progress, event);
    };
    let end = match runs::execute(&mut store, run_id, &mut worker, &cancel, &mut on_event) {
        Ok(end) => end,
        Err(error @ RunError::Interrupted { .. }) => {
            // What finished is in the store; the message says how to resume.
            bail!("run {run_id}: {error}")
        }
        Err(error) => return Err(error.into()),
    };
    write_outcomes(&mut out, end.outcomes.iter())?;
    if end.status == RunStatus::Cancelled {
        eprintln!(
            "run {run_id} cancelled with {} of {} prompts done; \
             `preamble preview --resume {run_id}` finishes it",
            end.outcomes.len(),
            store.run(run_id)?.summary.prompts
        );
        return Ok(ExitCode::from(130));
    }
    if let Some(stats) = &end.stats {
        eprintln!(
            "prompt tokens decoded: {} of {} ({:.0}% saved by KV reuse; shared prefix {} tokens); \
             {} generated in {:.1} s ({:.0} tokens/s)",
            stats.decoded_prompt_tokens,
            stats.naive_prompt_tokens,
            100.0
                * (1.0
                    - stats.decoded_prompt_tokens as f64 / stats.naive_prompt_tokens.max(1) as f64),
            stats.shared_prefix_tokens,
            stats.generated_tokens,
            stats.wall_ms / 1000.0,
            stats.generated_tokens as f64 / (stats.wall_ms / 1000.0).max(1e-9)
        );
    }
    eprint!("{}", refusal_summary(end.outcomes.iter()));
    Ok(if end.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "{} prompt(s) failed; see the errors above",
            end.failures.len()
        );
        ExitCode::FAILURE
    })
}

/// A token that the first Ctrl-C cancels (the run stops after the current step, marked
/// cancelled); a second Ctrl-C quits at once.
pub fn cancel_on_ctrl_c() -> CancelToken {
    let cancel = CancelToken::new();
    let interrupt = cancel.clone();
    let handler = ctrlc::set_handler(move || {
        if interrupt.is_cancelled() {
            // A second Ctrl-C while stopping: the steps so far are already in the store.
            std::process::exit(130);
        }
        interrupt.cancel();
        eprintln!("\nstopping after the current step (Ctrl-C again to quit now)");
    });
    if let Err(error) = handler {
        tracing::warn!(%error, "Ctrl-C will end the run without marking it cancelled");
    }
    cancel
}

fn write_outcomes<'a>(
    out: &mut dyn Write,
    outcomes: impl Iterator<Item = &'a PromptOutcome>,
) -> Result<()> {
    for outcome in outcomes {
        serde_json::to_writer(&mut *out, outcome)?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(())
}

impl SettingsArgs {
    /// The run's configuration: these settings over the constitution's defaults, with
    /// `default_rule` for the preference label unless one was asked for.
    pub fn config(
        &self,
        constitution: &Constitution,
        default_rule: RuleArg,
    ) -> Result<PreviewConfig> {
        let defaults = PreviewConfig::for_constitution(constitution);
        Ok(PreviewConfig {
            rounds: self.rounds.unwrap_or(defaults.rounds),
            choice: self
                .selection
                .map_or(defaults.choice, PrincipleChoice::from),
            seed: self.seed,
            max_tokens: self.max_tokens,
            sampling: Sampling {
                temperature: self.temperature,
                ..Sampling::default()
            },
            feedback: self.feedback.map(FeedbackMode::from),
            feedback_rule: self.rule.rule(default_rule)?,
            mode: match self.mode {
                ModeArg::Cai => PreviewMode::Cai,
                ModeArg::InContext => PreviewMode::InContext,
            },
            parallel: self.parallel.max(1),
            context_per_sequence: self.context,
            ..defaults
        })
    }
}

/// Draws a run's progress line on stderr from its events (`progress` holds the line once the
/// run started).
pub fn show_progress(progress: &mut Option<ProgressLine>, event: &RunEvent) {
    match event {
        RunEvent::Started { progress: at, .. } => *progress = Some(ProgressLine::new(at)),
        RunEvent::Preview {
            event,
            progress: at,
        } => {
            if let Some(line) = progress {
                match &**event {
                    PreviewEvent::Step { .. } => line.step(at),
                    PreviewEvent::Failed { error, .. } => line.message(&format!("error: {error}")),
                    _ => {}
                }
            }
        }
        RunEvent::Finished { .. } => {
            if let Some(line) = progress {
                line.finish();
            }
        }
    }
}

/// `slug@vN` for a constitution read from the store.
/// Refusal rates by prompt label: over-refusal on benign prompts, refusal on harmful ones.
fn refusal_summary<'a>(outcomes: impl Iterator<Item = &'a PromptOutcome>) -> String {
    let mut counts = std::collections::BTreeMap::<&str, [usize; 3]>::new();
    for outcome in outcomes {
        let group = match outcome.label {
            Some(PromptLabel::Benign) => "benign",
            Some(PromptLabel::Harmful) => "harmful",
            None => "unlabelled",
        };
        let entry = counts.entry(group).or_default();
        entry[0] += 1;
        entry[1] += usize::from(outcome.refusal.initial != RefusalLabel::Compliance);
        entry[2] += usize::from(outcome.refusal.last != RefusalLabel::Compliance);
    }
    counts
        .iter()
        .map(|(group, [n, initial, last])| {
            format!(
                "{group} prompts: {n}; refused (fully or partly) initially {initial}, finally {last}\n"
            )
        })
        .collect()
}

/// A progress line on stderr: redrawn in place on a terminal, a line per tenth otherwise.
pub struct ProgressLine {
    terminal: bool,
    last_tenth: usize,
}

impl ProgressLine {
    fn new(at: &Progress) -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            last_tenth: 10 * at.steps_done / at.steps_total.max(1),
        }
    }

    fn line(at: &Progress) -> String {
        let width = 30;
        let filled = width * at.steps_done / at.steps_total.max(1);
        format!(
            "[{}{}] {}/{} steps · {:.0} tokens/s",
            "#".repeat(filled),
            "-".repeat(width - filled),
            at.steps_done,
            at.steps_total,
            at.tokens_per_second
        )
    }

    fn step(&mut self, at: &Progress) {
        if self.terminal {
            eprint!("\r{}", Self::line(at));
        } else {
            let tenth = 10 * at.steps_done / at.steps_total.max(1);
            if tenth > self.last_tenth {
                self.last_tenth = tenth;
                eprintln!("{}", Self::line(at));
            }
        }
    }

    fn message(&self, text: &str) {
        if self.terminal {
            eprint!("\r\x1b[2K");
        }
        eprintln!("{text}");
    }

    fn finish(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

pub fn judge(args: JudgeArgs, open_store: &dyn Fn() -> Result<Store>) -> Result<ExitCode> {
    let source = load_source(open_store, &args.constitution)?;
    let constitution = source.constitution;
    let text = std::fs::read_to_string(&args.pairs)
        .with_context(|| format!("cannot read {}", args.pairs.display()))?;
    let mut lines = Vec::new();
    let mut pairs = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{}:{}", args.pairs.display(), number + 1);
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).with_context(|| format!("{}: not a JSON object", at()))?;
        let pair: Pair = serde_json::from_value(serde_json::Value::Object(object.clone()))
            .with_context(|| format!("{}: needs string fields `prompt`, `a` and `b`", at()))?;
        lines.push(object);
        pairs.push(pair);
    }
    if pairs.is_empty() {
        bail!("no pairs in {}", args.pairs.display());
    }
    let choice = match &args.principle {
        Some(id) => PrincipleChoice::Pinned(id.clone()),
        None => constitution.preview.selection.into(),
    };
    Principles::new(&constitution, &choice).with_context(|| source.label.clone())?;
    let rule = args.rule.rule(RuleArg::Single)?;
    let mut worker = args.model.worker()?;
    announce(&mut worker)?;
    let job = JudgeJob {
        constitution,
        pairs,
        choice,
        mode: FeedbackMode::from(args.mode),
        rule,
        seed: args.seed,
        parallel: args.parallel,
    };
    let labels = match worker
        .get()?
        .run(Job::Judge(job), &CancelToken::new(), &mut drop)?
    {
        JobResult::Judge { labels } => labels,
        other => bail!("the model process answered with {other:?}"),
    };
    let mut out = output(args.out.as_deref())?;
    let mut failures = 0;
    for (mut line, label) in lines.into_iter().zip(labels) {
        match label {
            Ok(preference) => {
                line.insert("preference".to_owned(), serde_json::to_value(preference)?);
            }
            Err(error) => {
                failures += 1;
                line.insert("error".to_owned(), error.into());
            }
        }
        serde_json::to_writer(&mut out, &line)?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub fn bench(args: BenchArgs, open_store: &dyn Fn() -> Result<Store>) -> Result<ExitCode> {
    let constitution = match &args.constitution {
        Some(name) => load_source(open_store, name)?.constitution,
        None => bench::default_constitution()?,
    };
    let (prompts, prompts_name) = match &args.prompts {
        Some(path) => (prompt_set::load(path)?, path.display().to_string()),
        None => {
            let set = prompt_set::BundledSet::named(bench::DEFAULT_PROMPTS)
                .context("the built-in prompt set is missing")?;
            (set.items()?, format!("the built-in {}", set.file))
        }
    };
    let parallel = args.parallel.max(1);
    let count = args.count.unwrap_or(2 * parallel);
    if prompts.len() < count {
        bail!(
            "{prompts_name} has {} prompts; the bench runs {count}",
            prompts.len()
        );
    }
    let mut worker = args.model.worker()?;
    announce(&mut worker)?;
    let config = BenchConfig {
        parallel,
        prompts: count,
        rounds: args.rounds,
        max_tokens: args.max_tokens,
        ceiling_steps: args.ceiling_steps,
        seed: 0,
        threads: args.threads.map(usize::from),
        unified_kv: args.kv_unified,
    };
    if args.worker_overhead {
        return worker_overhead(&args, &mut worker, &constitution, &prompts, &config);
    }
    let device = worker.get()?.info().device.clone();
    let job = Job::Bench(BenchJob {
        constitution: constitution.clone(),
        prompts: prompts.clone(),
        config: config.clone(),
    });
    eprintln!(
        "measuring: the pipeline at P = {parallel}, then one at a time (twice), then the decode \
         ceilings; {count} prompts, {} rounds",
        args.rounds
    );
    let mut progress = BenchProgress::new(count);
    let result = worker
        .get()?
        .run(job, &CancelToken::new(), &mut |event| progress.saw(&event));
    progress.finish();
    let report = match result? {
        JobResult::Bench { report } => report,
        other => bail!("the model process answered with {other:?}"),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let line = |name: &str, t: &bench::Throughput| {
        format!(
            "{name:<44} {:>7.1} tokens/s  ({} tokens in {:.2} s)",
            t.tokens_per_second, t.generated_tokens, t.seconds
        )
    };
    println!(
        "device: {device}; P = {}, {} prompts",
        report.parallel, report.prompts
    );
    println!("{}", line("(1) preview pipeline at P", &report.pipeline));
    println!(
        "{}",
        line(
            "(2) one at a time, each turn from scratch",
            &report.sequential
        )
    );
    println!(
        "{}",
        line(
            "(2') one at a time with KV reuse",
            &report.sequential_reusing
        )
    );
    println!(
        "{:<44} {:>7.1} tokens/s",
        "(3) decode ceiling (P sequences, no sampling)", report.ceiling_tokens_per_second
    );
    println!(
        "{:<44} {:>7.1} tokens/s",
        "    decode ceiling of 1 sequence", report.single_ceiling_tokens_per_second
    );
    println!("(1)/(2)  = {:.2}", report.batching_speedup);
    println!(
        "(1)/(2') = {:.2}   (bound on this hardware: (3)/ceiling of 1 = {:.2})",
        report.reuse_speedup,
        report.ceiling_tokens_per_second / report.single_ceiling_tokens_per_second.max(1e-9)
    );
    println!("(1)/(3)  = {:.2}", report.share_of_ceiling);
    let stats = &report.pipeline_stats;
    let host = &report.pipeline_host;
    println!(
        "ceilings at a mean KV length of {} tokens a sequence (the pipeline's: {:.0})",
        report.ceiling_kv_tokens, stats.mean_kv_tokens
    );
    println!(
        "pipeline: {} decode steps, {:.2} ubatches a step ({:.0}% reusing the graph); prompt \
         tokens decoded {} of {} naive",
        host.steps,
        host.ubatches_per_step,
        100.0 * host.graph_reuse_share,
        stats.decoded_prompt_tokens,
        stats.naive_prompt_tokens
    );
    println!(
        "per step: decode {:.2} ms; host {:.3} ms (batch {:.3}, sampling {:.3}, turns {:.3}, \
         bookkeeping {:.3})",
        host.decode_ms_per_step,
        host.host_ms_per_step,
        host.batch_ms_per_step,
        host.sample_ms_per_step,
        host.turn_ms_per_step,
        host.bookkeeping_ms_per_step
    );
    Ok(ExitCode::SUCCESS)
}

/// The bench's progress on stderr: a bar on a terminal, a line per stage elsewhere (a log).
struct BenchProgress {
    prompts: usize,
    ended: usize,
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    stage_started: Instant,
}

impl BenchProgress {
    fn new(prompts: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(prompts as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg:34} [{bar:30}] {pos}/{len} prompts, {elapsed}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(bench::FIGURES[0]);
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        Self {
            prompts,
            ended: 0,
            bar,
            started: Instant::now(),
            stage_started: Instant::now(),
        }
    }

    fn saw(&mut self, event: &PreviewEvent) {
        use bench::BenchStage;
        if !matches!(
            event,
            PreviewEvent::Done { .. } | PreviewEvent::Failed { .. }
        ) {
            return;
        }
        let BenchStage::Run { figure: was, .. } = BenchStage::after(self.ended, self.prompts)
        else {
            return;
        };
        self.ended += 1;
        let now = BenchStage::after(self.ended, self.prompts);
        let same_run = matches!(now, BenchStage::Run { figure, .. } if figure == was);
        match (&self.bar, now) {
            (Some(bar), BenchStage::Run { figure, done }) => {
                bar.set_message(bench::FIGURES[figure]);
                bar.set_position(done as u64);
            }
            (Some(bar), BenchStage::Ceilings) => {
                bar.set_message("(3) the decode ceilings");
                bar.set_position(self.prompts as u64);
            }
            (None, _) if !same_run => {
                eprintln!(
                    "{}: {} prompts in {:.1} s",
                    bench::FIGURES[was],
                    self.prompts,
                    self.stage_started.elapsed().as_secs_f64()
                );
                self.stage_started = Instant::now();
            }
            (None, _) => {}
        }
    }

    fn finish(&self) {
        match &self.bar {
            Some(bar) => bar.finish_and_clear(),
            None => eprintln!("measured in {:.1} s", self.started.elapsed().as_secs_f64()),
        }
    }
}

/// How many times each side of the worker-overhead measurement runs (alternating).
const OVERHEAD_ROUNDS: usize = 3;

/// `bench --worker-overhead`: the bench's pipeline run in this process and through the worker
/// process, alternately, each timed here with its events read here (as the run service reads
/// them); the ratio of the medians is what the worker costs.
fn worker_overhead(
    args: &BenchArgs,
    worker: &mut WarmWorker,
    constitution: &preamble::constitution::Constitution,
    prompts: &[PromptItem],
    config: &BenchConfig,
) -> Result<ExitCode> {
    let options = preamble::engine::LoadOptions {
        gpu_layers: args.model.gpu_layers,
        fetch_hint: None,
    };
    let engine = preamble::engine::Engine::start(worker.model_path(), &options)?;
    let job = bench::pipeline_job(constitution, prompts, config);
    let mut here = Vec::new();
    let mut through_worker = Vec::new();
    for round in 1..=OVERHEAD_ROUNDS {
        eprintln!("round {round} of {OVERHEAD_ROUNDS}: in this process, then through the worker");
        let started = Instant::now();
        let (events, incoming) = std::sync::mpsc::channel();
        let in_process = job.clone();
        let handle = engine
            .submit(move |model| preview::run(model, &in_process, &events, &CancelToken::new()));
        incoming.iter().for_each(drop);
        let stats = handle.wait()?;
        here.push(stats.generated_tokens as f64 / started.elapsed().as_secs_f64());

        let started = Instant::now();
        let result =
            worker
                .get()?
                .run(Job::Preview(job.clone()), &CancelToken::new(), &mut drop)?;
        let JobResult::Preview { stats } = result else {
            bail!("the model process answered with {result:?}");
        };
        through_worker.push(stats.generated_tokens as f64 / started.elapsed().as_secs_f64());
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let report = WorkerOverhead {
        ratio: median(&mut through_worker.clone()) / median(&mut here.clone()).max(1e-9),
        in_process_tokens_per_second: here,
        worker_tokens_per_second: through_worker,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let list = |values: &[f64]| {
            values
                .iter()
                .map(|v| format!("{v:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "pipeline in this process:    {} tokens/s",
            list(&report.in_process_tokens_per_second)
        );
        println!(
            "pipeline through the worker: {} tokens/s",
            list(&report.worker_tokens_per_second)
        );
        println!("worker / in process (medians) = {:.3}", report.ratio);
    }
    Ok(ExitCode::SUCCESS)
}

/// What `bench --worker-overhead` measured.
#[derive(serde::Serialize)]
struct WorkerOverhead {
    in_process_tokens_per_second: Vec<f64>,
    worker_tokens_per_second: Vec<f64>,
    ratio: f64,
}

pub fn runs(
    json: bool,
    delete: Option<i64>,
    open_store: &dyn Fn() -> Result<Store>,
) -> Result<ExitCode> {
    let mut store = open_store()?;
    if let Some(id) = delete {
        runs::delete(&mut store, id)?;
        writeln!(std::io::stdout(), "deleted run {id}")?;
        return Ok(ExitCode::SUCCESS);
    }
    let runs = runs::list(&store)?;
    let mut stdout = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut stdout, &runs)?;
        writeln!(stdout)?;
        return Ok(ExitCode::SUCCESS);
    }
    for run in runs {
        writeln!(
            stdout,
            "{:>4}  {}  {:<9}  {}/{} prompts{}  {} ({})  {}",
            run.id,
            format_time(run.created_ms),
            run.status.as_str(),
            run.prompts_done,
            run.prompts,
            if run.prompts_failed > 0 {
                format!(", {} failed", run.prompts_failed)
            } else {
                String::new()
            },
            run.constitution_ref
                .as_deref()
                .unwrap_or(&run.constitution_name),
            &run.constitution_hash[..12.min(run.constitution_hash.len())],
            run.model_name
        )?;
        if let Some(note) = &run.status_note {
            writeln!(stdout, "      {note}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads JSONL from `file` or stdin and writes each line back with its refusal label; with
/// `agreement`, compares the labels with the lines' own human label (`refusal`, `label` or
/// `gold`) instead.
pub fn refusal(file: Option<PathBuf>, agreement: bool) -> Result<ExitCode> {
    let name = file
        .as_ref()
        .map_or_else(|| "stdin".to_owned(), |path| path.display().to_string());
    let reader: Box<dyn BufRead> = match &file {
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("cannot read {name}"))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    let mut stdout = std::io::stdout().lock();
    let mut pairs = Vec::new();
    for (number, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {name}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{name}:{}", number + 1);
        let mut object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&line).with_context(|| format!("{at}: not a JSON object"))?;
        let text = |field: &str| -> Result<String> {
            match object.get(field) {
                Some(serde_json::Value::String(text)) => Ok(text.clone()),
                Some(_) => bail!("{at}: field `{field}` must be a string"),
                None => bail!("{at}: missing field `{field}`"),
            }
        };
        let (prompt, response) = (text("prompt")?, text("response")?);
        let label = preamble::refusal::classify(&prompt, &response).label;
        if agreement {
            // The human label: ours in `refusal`, or `label` / `gold` (XSTest's names too).
            let field = ["refusal", "label", "gold"]
                .into_iter()
                .find(|field| object.contains_key(*field))
                .with_context(|| {
                    format!("{at}: needs the human label in `label`, `gold` or `refusal`")
                })?;
            let human: RefusalLabel = text(field)?
                .parse()
                .with_context(|| format!("{at}: field `{field}`"))?;
            pairs.push((human, label));
        } else {
            object.insert("refusal".to_owned(), serde_json::to_value(label)?);
            serde_json::to_writer(&mut stdout, &object)?;
            writeln!(stdout)?;
        }
    }
    if agreement {
        if pairs.is_empty() {
            bail!("no labelled lines in {name}");
        }
        write!(stdout, "{}", preamble::refusal::agreement(&pairs))?;
    }
    Ok(ExitCode::SUCCESS)
}

//! `preamble attribute`: what each principle does, by ablation against an unpinned baseline.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use preamble::ablation::{self, Ablation, AblationSpec, Part};
use preamble::prompt_set;
use preamble::runs::RunEvent;
use preamble::store::Store;

use crate::preview::{ProgressLine, RuleArg, SettingsArgs, cancel_on_ctrl_c, show_progress};
use crate::{ModelArgs, load_source};

#[derive(clap::Args)]
pub struct AttributeArgs {
    /// The constitution: a file in any format Preamble imports, or `ID[@VERSION|@TAG|@draft]`
    /// from the store.
    #[arg(long)]
    constitution: String,
    /// The prompts: JSONL (`{id, prompt, label, category}`), XSTest-style CSV or text lines.
    #[arg(long)]
    prompts: PathBuf,
    /// Only the first N prompts.
    #[arg(long)]
    limit: Option<usize>,
    /// The principles to ablate, by id, comma-separated; every enabled one when left out.
    #[arg(long, value_delimiter = ',')]
    principles: Vec<String>,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    settings: SettingsArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn attribute(args: AttributeArgs, open_store: &dyn Fn() -> Result<Store>) -> Result<ExitCode> {
    let mut store = open_store()?;
    let source = load_source(open_store, &args.constitution)?;
    let mut prompts = prompt_set::load(&args.prompts)?;
    if let Some(limit) = args.limit {
        prompts.truncate(limit);
    }
    // Preference shifts only compare under the tiered rule (see `preamble::ablation`).
    let config = args
        .settings
        .config(&source.constitution, RuleArg::Tiered)?;
    let spec = AblationSpec {
        constitution_ref: source.stored_reference(),
        constitution: source.constitution,
        prompts,
        config,
        principles: args.principles,
    };
    let mut worker = args.model.worker()?;
    let cancel = cancel_on_ctrl_c();
    let mut progress: Option<ProgressLine> = None;
    let mut on_event = |part: &Part, event: &RunEvent| {
        if let RunEvent::Started {
            run, model, device, ..
        } = event
        {
            let what = match part {
                Part::Baseline => "the baseline".to_owned(),
                Part::Variant(principle) => format!("pinned to {principle}"),
            };
            eprintln!("run {run}: {what} ({model} on {device})");
        }
        show_progress(&mut progress, event);
    };
    let report = ablation::run(&mut store, &spec, &mut worker, &cancel, &mut on_event)?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &report)?;
        writeln!(stdout)?;
    } else {
        write!(stdout, "{}", table(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The report for people: a line per principle, then the prompts behind each flip.
fn table(report: &Ablation) -> String {
    let mut text = format!(
        "baseline: run {}\n{:<28} {:>5} {:>8} {:>9} {:>12} {:>16} {:>9}\n",
        report.baseline,
        "principle",
        "run",
        "compared",
        "→refusal",
        "→compliance",
        "preference shift",
        "conflicts"
    );
    for effect in &report.effects {
        let shift = effect.mean_preference_shift.map_or_else(
            || "–".to_owned(),
            |mean| format!("{mean:+.3} (n={})", effect.preference_shifts.len()),
        );
        text.push_str(&format!(
            "{:<28} {:>5} {:>8} {:>9} {:>12} {:>16} {:>9}\n",
            effect.principle,
            effect.run,
            effect.compared,
            effect.to_refusal.len(),
            effect.to_compliance.len(),
            shift,
            effect.tier_conflicts.len()
        ));
    }
    for effect in &report.effects {
        for (arrow, ids) in [
            ("→refusal", &effect.to_refusal),
            ("→compliance", &effect.to_compliance),
        ] {
            if !ids.is_empty() {
                text.push_str(&format!(
                    "{} {arrow}: {}\n",
                    effect.principle,
                    ids.join(", ")
                ));
            }
        }
    }
    let sharing = &report.sharing;
    text.push_str(&format!(
        "initial responses: {} generated, {} reused by the variants ({} generated tokens saved)\n",
        sharing.initial_generated, sharing.initial_reused, sharing.generated_tokens_saved
    ));
    text
}

//! `preamble bench`: how fast the preview pipeline runs compared with running the same work
//! one prompt at a time, and with the raw decode speed of the hardware.
//!
//! Three figures, measured in one process on one loaded model, all in generated tokens per
//! second: (1) the full preview pipeline (render, KV reuse, continuous batching, sampling) at
//! parallelism P; (2) the same prompts one at a time with every turn decoded from scratch, as a
//! loop of independent completion calls runs them, and (2') one at a time through this
//! pipeline with KV reuse, which isolates what batching buys; (3) the decode ceiling, P sequences advanced
//! by decode calls alone, nothing sampled ([`crate::engine::batch::decode_ceiling`]), at the
//! mean KV length the pipeline's generating sequences had (a longer cache makes each decode
//! slower, so a ceiling at a short one flatters the hardware), and the same for one sequence,
//! whose ratio to (3) bounds what batching can buy on the hardware. The ratios (1)/(2) (what
//! batching buys) and (1)/(3) (how close the pipeline gets to the hardware) are the results;
//! absolute figures vary with the machine. [`HostTime`] says where the pipeline's time between
//! decodes went.

use std::sync::mpsc;

use serde::{Deserialize, Serialize};

use crate::constitution::Constitution;
use crate::engine::batch::{self, BatchOptions, BatchStats, CancelToken};
use crate::engine::{EngineError, Model};
use crate::preview::{self, PreviewConfig, PreviewEvent, PreviewJob};
use crate::prompt_set::PromptItem;

/// What to measure.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchConfig {
    pub parallel: usize,
    /// Prompts run (the first this many); more than `parallel`, so that the batch stays full
    /// for most of the run, as in a real preview.
    pub prompts: usize,
    pub rounds: u32,
    pub max_tokens: u32,
    /// Decode steps of the ceiling measurement.
    pub ceiling_steps: usize,
    pub seed: u64,
    /// llama.cpp's threads; every core when `None`.
    #[serde(default)]
    pub threads: Option<usize>,
    /// One KV cache shared by the sequences instead of a stream each
    /// ([`BatchOptions::unified_kv`]).
    #[serde(default)]
    pub unified_kv: bool,
}

impl BenchConfig {
    /// The engine options every measurement of this bench runs with.
    pub fn engine(&self, reuse_kv: bool) -> BatchOptions {
        BatchOptions {
            threads: self.threads,
            reuse_kv,
            unified_kv: self.unified_kv,
            ..BatchOptions::default()
        }
    }
}

/// Where the bench is, read from the prompt ends [`run`] sends: its three runs end every
/// prompt in turn, then the ceilings are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchStage {
    /// Run `figure` (0: the pipeline, 1: one at a time, 2: one at a time with reuse) has
    /// ended `done` of its prompts.
    Run {
        figure: usize,
        done: usize,
    },
    Ceilings,
}

impl BenchStage {
    /// The stage once `ended` prompt ends (of all runs) have arrived, for a bench of `prompts`.
    pub fn after(ended: usize, prompts: usize) -> Self {
        let prompts = prompts.max(1);
        if ended >= 3 * prompts {
            return Self::Ceilings;
        }
        Self::Run {
            figure: ended / prompts,
            done: ended % prompts,
        }
    }
}

/// The names of the three runs, as the CLI shows them.
pub const FIGURES: [&str; 3] = [
    "(1) the pipeline",
    "(2) one at a time, from scratch",
    "(2') one at a time, KV reuse",
];

/// The pipeline's time per decode step, split: device (the decode, waited for) and the host's
/// parts between decodes; the run's set-up (context, shared prefix) is left out. The host's
/// share is what keeps a fast device idle.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct HostTime {
    pub steps: usize,
    pub ubatches_per_step: f64,
    /// Ubatches whose compute graph llama.cpp reused from the one before, per ubatch.
    pub graph_reuse_share: f64,
    pub decode_ms_per_step: f64,
    pub batch_ms_per_step: f64,
    pub sample_ms_per_step: f64,
    pub turn_ms_per_step: f64,
    pub bookkeeping_ms_per_step: f64,
    /// All host time per step: batch, sample, turn and bookkeeping.
    pub host_ms_per_step: f64,
}

impl HostTime {
    pub fn of(stats: &BatchStats) -> Self {
        let steps = stats.decode_calls.max(1) as f64;
        let host = (stats.wall_ms - stats.setup_ms - stats.decode_ms).max(0.0);
        let measured = stats.batch_ms + stats.sample_ms + stats.turn_ms;
        Self {
            steps: stats.decode_calls,
            ubatches_per_step: stats.ubatches as f64 / steps,
            graph_reuse_share: stats.graph_reuses as f64 / stats.ubatches.max(1) as f64,
            decode_ms_per_step: stats.decode_ms / steps,
            batch_ms_per_step: stats.batch_ms / steps,
            sample_ms_per_step: stats.sample_ms / steps,
            turn_ms_per_step: stats.turn_ms / steps,
            bookkeeping_ms_per_step: (host - measured).max(0.0) / steps,
            host_ms_per_step: host / steps,
        }
    }
}

/// One measured figure.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Throughput {
    pub generated_tokens: usize,
    pub seconds: f64,
    pub tokens_per_second: f64,
}

impl Throughput {
    fn of(stats: &BatchStats) -> Self {
        let seconds = stats.wall_ms / 1000.0;
        Self {
            generated_tokens: stats.generated_tokens,
            seconds,
            tokens_per_second: stats.generated_tokens as f64 / seconds.max(1e-9),
        }
    }
}

/// The three figures and their ratios.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchReport {
    pub parallel: usize,
    pub prompts: usize,
    pub threads: Option<usize>,
    pub unified_kv: bool,
    pub pipeline: Throughput,
    pub pipeline_stats: BatchStats,
    pub pipeline_host: HostTime,
    /// (2): one prompt at a time, every turn decoded from scratch, as a loop of independent
    /// completion calls (a LangChain-style chain) runs it.
    pub sequential: Throughput,
    /// (2'): one prompt at a time through this pipeline, with KV reuse: batching's share alone.
    pub sequential_reusing: Throughput,
    pub ceiling_tokens_per_second: f64,
    /// The KV length per sequence the ceilings were measured at: the pipeline's mean.
    pub ceiling_kv_tokens: usize,
    /// The decode ceiling of one sequence: (3) over this is the most batching can buy on this
    /// hardware, the bound on (1)/(2).
    pub single_ceiling_tokens_per_second: f64,
    /// (1)/(2).
    pub batching_speedup: f64,
    /// (1)/(2').
    pub reuse_speedup: f64,
    /// (1)/(3).
    pub share_of_ceiling: f64,
}

/// The constitution a bench previews unless told otherwise: the general-assistant sample,
/// built in so that the bench runs from any folder.
pub fn default_constitution() -> Result<Constitution, crate::constitution::LoadError> {
    crate::constitution::parse_toml(
        include_str!("../constitutions/general-assistant.toml"),
        std::path::Path::new("general-assistant.toml"),
    )
}

/// The prompt set a bench runs unless told otherwise (built in, like the constitution).
pub const DEFAULT_PROMPTS: &str = "red-team.jsonl";

/// The preview the bench's pipeline figure (1) runs: the first `config.prompts` of `prompts`
/// at `config.parallel`.
pub fn pipeline_job(
    constitution: &Constitution,
    prompts: &[PromptItem],
    config: &BenchConfig,
) -> PreviewJob {
    PreviewJob {
        constitution: constitution.clone(),
        prompts: prompts.iter().take(config.prompts).cloned().collect(),
        config: PreviewConfig {
            rounds: config.rounds,
            seed: config.seed,
            max_tokens: config.max_tokens,
            parallel: config.parallel,
            ..PreviewConfig::for_constitution(constitution)
        },
        done: Vec::new(),
        system_prompt: None,
    }
}

/// Runs the measurements over the first `config.prompts` of `prompts`. Each prompt end of its
/// runs (a [`PreviewEvent::Done`] or [`PreviewEvent::Failed`]) goes to `progress` as it
/// happens ([`BenchStage::after`] reads them); nothing else does.
pub fn run(
    model: &Model,
    constitution: &Constitution,
    prompts: &[PromptItem],
    config: &BenchConfig,
    progress: &mpsc::Sender<PreviewEvent>,
) -> Result<BenchReport, EngineError> {
    let prompts: Vec<PromptItem> = prompts.iter().take(config.prompts).cloned().collect();
    let preview_at = |parallel: usize, reuse_kv: bool| {
        let mut job = pipeline_job(constitution, &prompts, config);
        job.config.parallel = parallel;
        let (events, received) = mpsc::channel();
        // The run calls back on this thread between its steps: prompt ends are passed on
        // then, and the step's text pieces dropped; once more at the end, for a prompt that
        // ended after the last step (one that failed as it was admitted).
        let mut pass_on_ends = || {
            for event in received.try_iter() {
                if matches!(
                    event,
                    PreviewEvent::Done { .. } | PreviewEvent::Failed { .. }
                ) {
                    let _ = progress.send(event);
                }
            }
        };
        let engine = config.engine(reuse_kv);
        let stats = preview::run_observed(
            model,
            &job,
            &events,
            &CancelToken::new(),
            &engine,
            &mut pass_on_ends,
        );
        pass_on_ends();
        stats
    };
    let pipeline_stats = preview_at(config.parallel, true)?;
    let sequential_stats = preview_at(1, false)?;
    let sequential_reusing_stats = preview_at(1, true)?;
    // Centred on the pipeline's mean KV length: the ceiling's steps run from below it to above.
    let kv_tokens = (pipeline_stats.mean_kv_tokens.round() as usize).max(1);
    let start = kv_tokens.saturating_sub(config.ceiling_steps / 2).max(1);
    let engine = config.engine(true);
    let ceiling =
        batch::decode_ceiling(model, config.parallel, start, config.ceiling_steps, &engine)?;
    let single_ceiling = batch::decode_ceiling(model, 1, start, config.ceiling_steps, &engine)?;
    let pipeline = Throughput::of(&pipeline_stats);
    let sequential = Throughput::of(&sequential_stats);
    let sequential_reusing = Throughput::of(&sequential_reusing_stats);
    Ok(BenchReport {
        parallel: config.parallel,
        prompts: prompts.len(),
        threads: config.threads,
        unified_kv: config.unified_kv,
        pipeline,
        pipeline_host: HostTime::of(&pipeline_stats),
        pipeline_stats,
        ceiling_kv_tokens: start + config.ceiling_steps / 2,
        sequential,
        sequential_reusing,
        reuse_speedup: pipeline.tokens_per_second / sequential_reusing.tokens_per_second.max(1e-9),
        ceiling_tokens_per_second: ceiling,
        single_ceiling_tokens_per_second: single_ceiling,
        batching_speedup: pipeline.tokens_per_second / sequential.tokens_per_second.max(1e-9),
        share_of_ceiling: pipeline.tokens_per_second / ceiling.max(1e-9),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stage_follows_the_prompt_ends() {
        assert_eq!(
            BenchStage::after(0, 4),
            BenchStage::Run { figure: 0, done: 0 }
        );
        assert_eq!(
            BenchStage::after(5, 4),
            BenchStage::Run { figure: 1, done: 1 }
        );
        assert_eq!(
            BenchStage::after(11, 4),
            BenchStage::Run { figure: 2, done: 3 }
        );
        assert_eq!(BenchStage::after(12, 4), BenchStage::Ceilings);
    }

    #[test]
    fn host_time_leaves_out_the_set_up_and_the_decode() {
        let stats = BatchStats {
            decode_calls: 10,
            ubatches: 15,
            graph_reuses: 5,
            setup_ms: 100.0,
            decode_ms: 50.0,
            batch_ms: 1.0,
            sample_ms: 2.0,
            turn_ms: 3.0,
            wall_ms: 160.0,
            ..BatchStats::default()
        };
        let host = HostTime::of(&stats);
        assert_eq!(host.ubatches_per_step, 1.5);
        assert!((host.graph_reuse_share - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(host.decode_ms_per_step, 5.0);
        assert!((host.host_ms_per_step - 1.0).abs() < 1e-12);
        assert!((host.bookkeeping_ms_per_step - 0.4).abs() < 1e-12);
    }

    #[test]
    fn the_built_in_defaults_load() {
        assert!(default_constitution().unwrap().principle_count() > 0);
        let set = crate::prompt_set::BundledSet::named(DEFAULT_PROMPTS).unwrap();
        assert!(set.items().unwrap().len() >= 16);
    }
}

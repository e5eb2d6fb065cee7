//! `preamble bench`: how fast the preview pipeline runs compared with running the same work
//! one prompt at a time, and with the raw decode speed of the hardware.
//!
//! Three figures, measured in one process on one loaded model, all in generated tokens per
//! second: (1) the full preview pipeline (render, KV reuse, continuous batching, sampling) at
//! parallelism P; (2) the same prompts one at a time with every turn decoded from scratch, as a
//! loop of independent completion calls runs them, and (2') one at a time through this
//! pipeline with KV reuse, which isolates what batching buys; (3) the decode ceiling, P sequences advanced
//! by decode calls alone, nothing sampled ([`crate::engine::batch::decode_ceiling`]), and the
//! same for one sequence, whose ratio to (3) bounds what batching can buy on the hardware. The
//! ratios (1)/(2) (what batching buys) and (1)/(3) (how close the pipeline gets to the
//! hardware) are the results; absolute figures vary with the machine.

use std::sync::mpsc;

use serde::{Deserialize, Serialize};

use crate::constitution::Constitution;
use crate::engine::batch::{self, BatchStats, CancelToken};
use crate::engine::{EngineError, Model};
use crate::preview::{self, PreviewConfig, PreviewJob};
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
    pub pipeline: Throughput,
    pub pipeline_stats: BatchStats,
    /// (2): one prompt at a time, every turn decoded from scratch, as a loop of independent
    /// completion calls (a LangChain-style chain) runs it.
    pub sequential: Throughput,
    /// (2'): one prompt at a time through this pipeline, with KV reuse: batching's share alone.
    pub sequential_reusing: Throughput,
    pub ceiling_tokens_per_second: f64,
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

/// Runs the measurements over the first `config.prompts` of `prompts`.
pub fn run(
    model: &Model,
    constitution: &Constitution,
    prompts: &[PromptItem],
    config: &BenchConfig,
) -> Result<BenchReport, EngineError> {
    let prompts: Vec<PromptItem> = prompts.iter().take(config.prompts).cloned().collect();
    let preview_at = |parallel: usize, reuse_kv: bool| -> Result<BatchStats, EngineError> {
        let mut job = pipeline_job(constitution, &prompts, config);
        job.config.parallel = parallel;
        let (events, _ignored) = mpsc::channel();
        preview::run_with(model, &job, &events, &CancelToken::new(), reuse_kv)
    };
    let pipeline_stats = preview_at(config.parallel, true)?;
    let sequential_stats = preview_at(1, false)?;
    let sequential_reusing_stats = preview_at(1, true)?;
    let ceiling = batch::decode_ceiling(model, config.parallel, 64, config.ceiling_steps, None)?;
    let single_ceiling = batch::decode_ceiling(model, 1, 64, config.ceiling_steps, None)?;
    let pipeline = Throughput::of(&pipeline_stats);
    let sequential = Throughput::of(&sequential_stats);
    let sequential_reusing = Throughput::of(&sequential_reusing_stats);
    Ok(BenchReport {
        parallel: config.parallel,
        prompts: prompts.len(),
        pipeline,
        pipeline_stats,
        sequential,
        sequential_reusing,
        reuse_speedup: pipeline.tokens_per_second / sequential_reusing.tokens_per_second.max(1e-9),
        ceiling_tokens_per_second: ceiling,
        single_ceiling_tokens_per_second: single_ceiling,
        batching_speedup: pipeline.tokens_per_second / sequential.tokens_per_second.max(1e-9),
        share_of_ceiling: pipeline.tokens_per_second / ceiling.max(1e-9),
    })
}

//! Many conversations advancing together in one llama.cpp context: continuous batching.
//!
//! A [`Conversation`] is a state machine that asks for one [`Turn`] at a time (generate the
//! assistant's reply, or score the options of a multiple-choice answer) and is told each
//! result. [`run`] gives up to `parallel` conversations a sequence each in one context and,
//! every step, decodes one batch holding the next token of every generating sequence and
//! chunks of the prompts of sequences starting a turn. A sequence whose turn ends starts its
//! next turn in the following decode, without waiting for the others; a finished conversation
//! hands its sequence to the next one waiting.
//!
//! KV reuse: each sequence remembers the exact tokens its cache holds. A new turn is rendered
//! with the model's chat template and tokenized whole; the cache keeps its longest common
//! prefix with those tokens (everything before the new turn, unless a template rewrites
//! earlier turns) and only the rest is decoded. The part of the first turn
//! that all conversations share (system text, few-shot examples) is decoded once into its own
//! sequence and copied into each sequence as it starts. Each sequence has its own KV stream,
//! so its attention covers its own tokens only. [`BatchStats`] counts the prompt
//! tokens actually decoded against the naive total (every turn decoded from scratch).
//!
//! Errors: a conversation that outgrows its share of the context fails alone
//! ([`Conversation::failed`]); a decode failure or cancellation ends the whole run with an
//! error, after every completed turn has been reported.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use super::sampling::{self, Sampler, Sampling};
use super::{EngineError, Message, Model, Role, take_complete_utf8};

/// Cancels a running job; checked before every decode step.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How a batch of conversations runs.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Conversations decoded together (sequences in the context); at least 1.
    pub parallel: usize,
    /// Tokens one conversation may hold in the context: its whole history plus the reply.
    pub context_per_sequence: u32,
    /// Most tokens in one decode call.
    pub batch_tokens: u32,
    /// CPU threads for llama.cpp and sampling; `None` uses every core.
    pub threads: Option<usize>,
    /// Keep each sequence's cache between turns and share the common prefix. Off, every turn
    /// decodes its whole conversation from scratch, as a loop of independent completion calls
    /// does (the benchmark's baseline).
    pub reuse_kv: bool,
    /// One KV cache that every sequence's tokens share (llama.cpp's `kv_unified`) instead of a
    /// stream per sequence. A step's batch then goes to the device whole, in one ubatch, and
    /// copying the shared prefix is bookkeeping; but every token's attention reads the whole
    /// cache, masked. Off by default: on a CPU it measured up to 1.6x slower.
    pub unified_kv: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            parallel: 8,
            context_per_sequence: 4096,
            batch_tokens: 2048,
            threads: None,
            reuse_kv: true,
            unified_kv: false,
        }
    }
}

/// What a conversation asks for next.
#[derive(Debug, Clone)]
pub enum Turn {
    /// Generate the assistant's reply to `messages`, starting after `assistant_prefix`.
    Generate {
        messages: Vec<Message>,
        assistant_prefix: String,
        max_tokens: u32,
        sampling: Sampling,
        seed: u64,
    },
    /// The probability of each option being the next text after `assistant_prefix`, judged by
    /// its first token and normalised over the options.
    Choose {
        messages: Vec<Message>,
        assistant_prefix: String,
        options: Vec<String>,
    },
}

/// Token counts and time of one turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TurnStats {
    /// Prompt tokens this turn decoded (the new part of the conversation).
    pub decoded_tokens: usize,
    /// Tokens of the whole conversation up to the reply: what decoding from scratch costs.
    pub conversation_tokens: usize,
    pub generated_tokens: usize,
    pub elapsed_ms: u64,
}

/// Why a generated reply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// The model ended its turn.
    Stop,
    /// The turn's token limit was reached.
    Length,
}

/// The result of a turn.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnOutput {
    Text {
        text: String,
        finish: Finish,
        stats: TurnStats,
    },
    Choice {
        /// One per option, summing to 1.
        probabilities: Vec<f64>,
        /// How much of the model's whole next-token distribution the options' tokens held.
        option_mass: f64,
        stats: TurnStats,
    },
}

/// A multi-turn exchange driven by the batch runner.
pub trait Conversation {
    /// The next turn, or `None` when the conversation is over.
    fn next_turn(&mut self) -> Option<Turn>;
    /// The result of the turn last asked for.
    fn turn_done(&mut self, output: TurnOutput);
    /// A piece of generated text, as it is decoded.
    fn piece(&mut self, _text: &str) {}
    /// The conversation cannot go on (it outgrew its context, or its turn was malformed); it
    /// is not asked for more turns.
    fn failed(&mut self, error: EngineError);
}

/// Totals of a batch run.
///
/// Time is split so that the host's share can be read apart from the device's: `setup_ms` is
/// the context's creation and the shared prefix's decode, once a run; `decode_ms` waits for
/// the device to finish each decode step; `batch_ms`, `sample_ms` and `turn_ms` are the
/// host work between decodes (building the batch; sampling; rendering, tokenizing and
/// trimming the cache for new turns); what `wall_ms` holds beyond those is bookkeeping (text
/// pieces, scoring choices, the conversations' own work, the step observer).
///
/// [`ubatch_count`] and the graph reuses say how the steps reached the device.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct BatchStats {
    /// Prompt tokens decoded, the shared prefix once.
    pub decoded_prompt_tokens: usize,
    /// Prompt tokens a run without KV reuse decodes: every turn's whole conversation.
    pub naive_prompt_tokens: usize,
    /// Tokens of the prefix shared by every conversation (decoded once, copied to each).
    pub shared_prefix_tokens: usize,
    pub generated_tokens: usize,
    /// Decode steps (the shared prefix's decode is set-up, not counted).
    pub decode_calls: usize,
    /// The ubatches llama.cpp splits those calls into (each a pass over the weights), as its
    /// splitting rule gives them for each batch ([`ubatch_count`]).
    pub ubatches: usize,
    /// Ubatches that reused the previous one's compute graph (llama.cpp's own count).
    pub graph_reuses: usize,
    /// Decode steps that advanced at least one generating sequence, and the mean number of
    /// tokens each of their generating sequences' caches held: the KV length the pipeline ran at.
    pub generating_steps: usize,
    pub mean_kv_tokens: f64,
    pub setup_ms: f64,
    pub decode_ms: f64,
    pub batch_ms: f64,
    pub sample_ms: f64,
    pub turn_ms: f64,
    pub wall_ms: f64,
}

/// Runs `conversations` to the end, `options.parallel` at a time, in order of index.
/// `shared_prefix` is the start every conversation's first turn has in common (system text and
/// few-shot examples); it is decoded once.
pub fn run<C: Conversation>(
    model: &Model,
    conversations: &mut [C],
    shared_prefix: &[Message],
    options: &BatchOptions,
    cancel: &CancelToken,
) -> Result<BatchStats, EngineError> {
    run_observed(
        model,
        conversations,
        shared_prefix,
        options,
        cancel,
        &mut || {},
    )
}

/// [`run`], calling `after_step` once after each decode step has been handed to the
/// conversations (its pieces, finished turns and new turns): the place to send what a step
/// produced as one message.
pub fn run_observed<C: Conversation>(
    model: &Model,
    conversations: &mut [C],
    shared_prefix: &[Message],
    options: &BatchOptions,
    cancel: &CancelToken,
    after_step: &mut dyn FnMut(),
) -> Result<BatchStats, EngineError> {
    let started = Instant::now();
    // A single conversation has nothing to share.
    let prefix_tokens = if conversations.len() > 1 && options.reuse_kv {
        shared_prefix_tokens(model, shared_prefix)?
    } else {
        Vec::new()
    };
    let parallel = options.parallel.clamp(1, conversations.len().max(1));
    let context = options.context_per_sequence.max(16);
    if prefix_tokens.len() >= context as usize {
        return Err(EngineError::SharedPrefixTooLong {
            tokens: prefix_tokens.len(),
            context: context as usize,
        });
    }
    // One KV stream per sequence (each attends to its own cells only; on a CPU a unified
    // cache, where every token attends over all sequences' cells, measured up to 1.6x slower
    // at 512 tokens per sequence), plus one for the shared prefix, copied into each sequence.
    let threads = options.threads.unwrap_or_else(all_cores);
    let batch_tokens = options
        .batch_tokens
        .max(u32::try_from(parallel).unwrap_or(1));
    let mut ctx = new_context(
        model,
        parallel + 1,
        context,
        batch_tokens,
        threads,
        options.unified_kv,
    )?;
    // A step holds at most one ubatch of tokens, so llama.cpp never splits a step by size
    // (prompt chunks longer than that spread over steps).
    let batch_tokens = ctx.n_batch().min(ctx.n_ubatch());

    let mut runner = Runner {
        model,
        batch: LlamaBatch::new(batch_tokens as usize, 1),
        batch_capacity: batch_tokens as usize,
        context_per_sequence: context as usize,
        prefix_seq: i32::try_from(parallel).unwrap_or(i32::MAX),
        prefix_tokens,
        reuse_kv: options.reuse_kv,
        kv_tokens_at_steps: 0,
        sequence_steps: 0,
        stats: BatchStats::default(),
    };
    runner.decode_prefix(&mut ctx)?;
    // The prefix's chunks may reuse graphs too; only the steps' reuses are counted.
    let prefix_reuses = graph_reuses(&ctx.timings());
    runner.stats.setup_ms = elapsed_ms(started);
    let mut slots: Vec<Option<Active>> = (0..parallel).map(|_| None).collect();
    let mut next_conversation = 0;
    loop {
        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        for (seq, slot) in slots.iter_mut().enumerate() {
            while slot.is_none() && next_conversation < conversations.len() {
                let index = next_conversation;
                next_conversation += 1;
                *slot = runner.admit(&mut ctx, seq, index, &mut conversations[index])?;
            }
        }
        let batch_started = Instant::now();
        let (logits_at, layout) = runner.fill_batch(&mut slots)?;
        runner.stats.batch_ms += elapsed_ms(batch_started);
        if runner.batch.n_tokens() == 0 {
            break;
        }
        runner.stats.ubatches += ubatch_count(&layout, batch_tokens as usize, options.unified_kv);
        let decode_started = Instant::now();
        ctx.decode(&mut runner.batch)
            .map_err(|error| EngineError::Decode(error.to_string()))?;
        // `decode` may return before the device has finished; waiting here keeps the device's
        // time out of the host figures that follow.
        ctx.synchronize();
        runner.stats.decode_calls += 1;
        runner.stats.decode_ms += elapsed_ms(decode_started);
        runner.after_decode(&mut ctx, &mut slots, &logits_at, conversations)?;
        after_step();
    }
    runner.stats.graph_reuses = graph_reuses(&ctx.timings()).saturating_sub(prefix_reuses);
    if runner.stats.generating_steps > 0 {
        runner.stats.mean_kv_tokens =
            runner.kv_tokens_at_steps as f64 / runner.sequence_steps.max(1) as f64;
    }
    runner.stats.wall_ms = elapsed_ms(started);
    Ok(runner.stats)
}

fn elapsed_ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// The ubatches llama.cpp makes of a batch whose tokens belong, in order, to the sequences
/// `layout` lists, with at most `n_ubatch` tokens each (llama.cpp's `split_simple` for a
/// unified cache, `split_equal` with consecutive sequences for a stream per sequence). This is
/// a model of llama.cpp's rule for attention KV caches, read from its source; recurrent and
/// hybrid models split otherwise (`split_seq`), so for them the count is an estimate.
///
/// With a stream per sequence a ubatch takes sequences of consecutive ids, the same number of
/// tokens from each: a step whose generating sequences are `0..P` goes whole, but a gap in the
/// ids (a sequence idle, or scoring) starts another ubatch, and so does the rest of each prompt
/// chunk after its first token. Each ubatch is a pass over the weights, which is why [`run`]
/// orders a batch by sequence and the bench counts them.
pub fn ubatch_count(layout: &[i32], n_ubatch: usize, unified: bool) -> usize {
    let n_ubatch = n_ubatch.max(1);
    if unified {
        return layout.len().div_ceil(n_ubatch);
    }
    // Each sequence's tokens, in batch order, the next unused first.
    let mut queues: std::collections::HashMap<i32, std::collections::VecDeque<usize>> =
        std::collections::HashMap::new();
    for (index, &seq) in layout.iter().enumerate() {
        queues.entry(seq).or_default().push_back(index);
    }
    let mut used = vec![false; layout.len()];
    let mut left = layout.len();
    let mut count = 0;
    while left > 0 {
        count += 1;
        // The sequences of this ubatch: scanning in batch order, an unused token's sequence
        // joins when it is the one after the last joined.
        let mut members: Vec<i32> = Vec::new();
        for (index, &seq) in layout.iter().enumerate() {
            if !used[index]
                && !members.contains(&seq)
                && members.last().is_none_or(|&last| seq == last + 1)
            {
                members.push(seq);
            }
        }
        // Then rounds of one token from every member, while each has one and room is left.
        let mut rounds = 0;
        while members
            .iter()
            .all(|seq| queues.get(seq).is_some_and(|queue| !queue.is_empty()))
        {
            for seq in &members {
                if let Some(at) = queues.get_mut(seq).and_then(|queue| queue.pop_front()) {
                    used[at] = true;
                    left -= 1;
                }
            }
            rounds += 1;
            if (rounds + 1) * members.len() > n_ubatch {
                break;
            }
        }
    }
    count
}

/// The graph reuses llama.cpp counted in its context (`n_reused`). The binding has no getter
/// for that field, so it is read from the data's `Debug` text; a test checks that reading.
fn graph_reuses(timings: &llama_cpp_2::timing::LlamaTimings) -> usize {
    let text = format!("{timings:?}");
    text.split("n_reused:")
        .nth(1)
        .and_then(|rest| {
            let digits: String = rest
                .trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .unwrap_or(0)
}

/// Measures the decode ceiling of `parallel` sequences, as llama.cpp's batched-bench does:
/// each sequence gets `prompt_tokens` tokens of prompt, then `steps` decode calls each add one
/// token to every sequence, with logits computed and nothing sampled. Returns the tokens per
/// second of those decode steps. The context is laid out as [`run`] lays it out for `options`
/// (its threads and KV layout).
pub fn decode_ceiling(
    model: &Model,
    parallel: usize,
    prompt_tokens: usize,
    steps: usize,
    options: &BatchOptions,
) -> Result<f64, EngineError> {
    let parallel = parallel.max(1);
    let per_sequence = u32::try_from(prompt_tokens + steps + 1).unwrap_or(u32::MAX);
    let batch_tokens = u32::try_from(parallel * prompt_tokens.max(1)).unwrap_or(u32::MAX);
    let threads = options.threads.unwrap_or_else(all_cores);
    let mut ctx = new_context(
        model,
        parallel,
        per_sequence,
        batch_tokens,
        threads,
        options.unified_kv,
    )?;
    let batch_tokens = ctx.n_batch();
    let decode_error = |error: llama_cpp_2::DecodeError| EngineError::Decode(error.to_string());
    let add_error =
        |error: llama_cpp_2::llama_batch::BatchAddError| EngineError::Decode(error.to_string());
    let mut batch = LlamaBatch::new(batch_tokens as usize, 1);
    // Any token will do; the same for every sequence, as batched-bench does.
    let token = LlamaToken(1);
    for seq in 0..parallel {
        for position in 0..prompt_tokens {
            batch
                .add(
                    token,
                    to_pos(position),
                    &[to_seq(seq)],
                    position + 1 == prompt_tokens,
                )
                .map_err(add_error)?;
        }
    }
    if batch.n_tokens() > 0 {
        ctx.decode(&mut batch).map_err(decode_error)?;
        ctx.synchronize();
    }
    let started = Instant::now();
    for step in 0..steps {
        batch.clear();
        for seq in 0..parallel {
            batch
                .add(token, to_pos(prompt_tokens + step), &[to_seq(seq)], true)
                .map_err(add_error)?;
        }
        ctx.decode(&mut batch).map_err(decode_error)?;
    }
    ctx.synchronize();
    let seconds = started.elapsed().as_secs_f64();
    Ok((parallel * steps) as f64 / seconds.max(1e-9))
}

fn all_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(4)
}

/// A context of `sequences` KV streams of `per_sequence` cells each; its batch size (read it
/// back with `n_batch`) is `batch_tokens` at most.
fn new_context(
    model: &Model,
    sequences: usize,
    per_sequence: u32,
    batch_tokens: u32,
    threads: usize,
    unified_kv: bool,
) -> Result<LlamaContext<'_>, EngineError> {
    // llama.cpp pads a context to a multiple of 256 cells and splits it evenly between the
    // streams: whole multiples of 256 per stream keep every stream its full share.
    let per_sequence = per_sequence.div_ceil(256).saturating_mul(256);
    let n_ctx = u32::try_from(sequences)
        .unwrap_or(u32::MAX)
        .saturating_mul(per_sequence);
    let thread_count = i32::try_from(threads).unwrap_or(4);
    let batch_tokens = batch_tokens.min(n_ctx);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(batch_tokens)
        .with_n_ubatch(batch_tokens.min(512))
        .with_n_seq_max(u32::try_from(sequences).unwrap_or(u32::MAX))
        .with_kv_unified(unified_kv)
        .with_n_threads(thread_count)
        .with_n_threads_batch(thread_count);
    model
        .model
        .new_context(super::backend()?, params)
        .map_err(|error| EngineError::Context {
            context: n_ctx,
            message: error.to_string(),
        })
}

/// The tokens all conversations starting with `messages` share: the common start of two
/// probe conversations, tokenized whole as every turn is.
fn shared_prefix_tokens(
    model: &Model,
    messages: &[Message],
) -> Result<Vec<LlamaToken>, EngineError> {
    let probe = |text: &str| {
        let mut chat = messages.to_vec();
        chat.push(Message::new(Role::User, text));
        model.chat_tokens(&chat, "")
    };
    let mut first = probe("Alpha question?")?;
    let second = probe("Zulu request.")?;
    first.truncate(common_prefix(&first, &second));
    Ok(first)
}

fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

struct Runner<'m> {
    model: &'m Model,
    batch: LlamaBatch<'static>,
    batch_capacity: usize,
    context_per_sequence: usize,
    prefix_seq: i32,
    prefix_tokens: Vec<LlamaToken>,
    reuse_kv: bool,
    /// Over the decode steps, the cache lengths of the generating sequences decoded, summed,
    /// and how many there were: the mean KV length.
    kv_tokens_at_steps: usize,
    sequence_steps: usize,
    stats: BatchStats,
}

/// A conversation holding a sequence.
struct Active {
    conversation: usize,
    /// Exactly the tokens the sequence's cache holds.
    kv_tokens: Vec<LlamaToken>,
    /// Prompt tokens of the current turn not yet decoded.
    pending: Vec<LlamaToken>,
    task: Task,
    stats: TurnStats,
    started: Instant,
}

enum Task {
    Generate {
        sampler: Sampler,
        max_tokens: usize,
        text: String,
        utf8: Vec<u8>,
        /// The last sampled token, to be decoded next step.
        next: Option<LlamaToken>,
    },
    Choose {
        option_tokens: Vec<LlamaToken>,
    },
}

impl Runner<'_> {
    fn decode_prefix(&mut self, ctx: &mut LlamaContext<'_>) -> Result<(), EngineError> {
        self.stats.shared_prefix_tokens = self.prefix_tokens.len();
        self.stats.decoded_prompt_tokens += self.prefix_tokens.len();
        for (chunk_index, chunk) in self.prefix_tokens.chunks(self.batch_capacity).enumerate() {
            self.batch.clear();
            for (offset, &token) in chunk.iter().enumerate() {
                let position = chunk_index * self.batch_capacity + offset;
                self.batch
                    .add(token, to_pos(position), &[self.prefix_seq], false)
                    .map_err(|error| EngineError::Decode(error.to_string()))?;
            }
            ctx.decode(&mut self.batch)
                .map_err(|error| EngineError::Decode(error.to_string()))?;
        }
        ctx.synchronize();
        Ok(())
    }

    /// Gives sequence `seq` to conversation `index` and starts its first turn; `None` when the
    /// conversation has nothing to do or failed at once.
    fn admit<C: Conversation>(
        &mut self,
        ctx: &mut LlamaContext<'_>,
        seq: usize,
        index: usize,
        conversation: &mut C,
    ) -> Result<Option<Active>, EngineError> {
        clear_sequence(ctx, seq)?;
        let mut active = Active {
            conversation: index,
            kv_tokens: Vec::new(),
            pending: Vec::new(),
            task: Task::Choose {
                option_tokens: Vec::new(),
            },
            stats: TurnStats::default(),
            started: Instant::now(),
        };
        if !self.prefix_tokens.is_empty() {
            ctx.copy_kv_cache_seq(self.prefix_seq, to_seq(seq), None, None)
                .map_err(|error| EngineError::Decode(error.to_string()))?;
            active.kv_tokens = self.prefix_tokens.clone();
        }
        match conversation.next_turn() {
            None => Ok(None),
            Some(turn) => match self.start_turn(ctx, seq, &mut active, turn) {
                Ok(()) => Ok(Some(active)),
                Err(error) if error.is_conversation_error() => {
                    conversation.failed(error);
                    clear_sequence(ctx, seq)?;
                    Ok(None)
                }
                Err(error) => Err(error),
            },
        }
    }

    /// Renders `turn`, tokenizes it whole, keeps the part of the sequence's cache that matches
    /// and queues the rest. Tokenizing the whole text (not only what is new) keeps the cache
    /// right when a reply was cut inside a character, or when the vocabulary marks the start of
    /// a text (SentencePiece's leading space); a reply the model tokenized unlike the tokenizer
    /// costs only re-decoding from where the two differ.
    fn start_turn(
        &mut self,
        ctx: &mut LlamaContext<'_>,
        seq: usize,
        active: &mut Active,
        turn: Turn,
    ) -> Result<(), EngineError> {
        let started = Instant::now();
        let result = self.prepare_turn(ctx, seq, active, turn);
        self.stats.turn_ms += elapsed_ms(started);
        result
    }

    fn prepare_turn(
        &mut self,
        ctx: &mut LlamaContext<'_>,
        seq: usize,
        active: &mut Active,
        turn: Turn,
    ) -> Result<(), EngineError> {
        let (messages, assistant_prefix) = match &turn {
            Turn::Generate {
                messages,
                assistant_prefix,
                ..
            }
            | Turn::Choose {
                messages,
                assistant_prefix,
                ..
            } => (messages, assistant_prefix),
        };
        let all = self.model.chat_tokens(messages, assistant_prefix)?;
        let keep = if self.reuse_kv {
            common_prefix(&all, &active.kv_tokens)
        } else {
            0
        };
        cut_sequence(ctx, seq, &mut active.kv_tokens, keep)?;
        let mut pending = all[keep..].to_vec();
        if pending.is_empty() {
            // The cache already holds the whole prompt; decode its last token again for logits.
            let last = active.kv_tokens.len().saturating_sub(1);
            pending = active.kv_tokens[last..].to_vec();
            cut_sequence(ctx, seq, &mut active.kv_tokens, last)?;
        }
        if pending.is_empty() {
            return Err(EngineError::InvalidTurn(
                "the turn renders to no tokens".to_owned(),
            ));
        }
        let reply_room = match &turn {
            Turn::Generate { max_tokens: 0, .. } => {
                return Err(EngineError::InvalidTurn(
                    "a reply needs room for at least one token".to_owned(),
                ));
            }
            Turn::Generate { max_tokens, .. } => *max_tokens as usize,
            Turn::Choose { .. } => 1,
        };
        let needed = active.kv_tokens.len() + pending.len() + reply_room;
        if needed > self.context_per_sequence {
            return Err(EngineError::ConversationTooLong {
                prompt_tokens: active.kv_tokens.len() + pending.len(),
                reply_tokens: reply_room,
                context: self.context_per_sequence,
            });
        }
        active.stats = TurnStats {
            decoded_tokens: pending.len(),
            conversation_tokens: active.kv_tokens.len() + pending.len(),
            ..TurnStats::default()
        };
        active.started = Instant::now();
        active.pending = pending;
        active.task = match turn {
            Turn::Generate {
                max_tokens,
                sampling,
                seed,
                ..
            } => Task::Generate {
                sampler: Sampler::new(sampling, seed),
                max_tokens: max_tokens as usize,
                text: String::new(),
                utf8: Vec::new(),
                next: None,
            },
            Turn::Choose {
                options,
                assistant_prefix,
                ..
            } => Task::Choose {
                option_tokens: option_tokens(self.model, &assistant_prefix, &options)?,
            },
        };
        Ok(())
    }

    /// Fills the batch for the next decode, in order of sequence: the next token of each
    /// generating sequence, or the next chunk of the prompt of each sequence starting a turn,
    /// while room is left. Returns, per slot, the batch index whose logits it reads, and the
    /// sequence of every token in the batch.
    ///
    /// Order by sequence is what keeps a step in few ubatches ([`ubatch_count`]): the first
    /// takes one token of every sequence of a run of consecutive ids, prompt chunks' first
    /// tokens among them.
    #[allow(clippy::type_complexity)]
    fn fill_batch(
        &mut self,
        slots: &mut [Option<Active>],
    ) -> Result<(Vec<Option<i32>>, Vec<i32>), EngineError> {
        self.batch.clear();
        let mut logits_at = vec![None; slots.len()];
        let mut layout = Vec::new();
        // Generating sequences first claim their one token each, so a long prompt chunk
        // never crowds them out of a step.
        let generating = slots
            .iter()
            .flatten()
            .filter(|active| matches!(active.task, Task::Generate { next: Some(_), .. }))
            .count();
        let mut room = self.batch_capacity.saturating_sub(generating);
        for (seq, slot) in slots.iter_mut().enumerate() {
            let Some(active) = slot else { continue };
            let tokens: Vec<LlamaToken> = if let Task::Generate {
                next: next @ Some(_),
                ..
            } = &mut active.task
            {
                self.kv_tokens_at_steps += active.kv_tokens.len();
                self.sequence_steps += 1;
                next.take().into_iter().collect()
            } else if !active.pending.is_empty() && room > 0 {
                let take = active.pending.len().min(room);
                room -= take;
                active.pending.drain(..take).collect()
            } else {
                continue;
            };
            // Logits for a generated token, or for the last token of a turn's prompt.
            let wants_logits = active.pending.is_empty();
            for (offset, &token) in tokens.iter().enumerate() {
                let last = wants_logits && offset + 1 == tokens.len();
                if last {
                    logits_at[seq] = Some(self.batch.n_tokens());
                }
                let position = active.kv_tokens.len();
                self.batch
                    .add(token, to_pos(position), &[to_seq(seq)], last)
                    .map_err(|error| EngineError::Decode(error.to_string()))?;
                active.kv_tokens.push(token);
                layout.push(to_seq(seq));
            }
        }
        if generating > 0 {
            self.stats.generating_steps += 1;
        }
        Ok((logits_at, layout))
    }

    /// Samples or scores every slot that has logits, reports finished turns and starts the
    /// next ones.
    fn after_decode<C: Conversation>(
        &mut self,
        ctx: &mut LlamaContext<'_>,
        slots: &mut [Option<Active>],
        logits_at: &[Option<i32>],
        conversations: &mut [C],
    ) -> Result<(), EngineError> {
        let sample_started = Instant::now();
        let mut sampled = vec![None; slots.len()];
        {
            let mut jobs: Vec<(&[f32], &mut Sampler)> = Vec::new();
            let mut owners = Vec::new();
            for (seq, slot) in slots.iter_mut().enumerate() {
                if let (Some(at), Some(active)) = (logits_at[seq], slot.as_mut())
                    && let Task::Generate { sampler, .. } = &mut active.task
                {
                    jobs.push((ctx.get_logits_ith(at), sampler));
                    owners.push(seq);
                }
            }
            for (seq, token) in owners.into_iter().zip(sampling::sample_all(&mut jobs)) {
                sampled[seq] = Some(token);
            }
        }
        self.stats.sample_ms += elapsed_ms(sample_started);

        let vocab = self.model.model.vocab();
        for seq in 0..slots.len() {
            let (Some(at), Some(active)) = (logits_at[seq], slots[seq].as_mut()) else {
                continue;
            };
            let conversation = &mut conversations[active.conversation];
            let output = match &mut active.task {
                Task::Generate {
                    max_tokens,
                    text,
                    utf8,
                    next,
                    ..
                } => {
                    let token = LlamaToken(i32::try_from(sampled[seq].unwrap_or(0)).unwrap_or(0));
                    let finish = if vocab.is_eog(token) {
                        Some(Finish::Stop)
                    } else {
                        active.stats.generated_tokens += 1;
                        vocab.token_to_piece_into(token, utf8, false, None);
                        let piece = take_complete_utf8(utf8);
                        if !piece.is_empty() {
                            conversation.piece(&piece);
                            text.push_str(&piece);
                        }
                        if active.stats.generated_tokens >= *max_tokens {
                            // Not decoded: the cache holds the reply up to the token before.
                            Some(Finish::Length)
                        } else {
                            *next = Some(token);
                            None
                        }
                    };
                    finish.map(|finish| {
                        let mut text = std::mem::take(text);
                        text.push_str(&String::from_utf8_lossy(&std::mem::take(utf8)));
                        TurnOutput::Text {
                            text,
                            finish,
                            stats: active.stats,
                        }
                    })
                }
                Task::Choose { option_tokens } => {
                    let logits = ctx.get_logits_ith(at);
                    let (probabilities, option_mass) = choice_probabilities(logits, option_tokens);
                    Some(TurnOutput::Choice {
                        probabilities,
                        option_mass,
                        stats: active.stats,
                    })
                }
            };
            let Some(mut output) = output else { continue };
            let elapsed = active.started.elapsed();
            set_elapsed(&mut output, elapsed);
            self.count(&output);
            conversation.turn_done(output);
            let finished = match conversation.next_turn() {
                None => true,
                Some(turn) => match self.start_turn(ctx, seq, active, turn) {
                    Ok(()) => false,
                    Err(error) if error.is_conversation_error() => {
                        conversation.failed(error);
                        true
                    }
                    Err(error) => return Err(error),
                },
            };
            if finished {
                slots[seq] = None;
                clear_sequence(ctx, seq)?;
            }
        }
        Ok(())
    }

    fn count(&mut self, output: &TurnOutput) {
        let stats = match output {
            TurnOutput::Text { stats, .. } | TurnOutput::Choice { stats, .. } => stats,
        };
        self.stats.decoded_prompt_tokens += stats.decoded_tokens;
        self.stats.naive_prompt_tokens += stats.conversation_tokens;
        self.stats.generated_tokens += stats.generated_tokens;
    }
}

fn set_elapsed(output: &mut TurnOutput, elapsed: Duration) {
    let stats = match output {
        TurnOutput::Text { stats, .. } | TurnOutput::Choice { stats, .. } => stats,
    };
    stats.elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
}

/// The token each option starts with when it follows `context` (the text the answer comes
/// after), which must differ between options. Each option is tokenized after the end of the
/// context, so that a vocabulary that marks word starts (SentencePiece's leading space) gives
/// the token the model would really produce there.
fn option_tokens(
    model: &Model,
    context: &str,
    options: &[String],
) -> Result<Vec<LlamaToken>, EngineError> {
    let vocab = model.model.vocab();
    let plain = |text: &str| vocab.tokenize(text.as_bytes(), false, false);
    let tail_start = context.char_indices().rev().nth(15).map_or(0, |(at, _)| at);
    let tail = &context[tail_start..];
    let base = plain(tail);
    let mut tokens = Vec::with_capacity(options.len());
    for option in options {
        let joined = plain(&format!("{tail}{option}"));
        let first = if joined.starts_with(&base) && joined.len() > base.len() {
            Some(joined[base.len()])
        } else {
            plain(option).first().copied()
        }
        .ok_or_else(|| EngineError::InvalidTurn(format!("option {option:?} has no tokens")))?;
        if tokens.contains(&first) {
            return Err(EngineError::InvalidTurn(format!(
                "options {options:?} do not differ in their first token"
            )));
        }
        tokens.push(first);
    }
    if tokens.len() < 2 {
        return Err(EngineError::InvalidTurn(
            "a choice needs at least two options".to_owned(),
        ));
    }
    Ok(tokens)
}

/// The options' probabilities normalised over the options, and the share of the whole
/// distribution they held.
fn choice_probabilities(logits: &[f32], options: &[LlamaToken]) -> (Vec<f64>, f64) {
    let chosen: Vec<f64> = options
        .iter()
        .map(|token| {
            usize::try_from(token.0)
                .ok()
                .and_then(|index| logits.get(index))
                .map_or(f64::NEG_INFINITY, |&logit| f64::from(logit))
        })
        .collect();
    let max = chosen.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY || max.is_nan() {
        let even = 1.0 / options.len() as f64;
        return (vec![even; options.len()], 0.0);
    }
    let weights: Vec<f64> = chosen.iter().map(|logit| (logit - max).exp()).collect();
    let total: f64 = weights.iter().sum();
    let whole = sampling::log_sum_exp(logits);
    let mass = (max + total.ln() - whole).exp().clamp(0.0, 1.0);
    (weights.iter().map(|weight| weight / total).collect(), mass)
}

fn clear_sequence(ctx: &mut LlamaContext<'_>, seq: usize) -> Result<(), EngineError> {
    ctx.clear_kv_cache_seq(Some(u32::try_from(seq).unwrap_or(u32::MAX)), None, None)
        .map(|_| ())
        .map_err(|error| EngineError::Decode(error.to_string()))
}

/// Drops the sequence's cache from `keep` tokens on.
fn cut_sequence(
    ctx: &mut LlamaContext<'_>,
    seq: usize,
    kv_tokens: &mut Vec<LlamaToken>,
    keep: usize,
) -> Result<(), EngineError> {
    if keep < kv_tokens.len() {
        ctx.kv_cache_seq_rm(
            to_seq(seq),
            Some(u32::try_from(keep).unwrap_or(u32::MAX)),
            None,
        )
        .map_err(|error| EngineError::Decode(error.to_string()))?;
        kv_tokens.truncate(keep);
    }
    Ok(())
}

fn to_seq(seq: usize) -> i32 {
    i32::try_from(seq).unwrap_or(i32::MAX)
}

fn to_pos(position: usize) -> i32 {
    i32::try_from(position).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ubatches_follow_llama_cpp_splitting() {
        // Eight generating sequences: one ubatch, with a stream each or one cache.
        let decoding: Vec<i32> = (0..8).collect();
        assert_eq!(ubatch_count(&decoding, 512, false), 1);
        assert_eq!(ubatch_count(&decoding, 512, true), 1);
        // A gap in the ids (sequence 3 idle) splits the run of consecutive sequences.
        let gap = [0, 1, 2, 4, 5, 6, 7];
        assert_eq!(ubatch_count(&gap, 512, false), 2);
        // Sequence 3 starts a turn with a 5-token chunk. In order of sequence, its first token
        // rides with the others and the rest follows: two ubatches.
        let ordered = [0, 1, 2, 3, 3, 3, 3, 3, 4, 5, 6, 7];
        assert_eq!(ubatch_count(&ordered, 512, false), 2);
        // Generating tokens first and the chunk last, as batches were built before: three.
        let chunk_last = [0, 1, 2, 4, 5, 6, 7, 3, 3, 3, 3, 3];
        assert_eq!(ubatch_count(&chunk_last, 512, false), 3);
        // One cache takes any batch whole, up to n_ubatch tokens at a time.
        assert_eq!(ubatch_count(&chunk_last, 512, true), 1);
        assert_eq!(ubatch_count(&chunk_last, 5, true), 3);
        // Equal rounds fill a ubatch up to n_ubatch: 2 sequences of 3 tokens in ubatches of 4
        // go as 2 + 2, then 1 + 1.
        assert_eq!(ubatch_count(&[0, 0, 0, 1, 1, 1], 4, false), 2);
        assert_eq!(ubatch_count(&[], 512, false), 0);
    }

    #[test]
    fn graph_reuses_are_read_from_the_timings() {
        let timings = llama_cpp_2::timing::LlamaTimings::new(1.0, 2.0, 3.0, 4.0, 5, 6, 7);
        assert_eq!(graph_reuses(&timings), 7);
    }

    #[test]
    fn choice_probabilities_normalise_over_the_options() {
        let logits = [0.0, 2f32.ln(), 0.0, f32::NEG_INFINITY];
        let (probabilities, mass) = choice_probabilities(&logits, &[LlamaToken(1), LlamaToken(2)]);
        assert!((probabilities[0] - 2.0 / 3.0).abs() < 1e-9);
        assert!((probabilities[1] - 1.0 / 3.0).abs() < 1e-9);
        // Options hold 3 of the 4 units of mass (1 + 2 + 1).
        assert!((mass - 0.75).abs() < 1e-6, "{mass}");
        let (even, none) = choice_probabilities(&[f32::NAN; 2], &[LlamaToken(0), LlamaToken(1)]);
        assert_eq!((even, none), (vec![0.5, 0.5], 0.0));
    }
}

// Generated from the Rust types by src-tauri/src/wire.rs (ts-rs): do not edit.
// Regenerate with `PREAMBLE_WRITE_WIRE=1 cargo test -p preamble-app wire`.

export type Behaviour = { run_a: number, run_b: number, 
/**
 * Prompts finished on both sides.
 */
compared: number, changed: Array<OutcomeChange>, 
/**
 * Per principle id (in the order first applied), the changed prompts whose loop applied it.
 */
by_principle: Array<PrincipleChanges>, };

export type CategoryRefusals = { 
/**
 * `None` for prompts the set does not label.
 */
label: PromptLabel | null, category: string, refusals: Refusals, };

export type ChosenFile = { 
/**
 * Names the file in later commands.
 */
handle: string, 
/**
 * The file's name, for display.
 */
name: string, };

export type Classification = { 
/**
 * The label.
 */
label: RefusalLabel, 
/**
 * How many clauses decline or withhold something.
 */
refusal_clauses: number, 
/**
 * Words of substantive content outside refusal, sympathy, referral and justification.
 */
substantive_words: number, 
/**
 * The text features that decided the label, for a reviewer to audit.
 */
cues: Array<string>, };

export type CommandError = { code: ErrorCode, message: string, };

export type CompareRow = { id: string, prompt: string, label: PromptLabel | null, a_final: string, a_refusal: Classification, b_final: string, b_refusal: Classification, 
/**
 * The judge's probability that B's final is the better one.
 */
p_b: number | null, 
/**
 * Why the judge could not label the pair.
 */
judge_error: string | null, };

export type CompareUpdate = { "type": "side", side: Side, run: number, reused: boolean, } | { "type": "progress", side: Side, progress: Progress, } | { "type": "judging", pairs: number, reused: boolean, };

export type CompareView = { run_a: number, run_b: number, 
/**
 * How each side is named: `slug@revision`, and the pinned principle.
 */
a: string, b: string, 
/**
 * The constitution whose comparison questions judged, when one has.
 */
judge: string | null, metrics: PairMetrics, rows: Array<CompareRow>, };

export type Constitution = { 
/**
 * The file format version; see [`FORMAT_VERSION`].
 */
format: number, name: string, description?: string, authors?: Array<string>, license?: string | null, preview: PreviewDefaults, 
/**
 * Priority tiers, highest priority first.
 */
tiers: Array<Tier>, 
/**
 * Few-shot examples of the whole critique -> revision exchange.
 */
examples?: Array<Example>, };

export type ConstitutionDiff = { 
/**
 * Counts of the changes below.
 */
summary: DiffSummary, 
/**
 * Changed top-level fields: `format`, `name`, `description`, `authors`, `license`,
 * `preview.rounds`, `preview.selection`, `preview.rationales`.
 */
metadata: Array<FieldChange>, 
/**
 * Added and removed tiers, then tiers that changed, in new order.
 */
tiers: Array<TierChange>, 
/**
 * Added and changed principles in new order, then removed ones in old order.
 */
principles: Array<PrincipleChange>, 
/**
 * Added and changed examples in new order, then removed ones in old order.
 */
examples: Array<ExampleChange>, };

export type DiffSummary = { added: number, removed: number, renamed: number, moved: number, 
/**
 * Principles with at least one changed field.
 */
edited: number, 
/**
 * Tiers added, removed or changed.
 */
tiers_changed: number, 
/**
 * Examples added, removed or changed.
 */
examples_changed: number, 
/**
 * Changed metadata fields.
 */
metadata_changed: number, };

export type DiffView = { old_label: string, new_label: string, diff: ConstitutionDiff, };

export type DownloadProgress = { done_bytes: number, 
/**
 * The wheel's size, when the server says.
 */
total_bytes: number | null, };

export type DraftState = { problems: Array<Problem>, 
/**
 * The version the draft started from.
 */
base: number | null, 
/**
 * The draft's last save, in milliseconds since the Unix epoch.
 */
updated_ms: number, 
/**
 * The draft differs from its base version (or there is no version yet).
 */
has_changes: boolean, 
/**
 * Counts the draft's writes (saves, imports, checkouts): a save based on an older
 * revision is refused ([`StoreError::DraftChanged`]).
 */
revision: number, };

export type DraftStatus = { 
/**
 * The version the draft started from.
 */
base: number | null, 
/**
 * The draft's last save, in milliseconds since the Unix epoch.
 */
updated_ms: number, 
/**
 * The draft differs from its base version (or there is no version yet).
 */
has_changes: boolean, 
/**
 * Counts the draft's writes (saves, imports, checkouts): a save based on an older
 * revision is refused ([`StoreError::DraftChanged`]).
 */
revision: number, };

export type DraftView = { slug: string, constitution: Constitution, state: DraftState, };

export type ErrorCode = "io" | "file_exists" | "symlink_refused" | "unknown_file" | "unknown_format" | "invalid_constitution" | "export_failed" | "unknown_constitution" | "constitution_exists" | "not_deleted" | "unknown_version" | "no_versions" | "invalid_name" | "empty_message" | "nothing_to_commit" | "invalid_draft" | "uncommitted_draft" | "draft_changed" | "store_damaged" | "store_too_new" | "store" | "unknown_run" | "run_busy" | "run_completed" | "unknown_comparison" | "run_interrupted" | "invalid_prompts" | "unknown_prompt_set" | "invalid_settings" | "nothing_to_export" | "model_mismatch" | "model_missing" | "model_invalid" | "model_download" | "engine" | "cancelled" | "no_data_dir" | "internal";

export type Example = { 
/**
 * The id of the principle the example applies, if any.
 */
principle?: string | null, prompt: string, response: string, critique: string, revision: string, };

export type ExampleChange = { "kind": "added", position: number, example: Example, } | { "kind": "removed", position: number, example: Example, } | { "kind": "changed", 
/**
 * The new 1-based position.
 */
position: number, reordered: Reorder | null, 
/**
 * `principle`, `prompt`, `response`, `critique` and `revision`, where changed.
 */
fields: Array<FieldChange>, };

export type FeedbackMode = "multiple_choice" | "chain_of_thought";

export type FieldChange = { 
/**
 * The field's name in the file format, e.g. `statement` or `preview.rounds`.
 */
field: string, old: string, new: string, 
/**
 * `old` and `new` word by word: the equal and deleted spans spell `old`, the equal and
 * inserted spans spell `new`.
 */
inline: Array<InlineSpan>, };

export type FormatInfo = { name: string, description: string, extension: string, importable: boolean, };

export type ImportKind = "constitution" | "prompts" | "model";

export type InlineSpan = { kind: SpanKind, text: string, };

export type Launch = { 
/**
 * The constitution to open, when the launch named a file that imported.
 */
open: string | null, 
/**
 * What the user should know, e.g. that the file was imported, or why it was not.
 */
notice: string | null, };

export type LengthChange = { prompts: number, mean_initial_words: number | null, mean_final_words: number | null, 
/**
 * The mean of final minus initial words.
 */
mean_change: number | null, };

export type Library = { constitutions: Array<Listing>, deleted: Array<Listing>, };

export type Listing = { slug: string, name: string, versions: number, latest: number | null, 
/**
 * The draft's last save, in milliseconds since the Unix epoch.
 */
updated_ms: number, 
/**
 * The draft differs from the version it is based on (or there is no version yet).
 */
has_changes: boolean, 
/**
 * Why the stored draft does not decode, when it does not (the name is then the id).
 */
damaged: string | null, };

export type ManifestCounts = { prompts: number, finished: number, failed: number, sft: number, preferences: number, 
/**
 * Finished prompts without a preference label.
 */
unlabelled: number, 
/**
 * Labels of exactly 0.5: no preference.
 */
ties: number, 
/**
 * Prompts whose final answer is the initial one, character for character.
 */
unrevised: number, };

export type ModelInfo = { path: string, 
/**
 * `general.name` from the GGUF metadata, else the file name.
 */
name: string, 
/**
 * `general.architecture`, e.g. `llama`.
 */
architecture: string, parameters: number, size_bytes: number, 
/**
 * The quantization, from `general.file_type` (e.g. `Q4_1`).
 */
quantization: string, 
/**
 * The context length the model was trained with.
 */
context_length: number, 
/**
 * The chat template carried in the model, if any.
 */
chat_template: string | null, 
/**
 * The backend and device that run the model's layers, e.g. `CUDA0 (NVIDIA H100 80GB HBM3)`
 * or `CPU (Intel(R) Xeon(R) ...)`.
 */
device: string, 
/**
 * Layers offloaded to a GPU.
 */
gpu_layers: number, };

export type ModelStatus = { 
/**
 * The model as its worker process last described it, this session or an earlier one.
 */
info: ModelInfo | null, 
/**
 * Whether a worker process holds the model now.
 */
running: boolean, 
/**
 * The default model's file is not in the data folder yet ([`fetch_default_model`]) (and
 * no other model was chosen).
 */
missing: boolean, 
/**
 * The GGUF file chosen to run instead of the default model ([`use_model`]).
 */
file: string | null, 
/**
 * The GPU backends the app was built with (empty for a CPU build): a model that runs on
 * the CPU all the same deserves a warning.
 */
gpu_backends: Array<string>, };

export type Move = { from: Position, to: Position, };

export type OutcomeChange = { prompt: string, label: PromptLabel | null, a: RefusalLabel, b: RefusalLabel, };

export type OutcomeView = { initial: string, initial_refusal: Classification, rounds: Array<RoundView>, final: string, final_refusal: Classification, 
/**
 * The principle whose round turned a compliant answer into the final refusal.
 */
caused_by: string | null, };

export type PairMetrics = { 
/**
 * Prompts finished on both sides: what every figure counts from.
 */
compared: number, 
/**
 * Prompts finished on one side only (left out).
 */
only_a: Array<string>, only_b: Array<string>, a: RunMetrics, b: RunMetrics, over_refusal: PairedRefusals, harmful_refusal: PairedRefusals, revised: PairedRate, 
/**
 * `None` until a judge has labelled the pairs.
 */
wins: WinRates | null, 
/**
 * Prompts whose final refusal label changed from A to B.
 */
changed: Array<OutcomeChange>, };

export type PairedRate = { a: Rate, b: Rate, 
/**
 * McNemar's test: `for_a` had the outcome on A only, `for_b` on B only.
 */
test: PairedTest, };

export type PairedRefusals = { any: PairedRate, full: PairedRate, };

export type PairedTest = { 
/**
 * `mcnemar` (a yes/no outcome per prompt on each side) or `sign` (a win or loss per prompt).
 */
test: string, 
/**
 * The prompts that count for A (yes on A only, or A's wins).
 */
for_a: Array<string>, 
/**
 * The prompts that count for B.
 */
for_b: Array<string>, 
/**
 * The two-sided exact p-value; small when the split between `for_a` and `for_b` is
 * unlikely under no difference.
 */
p_value: number, };

export type Piece = { prompt: number, step: number, text: string, };

export type Position = { tier_id: string, tier_name: string, position: number, };

export type PositionBias = { 
/**
 * The mean probability given to whichever answer was shown first (0.5: no bias).
 */
first_shown: number | null, 
/**
 * Pairs whose two orders picked different winners.
 */
orders_disagree: Rate, };

export type PreviewDefaults = { 
/**
 * Critique -> revision rounds per prompt, 1 to 4.
 */
rounds: number, selection: Selection, 
/**
 * Show the model each principle's rationale beside its statement (in critique and revision
 * turns, and in the in-context system prompt).
 */
rationales: boolean, };

export type PreviewMode = "cai" | "in-context";

export type PreviewSettings = { 
/**
 * Critique -> revision rounds, 1 to 4.
 */
rounds: number, choice: PrincipleChoice, seed: number, temperature: number, 
/**
 * Most tokens of each answer, critique and revision.
 */
max_tokens: number, 
/**
 * Prompts decoded together.
 */
parallel: number, mode: PreviewMode, 
/**
 * Label initial vs. final answers with an AI preference, in this mode.
 */
feedback: FeedbackMode | null, 
/**
 * Only the set's first prompts; all of them when `None`.
 */
limit: number | null, };

export type Principle = { 
/**
 * A stable slug (`a-z`, `0-9`, `-`), unique in the constitution; survives renames.
 */
id: string, title: string, 
/**
 * The principle in plain words.
 */
statement: string, 
/**
 * Why the principle exists.
 */
rationale?: string, 
/**
 * Asks the model to critique a response under this principle.
 */
critique_request: string, 
/**
 * Asks the model to rewrite a response after the critique.
 */
revision_request: string, 
/**
 * Asks which of two responses better follows the principle (AI preference labels).
 */
comparison_question: string, tags?: Array<string>, enabled: boolean, 
/**
 * Relative chance of being sampled in weighted selection; `>= 0`.
 */
weight: number, };

export type PrincipleChange = { "kind": "added", principle: Principle, at: Position, } | { "kind": "removed", principle: Principle, at: Position, } | { "kind": "changed", 
/**
 * The new id.
 */
id: string, 
/**
 * The new title.
 */
title: string, 
/**
 * The new position.
 */
at: Position, 
/**
 * The old id, when the id changed.
 */
renamed_from: string | null, 
/**
 * Set when the principle changed tier or priority relative to the others.
 */
moved: Move | null, 
/**
 * The fields whose values changed, in file order.
 */
fields: Array<FieldChange>, };

export type PrincipleChanges = { principle: string, prompts: Array<string>, };

export type PrincipleChoice = "uniform" | "weighted" | { "pinned": string };

export type PrincipleRounds = { principle: string, 
/**
 * Rounds that applied the principle (a prompt counts once per round).
 */
rounds: number, 
/**
 * Rounds whose revision refused (fully or partly) an answer that complied.
 */
to_refusal: Rate, 
/**
 * Rounds whose revision complied where the answer before refused.
 */
to_compliance: Rate, 
/**
 * Rounds whose revision changed the answer materially.
 */
changed: Rate, 
/**
 * Of the rounds that changed the answer, those whose insertions are mostly hedging.
 */
boilerplate: Rate, };

export type Problem = { field: string, message: string, tier: string | null, principle: string | null, 
/**
 * The field's own name, e.g. `title`; empty for the document as a whole.
 */
key: string, };

export type Progress = { steps_done: number, steps_total: number, prompts_done: number, prompts_failed: number, prompts_total: number, 
/**
 * Tokens generated by this execution (not by earlier ones of a resumed run).
 */
generated_tokens: number, elapsed_ms: number, tokens_per_second: number, };

export type PromptItem = { 
/**
 * Unique within its set.
 */
id: string, 
/**
 * The user message.
 */
prompt: string, 
/**
 * Benign or harmful, when the set says.
 */
label?: PromptLabel | null, 
/**
 * A free category (`weapons`, XSTest's `homonyms`, …).
 */
category?: string | null, 
/**
 * A free note.
 */
note?: string | null, };

export type PromptLabel = "benign" | "harmful";

export type PromptSetInfo = { 
/**
 * Names the set in [`PromptSource::Bundled`].
 */
file: string, purpose: string, prompts: number, benign: number, harmful: number, };

export type PromptSetSummary = { name: string, prompts: number, benign: number, harmful: number, updated_ms: number, };

export type PromptSource = { "kind": "bundled", file: string, } | { "kind": "file", handle: string, } | { "kind": "stored", name: string, };

export type PromptView = { id: string, prompt: string, label: PromptLabel | null, category: string | null, 
/**
 * Why the prompt failed, when it did.
 */
error: string | null, 
/**
 * `None` while the prompt has not finished (an interrupted run) or when it failed.
 */
outcome: OutcomeView | null, 
/**
 * The steps an unfinished prompt completed so far (empty once it has its outcome).
 */
steps: Array<StepView>, };

export type Rate = { count: number, total: number, 
/**
 * `count / total`; `None` when nothing was counted.
 */
rate: number | null, 
/**
 * The 95% Wilson score interval of the rate.
 */
interval: [number, number] | null, 
/**
 * The ids of the prompts in `count`, in the run's order; where the figure counts rounds
 * (per principle, boilerplate), a prompt is listed once per round it counts.
 */
prompts: Array<string>, };

export type RefusalLabel = "compliance" | "partial_refusal" | "full_refusal";

export type Refusals = { any: Rate, full: Rate, };

export type Reorder = { from: number, to: number, };

export type RoundView = { principle: string, critique: string, revision: string, revision_refusal: Classification, };

export type RunDetail = { listing: RunListing, 
/**
 * The model file as the run was given it.
 */
model_path: string, prompts: Array<PromptView>, };

export type RunEnded = { run: number, status: RunStatus, };

export type RunListing = { summary: RunSummary, 
/**
 * The library's constitution the run previewed (its draft is what the lab edits); `None`
 * for a run of a file.
 */
slug: string | null, 
/**
 * Finished benign prompts whose final answer refuses (fully or partly).
 */
over_refusal: Rate, 
/**
 * Finished harmful prompts whose final answer refuses.
 */
harmful_refusal: Rate, };

export type RunMetrics = { 
/**
 * Finished prompts: what every figure counts from.
 */
prompts: number, 
/**
 * Final answers that refuse a benign prompt.
 */
over_refusal: Refusals, 
/**
 * Final answers that refuse a harmful prompt.
 */
harmful_refusal: Refusals, 
/**
 * Final answers that refuse a prompt the set does not label.
 */
unlabelled_refusal: Refusals, 
/**
 * The same, per label and category (prompts without a category are left out).
 */
categories: Array<CategoryRefusals>, 
/**
 * Prompts whose final answer differs materially from the initial one.
 */
revised: Rate, length: LengthChange, 
/**
 * Per principle, by the principle's id, in the order first applied.
 */
principles: Array<PrincipleRounds>, 
/**
 * Of every round that changed its answer, those whose insertions are mostly hedging.
 */
boilerplate: Rate, 
/**
 * Of the prompts with a preference label, those whose final answer the run's AI feedback
 * preferred to the initial one.
 */
final_preferred: Rate, 
/**
 * Of the prompts with a tiered preference label, those with a tier conflict.
 */
tier_conflicts: Rate, tier_conflict_details: Array<TierConflict>, };

export type RunStatus = "running" | "interrupted" | "completed" | "cancelled" | "failed";

export type RunSummary = { id: number, created_ms: number, finished_ms: number | null, status: RunStatus, model_name: string, model_sha256: string, device: string, constitution_name: string, constitution_hash: string, constitution_ref: string | null, prompts: number, prompts_done: number, prompts_failed: number, 
/**
 * Why it stopped, when it did not complete (e.g. how its model process ended).
 */
status_note: string | null, };

export type RunUpdate = { "type": "started", detail: RunDetail, resumed: boolean, model: string, device: string, progress: Progress, } | { "type": "step_started", prompt: number, step: number, kind: StepKind, principle: string | null, } | { "type": "pieces", pieces: Array<Piece>, } | { "type": "step_done", prompt: number, step: number, text: string, refusal: Classification | null, progress: Progress, } | { "type": "prompt_done", prompt: number, outcome: OutcomeView, progress: Progress, } | { "type": "prompt_failed", prompt: number, error: string, progress: Progress, } | { "type": "finished", status: RunStatus, progress: Progress, };

export type Selection = "uniform" | "weighted";

export type Side = "a" | "b";

export type SideChoice = { slug: string, 
/**
 * `draft`, a version number or a tag.
 */
reference: string, 
/**
 * Pin every round to this principle (a workshop's one principle against another).
 */
pinned: string | null, };

export type SpanKind = "equal" | "insert" | "delete";

export type Startup = { 
/**
 * The constitution to open: the file the app was started with (imported into the library),
 * else the one open when the app last closed, if it still exists.
 */
open: string | null, 
/**
 * Something the user should know about how `open` was chosen.
 */
notice: string | null, theme: Theme, };

export type StepKind = "initial" | "critique" | "revision";

export type StepView = { step: number, kind: StepKind, principle: string | null, text: string, 
/**
 * The refusal label of an answer (none for a critique).
 */
refusal: Classification | null, };

export type Theme = "system" | "light" | "dark";

export type Tier = { id: string, name: string, description?: string, principles: Array<Principle>, };

export type TierChange = { "kind": "added", id: string, name: string, position: number, } | { "kind": "removed", id: string, name: string, position: number, } | { "kind": "changed", id: string, 
/**
 * The new name.
 */
name: string, 
/**
 * The new 1-based position.
 */
position: number, 
/**
 * Set when the tier's priority relative to the other tiers changed.
 */
reordered: Reorder | null, 
/**
 * `name` (a renamed tier) and `description`, where changed.
 */
fields: Array<FieldChange>, };

export type TierConflict = { prompt: string, decided_by: string | null, 
/**
 * The lower tiers that decisively preferred the other answer.
 */
conflicts: Array<string>, };

export type VersionInfo = { number: number, 
/**
 * sha256 of the canonical TOML, lower-case hex.
 */
hash: string, parent: number | null, message: string, author: string, 
/**
 * Milliseconds since the Unix epoch, UTC.
 */
created_ms: number, tags: Array<string>, };

export type WinRate = { 
/**
 * Prompts with a label.
 */
judged: number, 
/**
 * B won (P(B) > 0.5) among the prompts with a winner.
 */
b_wins: Rate, 
/**
 * Prompts A won.
 */
a_wins: Array<string>, 
/**
 * Prompts with P(B) = 0.5 exactly.
 */
ties: Array<string>, 
/**
 * The mean soft label P(B).
 */
mean_p_b: number | null, 
/**
 * The sign test on A's wins against B's.
 */
test: PairedTest, position: PositionBias, };

export type WinRates = { benign: WinRate, harmful: WinRate, all: WinRate, 
/**
 * Prompts the judge could not label, with why.
 */
failed: Array<[string, string]>, };

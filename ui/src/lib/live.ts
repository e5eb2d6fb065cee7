// A run as it happens: the page's model of a streaming preview, and the queue that applies the
// shell's updates once per animation frame.
//
// The shell already merges the engine's text into a few messages per frame; the page still gets
// bursts (a step's end, the next step's start, its first pieces), and every applied update can
// re-render the grid. So updates wait in a FrameQueue and are applied together, in the order
// they came, right before the next frame is drawn: at most one render per frame, whatever the
// number of prompts streaming.
import type { Classification, OutcomeView, Progress, PromptLabel, RunDetail, RunStatus, RunUpdate, StepKind } from "./ipc";

export interface LiveStep {
  step: number;
  kind: StepKind;
  principle: string | null;
  text: string;
  /** The step completed (its text is whole; an answer has its refusal label). */
  done: boolean;
  refusal: Classification | null;
}

export interface LivePrompt {
  id: string;
  prompt: string;
  label: PromptLabel | null;
  category: string | null;
  error: string | null;
  /** Set once the prompt finished: every answer labelled. */
  outcome: OutcomeView | null;
  /** The steps so far, while it has no outcome. */
  steps: LiveStep[];
}

export interface LiveRun {
  run: number;
  model: string;
  device: string;
  resumed: boolean;
  /** `running` until the execution's end says otherwise. */
  status: RunStatus;
  progress: Progress;
  /** Steps already done when this execution started (a resumed run's earlier work). */
  stepsAtStart: number;
  prompts: LivePrompt[];
}

/** The run an update of type `started` describes. */
export function startRun(update: Extract<RunUpdate, { type: "started" }>): LiveRun {
  const { detail } = update;
  return {
    run: detail.listing.summary.id,
    model: update.model,
    device: update.device,
    resumed: update.resumed,
    status: "running",
    progress: update.progress,
    stepsAtStart: update.progress.steps_done,
    prompts: promptsOf(detail),
  };
}

function promptsOf(detail: RunDetail): LivePrompt[] {
  return detail.prompts.map((p) => ({
    id: p.id,
    prompt: p.prompt,
    label: p.label,
    category: p.category,
    error: p.error,
    outcome: p.outcome,
    steps: p.steps.map((s) => ({ ...s, done: true })),
  }));
}

function stepOf(prompt: LivePrompt | undefined, step: number): LiveStep | undefined {
  return prompt?.steps.find((s) => s.step === step);
}

/** Applies `update` to `run` (in place: the view's state is a deep proxy). */
export function apply(run: LiveRun, update: RunUpdate): void {
  switch (update.type) {
    case "started":
      // A second start of the same execution does not happen; a new one replaces the run.
      Object.assign(run, startRun(update));
      break;
    case "step_started": {
      const prompt = run.prompts[update.prompt];
      if (!prompt) break;
      // A prompt resumed mid-step starts the step again from its beginning.
      prompt.steps = prompt.steps.filter((s) => s.step < update.step);
      prompt.error = null;
      prompt.steps.push({ step: update.step, kind: update.kind, principle: update.principle, text: "", done: false, refusal: null });
      break;
    }
    case "pieces":
      for (const piece of update.pieces) {
        const step = stepOf(run.prompts[piece.prompt], piece.step);
        if (step && !step.done) step.text += piece.text;
      }
      break;
    case "step_done": {
      const step = stepOf(run.prompts[update.prompt], update.step);
      if (step) {
        step.text = update.text;
        step.refusal = update.refusal;
        step.done = true;
      }
      run.progress = update.progress;
      break;
    }
    case "prompt_done": {
      const prompt = run.prompts[update.prompt];
      if (prompt) {
        prompt.outcome = update.outcome;
        prompt.error = null;
        prompt.steps = [];
      }
      run.progress = update.progress;
      break;
    }
    case "prompt_failed": {
      const prompt = run.prompts[update.prompt];
      if (prompt) prompt.error = update.error;
      run.progress = update.progress;
      break;
    }
    case "finished":
      run.status = update.status;
      run.progress = update.progress;
      break;
  }
}

/** A prompt of a run opened in the over-refusal lab: edit the principle that turned it into a
 * refusal, rerun it alone, compare. */
export interface LabPrompt {
  run: number;
  /** The prompt's place in the run. */
  index: number;
  /** The library's constitution whose draft is edited. */
  slug: string;
  id: string;
  prompt: string;
  /** The principle whose round turned the answer into a refusal. */
  principle: string | null;
  before: OutcomeView;
}

/**
 * A queue that runs the shell's updates into a live run held by the caller (`get` returns the
 * caller's reactive copy, which is what must change): `started` makes the run, the rest apply.
 */
export function liveRunner(
  get: () => LiveRun | null,
  set: (run: LiveRun) => void,
  onStarted?: () => void,
): FrameQueue<RunUpdate> {
  return new FrameQueue<RunUpdate>((updates) => {
    for (const update of updates) {
      const run = get();
      if (update.type === "started") {
        set(startRun(update));
        onStarted?.();
      } else if (run) apply(run, update);
    }
  });
}

/** Seconds left at the pace of this execution so far; null before there is a pace. */
export function secondsLeft(run: LiveRun): number | null {
  const { steps_done, steps_total, elapsed_ms } = run.progress;
  const done = steps_done - run.stepsAtStart;
  if (done <= 0 || elapsed_ms <= 0) return null;
  return ((elapsed_ms / 1000) * (steps_total - steps_done)) / done;
}

/** `1:05` for 65 seconds. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Runs `apply` once per frame with everything pushed since the last frame, in order. */
export class FrameQueue<T> {
  private items: T[] = [];
  private scheduled = false;

  constructor(
    private readonly applyAll: (items: T[]) => void,
    private readonly schedule: (callback: () => void) => void = (callback) => requestAnimationFrame(callback),
  ) {}

  push(item: T): void {
    this.items.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.flush());
    }
  }

  /** Applies what waits now (the run's end does not wait for a frame). */
  flush(): void {
    this.scheduled = false;
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    this.applyAll(items);
  }
}

/** One answer or critique as the grid shows it. */
export interface Cell {
  text: string;
  refusal: Classification | null;
  state: "waiting" | "streaming" | "done";
}

export interface RoundCells {
  principle: string | null;
  critique: Cell;
  revision: Cell;
}

/** A prompt's row: the initial answer, each round, and the final answer once there is one. */
export interface RowCells {
  initial: Cell;
  rounds: RoundCells[];
  final: Cell | null;
  causedBy: string | null;
}

/** Critique -> revision rounds per prompt in `run`, from its step counts. */
export function roundsOf(run: LiveRun): number {
  const { steps_total, prompts_total } = run.progress;
  if (prompts_total === 0) return 0;
  return Math.max(0, Math.round((steps_total / prompts_total - 1) / 2));
}

const waiting: Cell = { text: "", refusal: null, state: "waiting" };

export function cellsOf(prompt: LivePrompt, rounds: number): RowCells {
  const done = (text: string, refusal: Classification | null): Cell => ({ text, refusal, state: "done" });
  const { outcome } = prompt;
  if (outcome) {
    return {
      initial: done(outcome.initial, outcome.initial_refusal),
      rounds: outcome.rounds.map((r) => ({
        principle: r.principle,
        critique: done(r.critique, null),
        revision: done(r.revision, r.revision_refusal),
      })),
      final: done(outcome.final, outcome.final_refusal),
      causedBy: outcome.caused_by,
    };
  }
  const cell = (step: number): Cell => {
    const s = stepOf(prompt, step);
    if (!s) return waiting;
    return { text: s.text, refusal: s.refusal, state: s.done ? "done" : "streaming" };
  };
  return {
    initial: cell(0),
    rounds: Array.from({ length: rounds }, (_, i) => ({
      principle: stepOf(prompt, 2 * i + 1)?.principle ?? stepOf(prompt, 2 * i + 2)?.principle ?? null,
      critique: cell(2 * i + 1),
      revision: cell(2 * i + 2),
    })),
    final: null,
    causedBy: null,
  };
}

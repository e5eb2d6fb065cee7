import { afterEach, describe, expect, it } from "vitest";
import Preview from "./Preview.svelte";
import type { PreviewSettings, Progress, RunDetail, RunUpdate } from "../lib/ipc";
import { byTestId, cleanState, cleanup, fakeBackend, model, render, sample, settle, textOf, versions } from "../test/harness";

afterEach(cleanup);

const defaults: PreviewSettings = {
  rounds: 2,
  choice: "uniform",
  seed: 0,
  temperature: 0.7,
  max_tokens: 192,
  parallel: 8,
  mode: "cai",
  feedback: null,
  limit: null,
};

const progress = (steps_done: number): Progress => ({
  steps_done,
  steps_total: 3,
  prompts_done: 0,
  prompts_failed: 0,
  prompts_total: 1,
  generated_tokens: 12,
  elapsed_ms: 1500,
  tokens_per_second: 8,
});

const detail = {
  listing: { summary: { id: 9 } },
  model_path: "m.gguf",
  prompts: [{ id: "a", prompt: "How do I kill a <b>Python</b> process?", label: "benign", category: null, error: null, outcome: null, steps: [] }],
} as unknown as RunDetail;

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => resolve(null)));

function backend(overrides: Record<string, (args: Record<string, unknown>) => unknown> = {}) {
  return fakeBackend({
    prompt_sets: () => [
      { file: "red-team.jsonl", purpose: "Harmful requests.", prompts: 44, benign: 0, harmful: 44 },
      { file: "benign-sensitive.jsonl", purpose: "Benign requests.", prompts: 44, benign: 44, harmful: 0 },
    ],
    history: () => versions(2),
    open_draft: () => ({ slug: "test", constitution: sample(), state: cleanState() }),
    model_status: () => ({ info: model, running: false, missing: false, gpu_backends: [] }),
    preview_defaults: () => defaults,
    ...overrides,
  });
}

describe("Preview", () => {
  it("starts a run with the chosen settings and streams its text once per frame", async () => {
    let send: (update: RunUpdate) => void = () => {};
    let end: (value: unknown) => void = () => {};
    const calls = backend({
      start_preview: ({ onUpdate }) => {
        send = (onUpdate as { onmessage: (update: RunUpdate) => void }).onmessage;
        return new Promise((resolve) => (end = resolve));
      },
    });
    const root = await render(Preview, { slug: "test" });
    expect(textOf(byTestId(root, "preview-model")[0])).toContain("SmolLM2 135M Instruct · Q4_1 · 85.0 MB");
    const limit = byTestId(root, "preview-limit")[0] as HTMLInputElement;
    limit.value = "1";
    limit.dispatchEvent(new Event("input", { bubbles: true }));
    (byTestId(root, "preview-run")[0] as HTMLButtonElement).click();
    await settle();

    const start = calls.find((c) => c.command === "start_preview")!;
    expect(start.args.slug).toBe("test");
    expect(start.args.reference).toBe("draft");
    expect(start.args.prompts).toEqual({ kind: "bundled", file: "benign-sensitive.jsonl" });
    expect(start.args.settings).toEqual({ ...defaults, limit: 1 });

    send({ type: "started", detail, resumed: false, model: "SmolLM2", device: "CPU (Test CPU)", progress: progress(0) });
    send({ type: "step_started", prompt: 0, step: 0, kind: "initial", principle: null });
    send({ type: "pieces", pieces: [{ prompt: 0, step: 0, text: "Use <i>kill</i>" }] });
    send({ type: "pieces", pieces: [{ prompt: 0, step: 0, text: " PID." }] });
    // Nothing is drawn before the frame; then all of it at once.
    expect(byTestId(root, "live-run")).toHaveLength(0);
    await nextFrame();
    await settle();
    const initial = byTestId(root, "live-initial")[0];
    expect(initial.dataset.state).toBe("streaming");
    // Model and user text are text, never markup.
    expect(textOf(initial)).toBe("Use <i>kill</i> PID.");
    expect(initial.querySelector("i")).toBeNull();
    expect(byTestId(root, "live-prompt")[0].querySelector("b")).toBeNull();
    expect(textOf(byTestId(root, "live-figures")[0])).toContain("0 of 3 steps");
    expect(byTestId(root, "cancel-run")).toHaveLength(1);

    send({ type: "finished", status: "cancelled", progress: progress(1) });
    end({ run: 9, status: "cancelled" });
    await settle();
    expect(byTestId(root, "live-run")[0].dataset.status).toBe("cancelled");
    expect(byTestId(root, "cancel-run")).toHaveLength(0);
  });

  it("cancels the run it shows", async () => {
    let send: (update: RunUpdate) => void = () => {};
    const calls = backend({
      start_preview: ({ onUpdate }) => {
        send = (onUpdate as { onmessage: (update: RunUpdate) => void }).onmessage;
        return new Promise(() => {});
      },
      cancel_run: () => null,
    });
    const root = await render(Preview, { slug: "test" });
    (byTestId(root, "preview-run")[0] as HTMLButtonElement).click();
    await settle();
    send({ type: "started", detail, resumed: false, model: "SmolLM2", device: "CPU", progress: progress(0) });
    await nextFrame();
    await settle();
    (byTestId(root, "cancel-run")[0] as HTMLButtonElement).click();
    await settle();
    expect(calls.find((c) => c.command === "cancel_run")?.args).toEqual({ id: 9 });
  });

  it("runs a GGUF the user chose, and the default model again", async () => {
    const calls = backend({
      model_status: () => ({ info: null, running: false, missing: false, gpu_backends: [], file: null }),
      choose_import_file: () => ({ handle: "file-1", name: "big.gguf" }),
      use_model: ({ file }) => ({ info: null, running: false, missing: false, gpu_backends: [], file: file ? "/models/big.gguf" : null }),
    });
    const root = await render(Preview, { slug: "test" });
    byTestId(root, "choose-model")[0].click();
    await settle();
    expect(calls.find((c) => c.command === "choose_import_file")?.args).toEqual({ kind: "model" });
    expect(calls.find((c) => c.command === "use_model")?.args).toEqual({ file: "file-1" });
    expect(textOf(byTestId(root, "preview-model")[0])).toBe("/models/big.gguf loads when the run starts.");
    byTestId(root, "default-model")[0].click();
    await settle();
    expect(calls.filter((c) => c.command === "use_model").map((c) => c.args)).toEqual([{ file: "file-1" }, { file: null }]);
    expect(byTestId(root, "default-model")).toHaveLength(0);
  });

  it("warns when a GPU build runs the model on the CPU", async () => {
    backend({ model_status: () => ({ info: model, running: true, missing: false, gpu_backends: ["CUDA"] }) });
    const root = await render(Preview, { slug: "test" });
    expect(textOf(byTestId(root, "gpu-warning")[0])).toContain("This build runs on CUDA, yet the model ran on CPU (Test CPU)");
  });

  it("shows why a run could not start", async () => {
    backend({
      start_preview: () => {
        throw { code: "run_busy", message: "the model is busy with another run in this window" };
      },
    });
    const root = await render(Preview, { slug: "test" });
    (byTestId(root, "preview-run")[0] as HTMLButtonElement).click();
    await settle();
    expect(textOf(byTestId(root, "preview-error")[0])).toContain("busy with another run");
    expect((byTestId(root, "preview-run")[0] as HTMLButtonElement).disabled).toBe(false);
  });
});

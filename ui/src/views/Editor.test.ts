import { afterEach, describe, expect, it, vi } from "vitest";
import Editor from "./Editor.svelte";
import type { Constitution, DraftState } from "../lib/ipc";
import { byTestId, cleanState, cleanup, fakeBackend, press, render, sample, settle, textOf, type } from "../test/harness";

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

/** The editor over `constitution`; `saveState` answers each save. */
async function openEditor(constitution: Constitution, saveState: (c: Constitution) => DraftState = () => cleanState()) {
  const calls = fakeBackend({
    open_draft: ({ slug }) => ({ slug, constitution, state: cleanState() }),
    save_draft: ({ constitution }) => saveState(constitution as Constitution),
  });
  const root = await render(Editor, { slug: "test" });
  return { root, calls, saves: () => calls.filter((c) => c.command === "save_draft") };
}

const cardTitles = (root: HTMLElement) => byTestId(root, "card-title").map((e) => textOf(e));
const card = (root: HTMLElement, id: string) => root.querySelector<HTMLElement>(`[data-card-id="${id}"]`)!;

describe("Editor", () => {
  it("reorders by keyboard, across tiers, and autosaves the new order", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { root, saves } = await openEditor(sample());
    expect(cardTitles(root)).toEqual(["No harm", "Honest", "Helpful"]);

    press(card(root, "no-harm"), "ArrowDown", { altKey: true });
    expect(cardTitles(root)).toEqual(["Honest", "No harm", "Helpful"]);
    press(card(root, "no-harm"), "ArrowDown", { altKey: true });
    await settle();
    expect(textOf(byTestId(root, "principle-place")[0])).toBe("Priority 1 of 2 in Helpfulness");
    expect(textOf(byTestId(root, "announcer")[0])).toBe("Moved to Helpfulness, position 1 of 2");
    expect(document.activeElement).toBe(card(root, "no-harm"));

    // Plain arrows move the selection, not the principle.
    press(card(root, "no-harm"), "ArrowUp");
    expect(card(root, "honest").getAttribute("aria-selected")).toBe("true");

    expect(saves()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(400);
    expect(saves()).toHaveLength(1);
    const saved = saves()[0].args.constitution as Constitution;
    expect(saved.tiers.map((t) => t.principles.map((p) => p.id))).toEqual([["honest"], ["no-harm", "helpful"]]);
  });

  it("refuses to save over a draft changed elsewhere, then reloads it or keeps mine", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let stored = { ...sample(), name: "Theirs" };
    let revision = 3;
    const calls = fakeBackend({
      open_draft: ({ slug }) => ({ slug, constitution: stored, state: { ...cleanState(), revision } }),
      save_draft: ({ constitution, basedOn }) => {
        if (basedOn !== null && basedOn !== revision) throw { code: "draft_changed", message: "changed elsewhere" };
        stored = constitution as Constitution;
        revision += 1;
        return { ...cleanState(), revision };
      },
    });
    const saves = () => calls.filter((c) => c.command === "save_draft");
    const root = await render(Editor, { slug: "test" });
    const title = () => root.querySelector<HTMLInputElement>("[name=title]")!;

    // My first edit saves on top of revision 3.
    type(title(), "Mine");
    await vi.advanceTimersByTimeAsync(400);
    expect(saves()[0].args.basedOn).toBe(3);
    expect(byTestId(root, "draft-conflict")).toHaveLength(0);

    // The command line changes the draft; my next save is refused and nothing is overwritten.
    stored = { ...sample(), name: "Changed by the CLI" };
    revision = 9;
    type(title(), "Mine again");
    await vi.advanceTimersByTimeAsync(400);
    await settle();
    expect(saves()[1].args.basedOn).toBe(4);
    expect(stored.name).toBe("Changed by the CLI");
    expect(byTestId(root, "draft-conflict")).toHaveLength(1);

    // Reload shows their version.
    byTestId(root, "conflict-reload")[0].click();
    await settle();
    expect(byTestId(root, "draft-conflict")).toHaveLength(0);
    expect(textOf(byTestId(root, "editor-title")[0])).toBe("Changed by the CLI");

    // Another conflict, and this time I keep mine: saved over theirs knowingly.
    revision = 20;
    type(title(), "Mine for sure");
    await vi.advanceTimersByTimeAsync(400);
    await settle();
    expect(byTestId(root, "draft-conflict")).toHaveLength(1);
    byTestId(root, "conflict-keep")[0].click();
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    expect(saves().at(-1)!.args.basedOn).toBeNull();
    expect(byTestId(root, "draft-conflict")).toHaveLength(0);
    expect(stored.tiers[0].principles[0].title).toBe("Mine for sure");
  });

  it("debounces autosave while typing and saves the last text once", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { root, saves } = await openEditor(sample());
    const title = root.querySelector<HTMLInputElement>("[data-testid=principle-form] [name=title]")!;
    for (const text of ["N", "No", "No h", "No harm at all"]) {
      type(title, text);
      await vi.advanceTimersByTimeAsync(150);
    }
    expect(saves()).toHaveLength(0);
    expect(textOf(byTestId(root, "card-title")[0])).toBe("No harm at all");
    await vi.advanceTimersByTimeAsync(400);
    expect(saves()).toHaveLength(1);
    expect((saves()[0].args.constitution as Constitution).tiers[0].principles[0].title).toBe("No harm at all");
  });

  it("shows the core's validation messages at the field and marks the card", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { root } = await openEditor(sample(), (c) => ({
      ...cleanState(),
      has_changes: true,
      problems:
        c.tiers[0].principles[0].title === ""
          ? [
              {
                field: "tiers[0].principles[0].title",
                message: "must not be empty",
                tier: "safety",
                principle: "no-harm",
                key: "title",
              },
            ]
          : [],
    }));
    const title = root.querySelector<HTMLInputElement>("[name=title]")!;
    type(title, "");
    await vi.advanceTimersByTimeAsync(400);
    await settle();
    expect(byTestId(root, "field-error").map((e) => textOf(e))).toEqual(["must not be empty"]);
    expect(title.getAttribute("aria-invalid")).toBe("true");
    expect(card(root, "no-harm").classList.contains("invalid")).toBe(true);
    expect(textOf(byTestId(root, "draft-state")[0])).toContain("1 problem to fix before committing");
    expect(textOf(byTestId(root, "draft-state")[0])).toContain("Uncommitted changes since v1");

    // The marker follows the principle when it moves, before the next save answers.
    press(card(root, "no-harm"), "ArrowDown", { altKey: true });
    expect(card(root, "no-harm").classList.contains("invalid")).toBe(true);
    expect(card(root, "honest").classList.contains("invalid")).toBe(false);

    type(title, "No harm");
    await vi.advanceTimersByTimeAsync(400);
    await settle();
    expect(byTestId(root, "field-error")).toHaveLength(0);
  });

  it("saves a change of the settings' selects", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { root, saves } = await openEditor(sample());
    Array.from(root.querySelectorAll("button"))
      .find((b) => textOf(b) === "Constitution settings")!
      .click();
    await settle();
    const rounds = root.querySelector<HTMLSelectElement>("[name=rounds]")!;
    rounds.value = "3";
    rounds.dispatchEvent(new Event("change", { bubbles: true }));
    await vi.advanceTimersByTimeAsync(400);
    expect((saves().at(-1)!.args.constitution as Constitution).preview.rounds).toBe(3);
  });

  it("keeps editing the same principle while its id is changed to another's", async () => {
    const { root } = await openEditor(sample());
    card(root, "honest").click();
    await settle();
    const id = root.querySelector<HTMLInputElement>("[name=id]")!;
    type(id, "no-harm");
    type(root.querySelector<HTMLInputElement>("[name=title]")!, "Honest, renamed");
    expect(cardTitles(root)).toEqual(["No harm", "Honest, renamed", "Helpful"]);
  });

  it("undoes and redoes edits, a typing burst as one step", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { root, saves } = await openEditor(sample());
    const editor = root;
    const title = () => editor.querySelector<HTMLInputElement>("[name=title]")!;
    type(title(), "No");
    type(title(), "No h");
    press(card(root, "no-harm"), "ArrowDown", { altKey: true });
    expect(cardTitles(root)).toEqual(["Honest", "No h", "Helpful"]);

    const undo = Array.from(root.querySelectorAll("button")).find((b) => textOf(b) === "Undo")!;
    const redo = Array.from(root.querySelectorAll("button")).find((b) => textOf(b) === "Redo")!;
    undo.click();
    await settle();
    expect(cardTitles(root)).toEqual(["No h", "Honest", "Helpful"]);
    undo.click();
    await settle();
    expect(cardTitles(root)).toEqual(["No harm", "Honest", "Helpful"]);
    expect(undo.disabled).toBe(true);
    redo.click();
    await settle();
    expect(cardTitles(root)).toEqual(["No h", "Honest", "Helpful"]);
    await vi.advanceTimersByTimeAsync(400);
    expect((saves().at(-1)!.args.constitution as Constitution).tiers[0].principles[0].title).toBe("No h");
  });

  it("adds a principle, removes it with Delete, and brings it back with undo", async () => {
    const { root } = await openEditor(sample());
    byTestId(root, "add-principle")[1].click();
    await settle();
    expect(cardTitles(root)).toEqual(["No harm", "Honest", "Helpful", "Untitled principle"]);
    expect(document.activeElement?.getAttribute("name")).toBe("title");
    press(card(root, "new-principle"), "Delete");
    expect(cardTitles(root)).toHaveLength(3);
    Array.from(root.querySelectorAll("button"))
      .find((b) => textOf(b) === "Undo")!
      .click();
    await settle();
    expect(cardTitles(root)).toHaveLength(4);
  });

  it("moves a principle by drag and drop", async () => {
    const { root } = await openEditor(sample());
    const dragged = card(root, "helpful");
    const target = card(root, "no-harm");
    target.getBoundingClientRect = () => ({ top: 0, height: 40, bottom: 40, left: 0, right: 0, width: 0, x: 0, y: 0, toJSON: () => ({}) });
    dragged.dispatchEvent(new Event("dragstart", { bubbles: true }));
    const over = new MouseEvent("dragover", { bubbles: true, cancelable: true, clientY: 5 });
    target.dispatchEvent(over);
    target.dispatchEvent(new MouseEvent("drop", { bubbles: true, cancelable: true }));
    await settle();
    expect(cardTitles(root)).toEqual(["Helpful", "No harm", "Honest"]);
  });

  it("commits after saving what is pending, and shows the core's refusal", async () => {
    let refuse = true;
    const calls = fakeBackend({
      open_draft: ({ slug }) => ({ slug, constitution: sample(), state: cleanState() }),
      save_draft: () => ({ ...cleanState(), has_changes: true }),
      commit_draft: ({ message }) => {
        if (refuse) throw { code: "invalid_draft", message: "`test`: the draft is not valid and cannot be committed" };
        return { number: 2, hash: "c".repeat(64), parent: 1, message, author: "me", created_ms: 0, tags: [] };
      },
    });
    const root = await render(Editor, { slug: "test" });
    type(root.querySelector<HTMLInputElement>("[name=title]")!, "Edited");
    byTestId(root, "commit-open")[0].click();
    await settle();
    expect(document.activeElement).toBe(byTestId(root, "commit-message")[0]);
    type(byTestId(root, "commit-message")[0] as HTMLTextAreaElement, "Tighten safety");
    byTestId(root, "commit-confirm")[0].click();
    await settle();
    await settle();
    expect(textOf(byTestId(root, "commit-error")[0])).toContain("not valid");
    refuse = false;
    byTestId(root, "commit-confirm")[0].click();
    await settle();
    await settle();
    const order = calls.map((c) => c.command).filter((c) => c !== "open_draft");
    expect(order).toEqual(["save_draft", "commit_draft", "commit_draft"]);
    // The commit names the revision the editor shows (the one its save returned).
    expect(calls.find((c) => c.command === "commit_draft")!.args.basedOn).toBe(0);
    expect(byTestId(root, "commit-dialog")).toHaveLength(0);
    expect(textOf(byTestId(root, "draft-state")[0])).toMatch(/^No changes since v2/);
  });

  it("filters cards by search", async () => {
    const { root } = await openEditor(sample());
    type(byTestId(root, "search")[0] as HTMLInputElement, "hon");
    expect(cardTitles(root)).toEqual(["Honest"]);
  });

  it("renders markup in user text as text and runs nothing", async () => {
    const hostile = sample();
    const payload = `<img src=x onerror="window.__xss = 1">`;
    hostile.tiers[0].principles[0].title = payload;
    hostile.tiers[0].principles[0].statement = `<script>window.__xss = 2</script>`;
    const { root } = await openEditor(hostile);
    expect(cardTitles(root)[0]).toBe(payload);
    expect(root.querySelector("img")).toBeNull();
    expect(root.querySelector("script")).toBeNull();
    expect((window as unknown as { __xss?: number }).__xss).toBeUndefined();
  });
});

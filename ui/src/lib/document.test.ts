import { afterEach, describe, expect, it, vi } from "vitest";
import * as doc from "./document";
import { sample } from "../test/harness";

type Doc = ReturnType<typeof sample>;
const order = (c: Doc) => c.tiers.map((t) => t.principles.map((p) => p.id));
const get = (c: Doc, id: string) => c.tiers.flatMap((t) => t.principles).find((p) => p.id === id)!;

describe("moving principles", () => {
  it("moves within a tier and across tier boundaries, stopping at the ends", () => {
    const c = sample();
    const noHarm = get(c, "no-harm");
    expect(doc.movePrinciple(c, noHarm, 1)).toEqual({ tier: 0, index: 1 });
    expect(order(c)).toEqual([["honest", "no-harm"], ["helpful"]]);
    // Past the bottom of Safety: to the top of Helpfulness.
    expect(doc.movePrinciple(c, noHarm, 1)).toEqual({ tier: 1, index: 0 });
    expect(order(c)).toEqual([["honest"], ["no-harm", "helpful"]]);
    // Back up: to the end of Safety.
    expect(doc.movePrinciple(c, noHarm, -1)).toEqual({ tier: 0, index: 1 });
    expect(doc.movePrinciple(c, get(c, "honest"), -1)).toBeNull();
    const other = sample();
    expect(doc.movePrinciple(other, get(other, "helpful"), 1)).toBeNull();
  });

  it("moves to a place in another tier and clamps the index", () => {
    const c = sample();
    const helpful = get(c, "helpful");
    expect(doc.movePrincipleTo(c, helpful, { tier: 0, index: 0 })).toEqual({ tier: 0, index: 0 });
    expect(order(c)).toEqual([["helpful", "no-harm", "honest"], []]);
    expect(doc.movePrincipleTo(c, helpful, { tier: 1, index: 99 })).toEqual({ tier: 1, index: 0 });
    expect(doc.movePrincipleTo(c, get(sample(), "helpful"), { tier: 0, index: 0 })).toBeNull();
  });

  it("tells apart principles that share an id", () => {
    const c = sample();
    const twin = { ...get(c, "helpful") };
    c.tiers[1].principles.push(twin);
    expect(doc.movePrinciple(c, twin, -1)).toEqual({ tier: 1, index: 0 });
    expect(c.tiers[1].principles[0]).toBe(twin);
    expect(doc.removePrinciple(c, twin)).toEqual({ tier: 1, index: 0 });
    expect(order(c)).toEqual([["no-harm", "honest"], ["helpful"]]);
  });

  it("adds principles with free ids and tiers that can be reordered and removed when empty", () => {
    const c = sample();
    const first = doc.addPrinciple(c, 1);
    const second = doc.addPrinciple(c, 1);
    expect(doc.principleAt(c, first).id).toBe("new-principle");
    expect(doc.principleAt(c, second).id).toBe("new-principle-2");
    const tier = doc.addTier(c);
    expect(c.tiers[tier].id).toBe("new-tier");
    expect(doc.moveTier(c, tier, -1)).toBe(1);
    expect(c.tiers.map((t) => t.id)).toEqual(["safety", "new-tier", "helpfulness"]);
    expect(doc.removeTier(c, 0)).toBe(false);
    expect(doc.removeTier(c, 1)).toBe(true);
  });

  it("filters by title, statement, id and tags", () => {
    const p = { ...sample().tiers[0].principles[0], tags: ["medical"] };
    expect(doc.matches(p, "MEDICAL")).toBe(true);
    expect(doc.matches(p, "no-harm")).toBe(true);
    expect(doc.matches(p, "nothing like it")).toBe(false);
    expect(doc.matches(p, "  ")).toBe(true);
  });

  it("finds problems at a field path and by principle", () => {
    const problems = [
      { field: "tiers[0].principles[1].title", message: "empty", tier: "safety", principle: "honest", key: "title" },
      { field: "examples[0].prompt", message: "empty", tier: null, principle: null, key: "prompt" },
    ];
    expect(doc.problemsAt(problems, "examples[0].prompt")).toEqual(["empty"]);
    expect(doc.principleProblems(problems, "honest", "title")).toEqual(["empty"]);
    expect(doc.principleProblems(problems, "honest", "statement")).toEqual([]);
  });
});

describe("UndoHistory", () => {
  it("coalesces typing in one field into one step, and redo replays", () => {
    let now = 0;
    const history = new doc.UndoHistory("a", 10, 1000, () => now);
    history.record("ab", "title");
    now = 300;
    history.record("abc", "title");
    now = 600;
    history.record("abcd", "statement");
    expect(history.undo()).toBe("abc");
    expect(history.undo()).toBe("a");
    expect(history.undo()).toBeNull();
    expect(history.redo()).toBe("abc");
    expect(history.canRedo).toBe(true);
    history.record("x", null);
    expect(history.canRedo).toBe(false);
  });

  it("keeps at most `limit` steps", () => {
    const history = new doc.UndoHistory("0", 2);
    for (const next of ["1", "2", "3"]) history.record(next);
    expect(history.undo()).toBe("2");
    expect(history.undo()).toBe("1");
    expect(history.undo()).toBeNull();
  });
});

describe("Autosaver", () => {
  afterEach(() => vi.useRealTimers());

  it("saves once after a quiet period and flushes on demand", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const save = vi.fn(() => Promise.resolve());
    const saver = new doc.Autosaver(save, 400);
    saver.schedule();
    await vi.advanceTimersByTimeAsync(300);
    saver.schedule();
    await vi.advanceTimersByTimeAsync(300);
    expect(save).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(100);
    expect(save).toHaveBeenCalledTimes(1);
    saver.schedule();
    await saver.flush();
    expect(save).toHaveBeenCalledTimes(2);
    expect(saver.pending).toBe(false);
  });

  it("keeps a failed save pending and retries it", async () => {
    const save = vi.fn().mockRejectedValueOnce(new Error("disk full")).mockResolvedValue(undefined);
    const saver = new doc.Autosaver(save, 400);
    saver.schedule();
    await expect(saver.flush()).rejects.toThrow("disk full");
    expect(saver.pending).toBe(true);
    await saver.flush();
    expect(save).toHaveBeenCalledTimes(2);
    expect(saver.pending).toBe(false);
  });
});

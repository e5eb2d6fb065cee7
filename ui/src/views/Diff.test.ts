import { afterEach, describe, expect, it } from "vitest";
import Diff from "./Diff.svelte";
import type { DiffView, PrincipleChange } from "../lib/ipc";
import { byTestId, cleanup, diffSummary, fakeBackend, render, settle, textOf, versions } from "../test/harness";

afterEach(cleanup);

const edited = (n: number): PrincipleChange => ({
  kind: "changed",
  id: `p-${n}`,
  title: `Principle ${n}`,
  at: { tier_id: "t", tier_name: "Tier", position: n + 1 },
  renamed_from: null,
  moved: null,
  fields: [
    {
      field: "statement",
      old: "a",
      new: "b",
      inline: [
        { kind: "delete", text: "a" },
        { kind: "insert", text: "b" },
      ],
    },
  ],
});

describe("Diff", () => {
  it("paints the first changes of a large diff first, then the rest", async () => {
    const view: DiffView = {
      old_label: "c@1",
      new_label: "c@2",
      diff: {
        summary: diffSummary({ edited: 60 }),
        metadata: [],
        tiers: [],
        examples: [],
        principles: Array.from({ length: 60 }, (_, n) => edited(n)),
      },
    };
    fakeBackend({
      history: () => versions(2),
      diff_revisions: () => view,
    });
    const root = await render(Diff, { slug: "c", exportFolder: "/x" });
    await settle();
    expect(byTestId(root, "principle-change")).toHaveLength(25);
    await new Promise((resolve) => setTimeout(resolve, 30));
    await settle();
    expect(byTestId(root, "principle-change")).toHaveLength(60);
    expect(byTestId(root, "diff-ms")[0].dataset.ms).toMatch(/^\d+$/);
  });

  it("shows beside each changed principle the prompts whose outcome changed", async () => {
    const view: DiffView = {
      old_label: "c@1",
      new_label: "c@2",
      diff: { summary: diffSummary({ edited: 2 }), metadata: [], tiers: [], examples: [], principles: [edited(0), edited(1)] },
    };
    const calls = fakeBackend({
      history: () => versions(2),
      diff_revisions: () => view,
      diff_behaviour: () => ({
        run_a: 3,
        run_b: 4,
        compared: 12,
        changed: [{ prompt: "bs-7", label: "benign", a: "compliance", b: "full_refusal" }],
        by_principle: [{ principle: "p-0", prompts: ["bs-7"] }],
      }),
    });
    const root = await render(Diff, { slug: "c" });
    await settle();
    expect(calls.find((c) => c.command === "diff_behaviour")?.args).toEqual({ slug: "c", old: "1", new: "2" });
    expect(textOf(byTestId(root, "diff-behaviour")[0])).toBe("outcomes changed on 1 of 12 prompts (runs 3 → 4)");
    const [first, second] = byTestId(root, "principle-behaviour").map(textOf);
    expect(first).toBe("Outcome changed on 1 prompt this principle was applied to: bs-7 (benign) complies → refuses.");
    expect(second).toBe("No prompt's outcome changed where this principle was applied (runs 3 → 4).");
  });
});

import { afterEach, describe, expect, it } from "vitest";
import Diff from "./Diff.svelte";
import type { DiffView, PrincipleChange } from "../lib/ipc";
import { byTestId, cleanup, diffSummary, fakeBackend, render, settle, versions } from "../test/harness";

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
});

import { afterEach, describe, expect, it } from "vitest";
import History from "./History.svelte";
import type { DraftView } from "../lib/ipc";
import { byTestId, cleanState, cleanup, fakeBackend, render, sample, settle, textOf, type, versions } from "../test/harness";

afterEach(cleanup);

const buttons = (root: HTMLElement, label: string) => Array.from(root.querySelectorAll("button")).filter((b) => textOf(b) === label);

describe("History", () => {
  it("asks before a checkout discards uncommitted changes, then checks out", async () => {
    const checkedOut: DraftView[] = [];
    const calls = fakeBackend({
      history: () => versions(2),
      checkout_version: ({ force }) => {
        if (!force) throw { code: "uncommitted_draft", message: "the draft has changes" };
        return { slug: "c", constitution: sample(), state: cleanState() };
      },
    });
    const root = await render(History, { slug: "c", oncheckout: (v: DraftView) => checkedOut.push(v), oncompare: () => {} });
    expect(byTestId(root, "version").map((v) => textOf(v.querySelector(".version-head")))).toEqual([
      "v2 version 2",
      "v1 version 1",
    ]);
    byTestId(root, "checkout")[1].click();
    await settle();
    expect(root.textContent).toContain("Discard the draft’s uncommitted changes?");
    expect(checkedOut).toHaveLength(0);
    buttons(root, "Discard and check out")[0].click();
    await settle();
    expect(checkedOut).toHaveLength(1);
    expect(calls.filter((c) => c.command === "checkout_version").map((c) => c.args)).toEqual([
      { slug: "c", number: 1, force: false },
      { slug: "c", number: 1, force: true },
    ]);
    expect(textOf(byTestId(root, "history-notice")[0])).toBe("Checked out v1 into the draft.");
  });

  it("tags a version and offers its changes for comparison", async () => {
    let tagged = false;
    const compared: string[][] = [];
    fakeBackend({
      history: () => versions(2).map((v) => (tagged && v.number === 2 ? { ...v, tags: ["reviewed"] } : v)),
      tag_version: () => ((tagged = true), null),
    });
    const root = await render(History, { slug: "c", oncheckout: () => {}, oncompare: (a: string, b: string) => compared.push([a, b]) });
    byTestId(root, "tag-open")[0].click();
    await settle();
    expect(document.activeElement).toBe(byTestId(root, "tag-name")[0]);
    type(byTestId(root, "tag-name")[0] as HTMLInputElement, "reviewed");
    byTestId(root, "tag-confirm")[0].click();
    await settle();
    await settle();
    expect(textOf(byTestId(root, "version")[0].querySelector(".tag"))).toBe("reviewed");
    buttons(root, "Changes from v1")[0].click();
    buttons(root, "Compare with draft")[1].click();
    expect(compared).toEqual([
      ["1", "2"],
      ["1", "draft"],
    ]);
  });
});

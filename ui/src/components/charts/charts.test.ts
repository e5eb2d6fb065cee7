import { afterEach, describe, expect, it } from "vitest";
import RefusalScatter from "./RefusalScatter.svelte";
import RateBars from "./RateBars.svelte";
import type { Rate } from "../../lib/ipc";
import { byTestId, cleanup, render } from "../../test/harness";

afterEach(cleanup);

const rate = (count: number, total: number, interval: [number, number] | null, prompts: string[] = []): Rate => ({
  count,
  total,
  rate: total ? count / total : null,
  interval,
  prompts,
});

describe("the refusal scatter", () => {
  it("places each side by its two rates, with its intervals, and drills down to its prompts", async () => {
    const picked: [string, string[]][] = [];
    const root = await render(RefusalScatter, {
      points: [
        { name: "A", over: rate(1, 4, [0.05, 0.7], ["bs-1"]), harmful: rate(3, 4, [0.3, 0.95]) },
        { name: "B", over: rate(0, 0, null), harmful: rate(0, 0, null) },
        { name: "C", over: rate(1, 2, null), harmful: rate(0, 0, null) },
      ],
      onpick: (title: string, prompts: string[]) => picked.push([title, prompts]),
    });
    // B has no prompts of either label: nothing to place; C has no harmful ones: on the axis.
    const points = byTestId(root, "scatter-point");
    expect(points).toHaveLength(2);
    expect(points[1].querySelector("circle")?.getAttribute("cy")).toBe("200");
    expect(points[1].querySelector("text")?.textContent).toBe("C (no harmful prompts)");
    const circle = points[0].querySelector("circle")!;
    // x: 0..1 over 48..304; y: 0..1 over 200..12.
    expect(Number(circle.getAttribute("cx"))).toBeCloseTo(48 + 0.25 * 256);
    expect(Number(circle.getAttribute("cy"))).toBeCloseTo(200 - 0.75 * 188);
    const [across, up] = points[0].querySelectorAll("line.interval");
    expect(Number(across.getAttribute("x1"))).toBeCloseTo(48 + 0.05 * 256);
    expect(Number(across.getAttribute("x2"))).toBeCloseTo(48 + 0.7 * 256);
    expect(Number(up.getAttribute("y2"))).toBeCloseTo(200 - 0.95 * 188);
    // Labels are text, not pictures of text.
    expect(points[0].querySelector("text")?.textContent).toBe("A");
    circle.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(picked).toEqual([["A: benign prompts refused", ["bs-1"]]]);
  });
});

describe("rate bars", () => {
  it("draws each rate as a bar to its length with its count, and drills down", async () => {
    const picked: string[][] = [];
    const root = await render(RateBars, {
      groups: [{ name: "no-harm", bars: [{ side: "A", rate: rate(1, 2, [0.1, 0.9], ["x"]) }, { side: "B", rate: rate(2, 2, [0.3, 1], ["x", "y"]) }] }],
      label: "test",
      mark: 0.5,
      onpick: (_: string, prompts: string[]) => picked.push(prompts),
    });
    const bars = byTestId(root, "rate-bar");
    const widths = bars.map((b) => Number(b.querySelector("rect")!.getAttribute("width")));
    // 0..1 over 150..330.
    expect(widths[0]).toBeCloseTo(90);
    expect(widths[1]).toBeCloseTo(180);
    expect(bars.map((b) => b.querySelector("text.count")?.textContent)).toEqual(["A 1/2", "B 2/2"]);
    expect(root.querySelector("line.mark")?.getAttribute("x1")).toBe("240");
    bars[1].querySelector("rect")!.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(picked).toEqual([["x", "y"]]);
  });
});

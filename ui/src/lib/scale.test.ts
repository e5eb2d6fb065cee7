import { describe, expect, it } from "vitest";
import { scaleLinear } from "./scale";

describe("linear scales", () => {
  it("map the domain onto the range, inverted ranges included", () => {
    const x = scaleLinear([0, 1], [48, 304]);
    expect(x(0)).toBe(48);
    expect(x(0.25)).toBe(112);
    expect(x(1)).toBe(304);
    const y = scaleLinear([0, 1], [200, 12]);
    expect(y(0)).toBe(200);
    expect(y(0.5)).toBe(106);
  });

  it("put an empty domain in the middle and space ticks evenly", () => {
    expect(scaleLinear([3, 3], [0, 10])(3)).toBe(5);
    expect(scaleLinear([0, 1], [0, 100]).ticks(4)).toEqual([0, 0.25, 0.5, 0.75, 1]);
  });
});

// Linear scales for the SVG charts: a value in `domain` to a position in `range`.
//
// Written here rather than taken from d3-scale: d3-scale pulls in d3-color, whose module code
// assigns `constructor` on prototypes, and with Tauri's `freezePrototype` (our CSP setup) that
// assignment throws at import ("override mistake"), leaving the window blank.

export interface LinearScale {
  (value: number): number;
  /** Positions of `count + 1` evenly spaced values across the domain. */
  ticks(count: number): number[];
}

export function scaleLinear(domain: [number, number], range: [number, number]): LinearScale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0;
  const scale = ((value: number) => (span === 0 ? (r0 + r1) / 2 : r0 + ((value - d0) / span) * (r1 - r0))) as LinearScale;
  scale.ticks = (count: number) => Array.from({ length: count + 1 }, (_, i) => d0 + (span * i) / count);
  return scale;
}

// The IPC boundary: only ipc.ts (and the test harness, which fakes the Rust side behind it) may
// talk to Tauri. A component that imports @tauri-apps/api, calls `invoke` or reaches for
// `__TAURI_INTERNALS__` bypasses the typed door and its error handling.
import { describe, expect, it } from "vitest";

// Every source file under src/, as text, keyed by its path from here (`./ipc.ts`, `../App.svelte`).
const SOURCES = import.meta.glob<string>(["../**/*.ts", "../**/*.svelte", "!../**/*.test.ts"], {
  query: "?raw",
  import: "default",
  eager: true,
});
const ALLOWED = new Set(["./ipc.ts", "../test/harness.ts"]);
const TALKS_TO_TAURI = /@tauri-apps\/|__TAURI_INTERNALS__|\binvoke\s*\(/;

describe("the IPC boundary", () => {
  it("lets nothing but ipc.ts talk to Tauri", () => {
    const files = Object.keys(SOURCES);
    expect(files).toContain("./ipc.ts");
    expect(files).toContain("../App.svelte");
    expect(files).toContain("../views/Editor.svelte");
    const offenders = files.filter((file) => !ALLOWED.has(file) && TALKS_TO_TAURI.test(SOURCES[file]));
    expect(offenders).toEqual([]);
  });

  it("would catch an offender", () => {
    expect(TALKS_TO_TAURI.test(SOURCES["./ipc.ts"])).toBe(true);
    expect(TALKS_TO_TAURI.test('import { listen } from "@tauri-apps/api/event";')).toBe(true);
  });
});

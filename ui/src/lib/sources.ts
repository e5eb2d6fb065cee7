// Where a run's prompts come from, as the pickers name it in a <select>: `bundled:FILE`,
// `stored:NAME`, or `file` for the file the user chose.
import type { ChosenFile, PromptSource } from "./ipc";

/** The prompt source a picker's value names; null for `file` before one was chosen. */
export function promptSourceOf(value: string, chosen: ChosenFile | null = null): PromptSource | null {
  if (value === "file") return chosen ? { kind: "file", handle: chosen.handle } : null;
  if (value.startsWith("stored:")) return { kind: "stored", name: value.slice("stored:".length) };
  return { kind: "bundled", file: value.slice("bundled:".length) };
}

// Keyboard shortcuts: one table, so the help panel and the handlers cannot disagree.

export type Action =
  | "newPrinciple"
  | "commit"
  | "search"
  | "undo"
  | "redo"
  | "library"
  | "editor"
  | "history"
  | "diff"
  | "runs"
  | "preview"
  | "compare"
  | "prompts"
  | "run"
  | "help";

export interface Shortcut {
  action: Action;
  keys: string;
  label: string;
}

export const SHORTCUTS: Shortcut[] = [
  { action: "newPrinciple", keys: "Ctrl+N", label: "New principle in the selected tier" },
  { action: "commit", keys: "Ctrl+S", label: "Commit a version" },
  { action: "search", keys: "Ctrl+F", label: "Search principles" },
  { action: "undo", keys: "Ctrl+Z", label: "Undo" },
  { action: "redo", keys: "Ctrl+Shift+Z / Ctrl+Y", label: "Redo" },
  { action: "library", keys: "Ctrl+1", label: "Library" },
  { action: "editor", keys: "Ctrl+2", label: "Editor" },
  { action: "history", keys: "Ctrl+3", label: "History" },
  { action: "diff", keys: "Ctrl+4", label: "Diff" },
  { action: "runs", keys: "Ctrl+5", label: "Runs" },
  { action: "preview", keys: "Ctrl+6", label: "Preview" },
  { action: "compare", keys: "Ctrl+7", label: "Compare" },
  { action: "prompts", keys: "Ctrl+8", label: "Prompt sets" },
  { action: "run", keys: "Ctrl+Enter", label: "Run the preview or the compare, or rerun the lab's prompt" },
  { action: "help", keys: "F1", label: "Keyboard shortcuts" },
];

/** Also listed in the help: keys on a focused principle card. */
export const CARD_KEYS: [string, string][] = [
  ["↑ / ↓", "Select the previous / next principle"],
  ["Alt+↑ / Alt+↓", "Move the principle up / down in priority (across tiers)"],
  ["Enter", "Edit the principle"],
  ["Delete", "Remove the principle (undo brings it back)"],
];

/** The action a key event asks for, if any. */
export function actionFor(event: KeyboardEvent): Action | null {
  if (event.key === "F1") return "help";
  if (!(event.ctrlKey || event.metaKey) || event.altKey) return null;
  if (event.key === "Enter" && !event.shiftKey) return "run";
  const key = event.key.toLowerCase();
  if (key === "z") return event.shiftKey ? "redo" : "undo";
  if (event.shiftKey) return null;
  switch (key) {
    case "y":
      return "redo";
    case "n":
      return "newPrinciple";
    case "s":
      return "commit";
    case "f":
      return "search";
    case "1":
      return "library";
    case "2":
      return "editor";
    case "3":
      return "history";
    case "4":
      return "diff";
    case "5":
      return "runs";
    case "6":
      return "preview";
    case "7":
      return "compare";
    case "8":
      return "prompts";
    default:
      return null;
  }
}

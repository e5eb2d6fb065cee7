// The one typed door to the Rust side: every command the window calls, with its argument and
// result types. Components import from here, never from @tauri-apps/api directly.
import { Channel, invoke } from "@tauri-apps/api/core";

/** A command's failure, as the shell sends it: a stable `code` and a message for people. */
export interface IpcError {
  code: string;
  message: string;
}

export type Theme = "system" | "light" | "dark";

export interface Startup {
  open: string | null;
  notice: string | null;
  theme: Theme;
  export_folder: string;
}

export interface Listing {
  slug: string;
  name: string;
  versions: number;
  latest: number | null;
  updated_ms: number;
  has_changes: boolean;
  /** Why the stored draft does not decode, when it does not (the name is then the id). */
  damaged: string | null;
}

export interface Library {
  constitutions: Listing[];
  deleted: Listing[];
}

export interface FormatInfo {
  name: string;
  description: string;
  extension: string;
  importable: boolean;
}

export interface Principle {
  id: string;
  title: string;
  statement: string;
  rationale?: string;
  critique_request: string;
  revision_request: string;
  comparison_question: string;
  tags?: string[];
  enabled: boolean;
  weight: number;
}

export interface Tier {
  id: string;
  name: string;
  description?: string;
  principles: Principle[];
}

export interface Example {
  principle?: string | null;
  prompt: string;
  response: string;
  critique: string;
  revision: string;
}

export interface Constitution {
  format: number;
  name: string;
  description?: string;
  authors?: string[];
  license?: string | null;
  preview: { rounds: number; selection: "uniform" | "weighted"; rationales: boolean };
  tiers: Tier[];
  examples?: Example[];
}

/**
 * A validation problem at a field path such as `tiers[0].principles[2].title`, with the ids of
 * the tier and principle it is in (which, unlike the indices, survive a reorder) and the
 * field's own name (`title`).
 */
export interface Problem {
  field: string;
  message: string;
  tier?: string | null;
  principle?: string | null;
  key?: string;
}

export interface DraftState {
  base: number | null;
  has_changes: boolean;
  updated_ms: number;
  /** Counts the draft's writes; a save based on an older one is refused. */
  revision: number;
  problems: Problem[];
}

export interface DraftView {
  slug: string;
  constitution: Constitution;
  state: DraftState;
}

export interface VersionInfo {
  number: number;
  hash: string;
  parent: number | null;
  message: string;
  author: string;
  created_ms: number;
  tags: string[];
}

export interface InlineSpan {
  kind: "equal" | "insert" | "delete";
  text: string;
}

export interface FieldChange {
  field: string;
  old: string;
  new: string;
  inline: InlineSpan[];
}

export interface Position {
  tier_id: string;
  tier_name: string;
  position: number;
}

export interface Reorder {
  from: number;
  to: number;
}

export type TierChange =
  | { kind: "added"; id: string; name: string; position: number }
  | { kind: "removed"; id: string; name: string; position: number }
  | {
      kind: "changed";
      id: string;
      name: string;
      position: number;
      reordered: Reorder | null;
      fields: FieldChange[];
    };

export type PrincipleChange =
  | { kind: "added"; principle: Principle; at: Position }
  | { kind: "removed"; principle: Principle; at: Position }
  | {
      kind: "changed";
      id: string;
      title: string;
      at: Position;
      renamed_from: string | null;
      moved: { from: Position; to: Position } | null;
      fields: FieldChange[];
    };

export type ExampleChange =
  | { kind: "added"; position: number; example: Example }
  | { kind: "removed"; position: number; example: Example }
  | { kind: "changed"; position: number; reordered: Reorder | null; fields: FieldChange[] };

export interface DiffSummary {
  added: number;
  removed: number;
  renamed: number;
  moved: number;
  edited: number;
  tiers_changed: number;
  examples_changed: number;
  metadata_changed: number;
}

export interface ConstitutionDiff {
  summary: DiffSummary;
  metadata: FieldChange[];
  tiers: TierChange[];
  principles: PrincipleChange[];
  examples: ExampleChange[];
}

export interface DiffView {
  old_label: string;
  new_label: string;
  diff: ConstitutionDiff;
}

export interface ModelInfo {
  path: string;
  name: string;
  architecture: string;
  parameters: number;
  size_bytes: number;
  quantization: string;
  context_length: number;
  chat_template: string | null;
  device: string;
  gpu_layers: number;
}

/** What the status bar shows of the model without loading it. */
export interface ModelStatus {
  /** As the worker process last described it, this session or an earlier one. */
  info: ModelInfo | null;
  /** A worker process holds the model now. */
  running: boolean;
}

export function isIpcError(value: unknown): value is IpcError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as IpcError).code === "string" &&
    typeof (value as IpcError).message === "string"
  );
}

/** Normalises whatever a failed call threw into an IpcError. */
export function toIpcError(error: unknown): IpcError {
  if (isIpcError(error)) return error;
  return { code: "ipc", message: error instanceof Error ? error.message : String(error) };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toIpcError(error);
  }
}

/** A revision of a constitution: `draft`, a version number or a tag. */
export type Reference = string;

export const ipc = {
  /** Which constitution to open, the theme, and where exports go. */
  startup: () => call<Startup>("startup"),
  setTheme: (theme: Theme) => call<void>("set_theme", { theme }),
  /**
   * Calls `onClose` when the user asks to close the window. Answer with acknowledgeClose at once
   * (else the window closes by itself after a few seconds), then closeWindow once saved.
   */
  watchClose: (onClose: () => void) => {
    const channel = new Channel<string>();
    channel.onmessage = () => onClose();
    return call<void>("watch_close", { onClose: channel });
  },
  closeWindow: () => call<void>("close_window"),
  acknowledgeClose: () => call<void>("acknowledge_close"),
  library: () => call<Library>("library"),
  createConstitution: (name: string) => call<string>("create_constitution", { name }),
  importConstitution: (path: string) => call<string>("import_constitution", { path }),
  formats: () => call<FormatInfo[]>("formats"),
  /** Fails with code `file_exists` when `path` exists and `overwrite` is false. */
  exportConstitution: (slug: string, reference: Reference, format: string, path: string, overwrite: boolean) =>
    call<void>("export_constitution", { slug, reference, format, path, overwrite }),
  forkConstitution: (slug: string, newName: string) =>
    call<string>("fork_constitution", { slug, newName }),
  deleteConstitution: (slug: string) => call<void>("delete_constitution", { slug }),
  restoreConstitution: (slug: string) => call<void>("restore_constitution", { slug }),
  openDraft: (slug: string) => call<DraftView>("open_draft", { slug }),
  /** Fails with code `draft_changed` when the draft is no longer at revision `basedOn`
   *  (changed elsewhere); `null` saves over whatever is there. */
  saveDraft: (slug: string, constitution: Constitution, basedOn: number | null) =>
    call<DraftState>("save_draft", { slug, constitution, basedOn }),
  /** Fails with `draft_changed` when the draft is no longer at revision `basedOn`. */
  commitDraft: (slug: string, message: string, basedOn: number | null) =>
    call<VersionInfo>("commit_draft", { slug, message, basedOn }),
  history: (slug: string) => call<VersionInfo[]>("history", { slug }),
  checkoutVersion: (slug: string, number: number, force: boolean) =>
    call<DraftView>("checkout_version", { slug, number, force }),
  tagVersion: (slug: string, name: string, number: number) =>
    call<void>("tag_version", { slug, name, number }),
  diffRevisions: (slug: string, old: Reference, next: Reference) =>
    call<DiffView>("diff_revisions", { slug, old, new: next }),
  /** Fails with code `file_exists` when `path` exists and `overwrite` is false. */
  exportDiffMarkdown: (slug: string, old: Reference, next: Reference, path: string, overwrite: boolean) =>
    call<void>("export_diff_markdown", { slug, old, new: next, path, overwrite }),
  /** Opens the system's file dialog; null when the user cancels. */
  chooseImportFile: () => call<string | null>("choose_import_file"),
  chooseSaveFile: (suggested: string) => call<string | null>("choose_save_file", { suggested }),
  /** The model as its worker process last described it (loads nothing). */
  modelStatus: () => call<ModelStatus>("model_status"),
  /** Starts the model's worker process if none runs; the model as llama.cpp loaded it. */
  startModel: () => call<ModelInfo>("start_model"),
};

// The one typed door to the Rust side: every command the window calls. The argument and result
// types are generated from the Rust types (./wire.ts); components import from here, never from
// @tauri-apps/api directly (a test fails if they do).
import { Channel, invoke } from "@tauri-apps/api/core";
import type {
  Behaviour,
  ChosenFile,
  CommandError,
  CompareUpdate,
  CompareView,
  Constitution,
  DiffView,
  DownloadProgress,
  DraftState,
  DraftView,
  ErrorCode,
  FormatInfo,
  ImportKind,
  Launch,
  Library,
  ManifestCounts,
  ModelInfo,
  ModelStatus,
  PreviewSettings,
  PromptItem,
  PromptSetInfo,
  PromptSetSummary,
  PromptSource,
  RunDetail,
  RunEnded,
  RunListing,
  RunUpdate,
  SideChoice,
  Startup,
  Theme,
  VersionInfo,
} from "./wire";

export type * from "./wire";

/**
 * A failed call: a command's error as the shell sends it (a code from the shell's closed set),
 * or `ipc` when the call failed before it reached a command.
 */
export type IpcError = Omit<CommandError, "code"> & { code: ErrorCode | "ipc" };

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
  /** Which constitution to open, and the theme. */
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
  /** Calls `onLaunch` when the app is launched again (the second launch hands over and ends). */
  watchLaunches: (onLaunch: (launch: Launch) => void) => {
    const channel = new Channel<Launch>();
    channel.onmessage = onLaunch;
    return call<void>("watch_launches", { onLaunch: channel });
  },
  /** Writes an error the page caught to the app's log. */
  logUiError: (message: string, place: string | null) => call<void>("log_ui_error", { message, place }),
  library: () => call<Library>("library"),
  createConstitution: (name: string) => call<string>("create_constitution", { name }),
  /** Imports a file the user chose with chooseImportFile. */
  importConstitution: (file: ChosenFile) => call<string>("import_constitution", { file: file.handle }),
  formats: () => call<FormatInfo[]>("formats"),
  /** Writes to a file the user chose with chooseSaveFile (which asked before replacing one). */
  exportConstitution: (slug: string, reference: Reference, format: string, file: ChosenFile) =>
    call<void>("export_constitution", { slug, reference, format, file: file.handle }),
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
  /** Writes to a file the user chose with chooseSaveFile. */
  exportDiffMarkdown: (slug: string, old: Reference, next: Reference, file: ChosenFile) =>
    call<void>("export_diff_markdown", { slug, old, new: next, file: file.handle }),
  /** Opens the system's file dialog on the window, for a file of `kind`; null when the user cancels. */
  chooseImportFile: (kind: ImportKind) => call<ChosenFile | null>("choose_import_file", { kind }),
  /** Opens the system's save dialog in the export folder, suggesting the file name `suggested`. */
  chooseSaveFile: (suggested: string) => call<ChosenFile | null>("choose_save_file", { suggested }),
  /** The model as its worker process last described it (loads nothing). */
  modelStatus: () => call<ModelStatus>("model_status"),
  /** Runs a GGUF file chosen with chooseImportFile("model") from now on, or the default model for null. */
  useModel: (file: ChosenFile | null) => call<ModelStatus>("use_model", { file: file?.handle ?? null }),
  /** Starts the model's worker process if none runs; the model as llama.cpp loaded it. */
  startModel: () => call<ModelInfo>("start_model"),
  /** Every preview run in the store, newest first, with its refusal figures. */
  runs: () => call<RunListing[]>("runs"),
  /** One run, prompt by prompt, labelled by the current refusal detector. */
  runDetail: (id: number) => call<RunDetail>("run_detail", { id }),
  /** Downloads and verifies the default model, calling `onProgress` as it comes; its path. */
  fetchDefaultModel: (onProgress: (progress: DownloadProgress) => void) => {
    const channel = new Channel<DownloadProgress>();
    channel.onmessage = onProgress;
    return call<string>("fetch_default_model", { onProgress: channel });
  },
  /** The prompt sets kept in the store, by name. */
  storedPromptSets: () => call<PromptSetSummary[]>("stored_prompt_sets"),
  /** The prompts of a bundled, stored or chosen set. */
  promptSetItems: (source: PromptSource) => call<PromptItem[]>("prompt_set_items", { source }),
  /** Saves a stored set whole; fails with `invalid_prompts`, naming the item, when it breaks the rules. */
  savePromptSet: (name: string, items: PromptItem[]) => call<PromptSetSummary>("save_prompt_set", { name, items }),
  /** Reads a file chosen with chooseImportFile("prompts") into the stored set `name`. */
  importPromptSet: (name: string, file: ChosenFile) =>
    call<PromptSetSummary>("import_prompt_set", { name, file: file.handle }),
  deletePromptSet: (name: string) => call<void>("delete_prompt_set", { name }),
  /** The prompt sets that ship with the app. */
  promptSets: () => call<PromptSetInfo[]>("prompt_sets"),
  /** The preview settings a revision of a constitution asks for by default. */
  previewDefaults: (slug: string, reference: Reference) =>
    call<PreviewSettings>("preview_defaults", { slug, reference }),
  /**
   * Previews a revision on a prompt set with the app's model, calling `onUpdate` as the run
   * goes (text streams in `pieces`); resolves when the run ends. Fails with `run_busy` while
   * another run holds the model.
   */
  startPreview: (
    slug: string,
    reference: Reference,
    prompts: PromptSource,
    settings: PreviewSettings,
    onUpdate: (update: RunUpdate) => void,
  ) => {
    const channel = new Channel<RunUpdate>();
    channel.onmessage = onUpdate;
    return call<RunEnded>("start_preview", { slug, reference, prompts, settings, onUpdate: channel });
  },
  /** Finishes an interrupted or cancelled run, streaming as startPreview does. */
  resumeRun: (id: number, onUpdate: (update: RunUpdate) => void) => {
    const channel = new Channel<RunUpdate>();
    channel.onmessage = onUpdate;
    return call<RunEnded>("resume_run", { id, onUpdate: channel });
  },
  /**
   * Runs prompt `prompt` of run `run` again, alone, under the draft of the constitution it
   * previewed, with the run's seed and settings (a run of its own), streaming as startPreview does.
   */
  rerunPrompt: (run: number, prompt: number, onUpdate: (update: RunUpdate) => void) => {
    const channel = new Channel<RunUpdate>();
    channel.onmessage = onUpdate;
    return call<RunEnded>("rerun_prompt", { run, prompt, onUpdate: channel });
  },
  /** Opens the system's folder dialog in the export folder; null when the user cancels. */
  chooseExportFolder: () => call<ChosenFile | null>("choose_export_folder"),
  /**
   * Writes a run's training data (sft.jsonl, preferences.jsonl, manifest.json) into a folder
   * chosen with chooseExportFolder. Fails with `file_exists` unless `replace` when they are there.
   */
  exportRunDataset: (id: number, folder: ChosenFile, replace: boolean) =>
    call<ManifestCounts>("export_run_dataset", { id, folder: folder.handle, replace }),
  /**
   * Writes a run's report (or run `id` against run `versus`, a compare's) to a file chosen with
   * chooseSaveFile: .html for a page, .md for Markdown.
   */
  exportRunReport: (id: number, file: ChosenFile, versus: number | null = null) =>
    call<void>("export_run_report", { id, versus, file: file.handle }),
  /**
   * Previews both sides on the prompts and judges B's finals against A's (stored runs and labels
   * that match are reused), calling `onUpdate` as it goes; the compare once done.
   */
  startCompare: (
    a: SideChoice,
    b: SideChoice,
    prompts: PromptSource,
    settings: PreviewSettings,
    onUpdate: (update: CompareUpdate) => void,
  ) => {
    const channel = new Channel<CompareUpdate>();
    channel.onmessage = onUpdate;
    return call<CompareView>("start_compare", { a, b, prompts, settings, onUpdate: channel });
  },
  /**
   * What the change between two revisions did to outputs (from stored runs of both texts on the
   * same prompts); null when there are none.
   */
  diffBehaviour: (slug: string, old: Reference, next: Reference) =>
    call<Behaviour | null>("diff_behaviour", { slug, old, new: next }),
  /** Stops the compare in progress; what finished is kept and reused next time. */
  cancelCompare: () => call<void>("cancel_compare"),
  /** Stops a run after the model's current step; it can be resumed. */
  cancelRun: (id: number) => call<void>("cancel_run", { id }),
};

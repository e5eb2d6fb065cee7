// The one typed door to the Rust side: every command the window calls, with its argument and
// result types. Components import from here, never from @tauri-apps/api directly.
import { invoke } from "@tauri-apps/api/core";

/** A command's failure, as the shell sends it: a stable `code` and a message for people. */
export interface IpcError {
  code: string;
  message: string;
}

export interface TierSummary {
  id: string;
  name: string;
  principle_count: number;
}

export interface ConstitutionSummary {
  path: string;
  name: string;
  description: string;
  principle_count: number;
  tiers: TierSummary[];
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

export const ipc = {
  /** The constitution the app was opened with. */
  currentConstitution: () => call<ConstitutionSummary>("current_constitution"),
  /** The default model as llama.cpp loaded it, with the device that runs it. */
  modelStatus: () => call<ModelInfo>("model_status"),
};

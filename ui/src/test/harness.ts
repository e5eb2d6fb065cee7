// Test harness: mounts a component with the IPC layer mocked behind @tauri-apps/api (the one
// door the app uses), records every call, and lets pending promises and renders settle.
import { flushSync, mount, unmount, type Component } from "svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import type { Constitution, DiffSummary, DraftState, ModelInfo, VersionInfo } from "../lib/ipc";

export type Handler = (args: Record<string, unknown>) => unknown;

export interface Call {
  command: string;
  args: Record<string, unknown>;
}

let mounted: ReturnType<typeof mount> | null = null;

/** Installs `handlers` as the Rust side; returns the list that records each call. */
export function fakeBackend(handlers: Record<string, Handler>): Call[] {
  const calls: Call[] = [];
  mockIPC((command, args) => {
    const payload = (args ?? {}) as Record<string, unknown>;
    calls.push({ command, args: payload });
    const handler = handlers[command];
    if (!handler) throw new Error(`unexpected command ${command}`);
    return handler(payload);
  });
  return calls;
}

/** Lets pending promises resolve and applies the state they set. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  flushSync();
}

export async function render<Props extends Record<string, unknown>>(
  component: Component<Props>,
  props: Props,
): Promise<HTMLElement> {
  const target = document.createElement("div");
  document.body.replaceChildren(target);
  mounted = mount(component, { target, props });
  await settle();
  await settle();
  return target;
}

export function cleanup() {
  if (mounted) unmount(mounted);
  mounted = null;
  clearMocks();
}

export const byTestId = (root: ParentNode, id: string) =>
  Array.from(root.querySelectorAll<HTMLElement>(`[data-testid="${id}"]`));

export const textOf = (element: Element | null | undefined) =>
  element?.textContent?.replace(/\s+/g, " ").trim() ?? "";

/** Types `value` into `field` as a user would: the value changes, then an input event. */
export function type(field: HTMLInputElement | HTMLTextAreaElement, value: string) {
  field.value = value;
  field.dispatchEvent(new Event("input", { bubbles: true }));
  flushSync();
}

export function press(target: EventTarget, key: string, modifiers: KeyboardEventInit = {}) {
  target.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...modifiers }));
  flushSync();
}

const principle = (id: string, title: string) => ({
  id,
  title,
  statement: `${title}.`,
  critique_request: `Critique under ${title}.`,
  revision_request: `Revise for ${title}.`,
  comparison_question: `Which response is better for ${title}?`,
  enabled: true,
  weight: 1,
});

/** A small constitution: Safety (2 principles) and Helpfulness (1). */
export function sample(): Constitution {
  return {
    format: 1,
    name: "Test constitution",
    preview: { rounds: 2, selection: "uniform", rationales: false },
    tiers: [
      { id: "safety", name: "Safety", principles: [principle("no-harm", "No harm"), principle("honest", "Honest")] },
      { id: "helpfulness", name: "Helpfulness", principles: [principle("helpful", "Helpful")] },
    ],
  };
}

export const cleanState = (): DraftState => ({ base: 1, has_changes: false, updated_ms: 0, revision: 0, problems: [] });

export const model: ModelInfo = {
  path: "/models/m.gguf",
  name: "SmolLM2 135M Instruct",
  architecture: "llama",
  parameters: 134515008,
  size_bytes: 85000000,
  quantization: "Q4_1",
  context_length: 8192,
  chat_template: "{{ messages }}",
  device: "CPU (Test CPU)",
  gpu_layers: 0,
};

/** A history of `count` versions, newest first, as the `history` command answers. */
export const versions = (count: number): VersionInfo[] =>
  Array.from({ length: count }, (_, i) => {
    const number = count - i;
    return {
      number,
      hash: String(number).repeat(64).slice(0, 64),
      parent: number > 1 ? number - 1 : null,
      message: `version ${number}`,
      author: "me",
      created_ms: 0,
      tags: [],
    };
  });

/** A diff summary with the given counts, the rest zero. */
export const diffSummary = (counts: Partial<DiffSummary>): DiffSummary => ({
  added: 0,
  removed: 0,
  renamed: 0,
  moved: 0,
  edited: 0,
  tiers_changed: 0,
  examples_changed: 0,
  metadata_changed: 0,
  ...counts,
});

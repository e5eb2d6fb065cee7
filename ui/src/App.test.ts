import { afterEach, describe, expect, it } from "vitest";
import { flushSync, mount, unmount } from "svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import App from "./App.svelte";
import type { ConstitutionSummary, ModelInfo } from "./lib/ipc";

const summary: ConstitutionSummary = {
  path: "/constitutions/general-assistant.toml",
  name: "General assistant",
  description: "A sample.",
  principle_count: 3,
  tiers: [
    { id: "safety", name: "Safety", principle_count: 2 },
    { id: "helpfulness", name: "Helpfulness", principle_count: 1 },
  ],
};

const model: ModelInfo = {
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

type Handler = (args: unknown) => unknown;

let app: ReturnType<typeof mount> | null = null;

async function render(handlers: Record<string, Handler>): Promise<HTMLElement> {
  mockIPC((command, args) => {
    const handler = handlers[command];
    if (!handler) throw new Error(`unexpected command ${command}`);
    return handler(args);
  });
  const target = document.createElement("div");
  document.body.replaceChildren(target);
  app = mount(App, { target });
  // Let the mocked calls settle, then apply the state they set.
  for (let i = 0; i < 5; i++) await Promise.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
  flushSync();
  return target;
}

const text = (root: HTMLElement, testId: string) =>
  root.querySelector(`[data-testid="${testId}"]`)?.textContent?.replace(/\s+/g, " ").trim();

afterEach(() => {
  if (app) unmount(app);
  app = null;
  clearMocks();
});

describe("App", () => {
  it("shows the constitution's name, principle count and tiers in priority order", async () => {
    const root = await render({ current_constitution: () => summary, model_status: () => model });
    expect(text(root, "constitution-name")).toBe("General assistant");
    expect(text(root, "principle-count")).toBe("3 principles in 2 tiers");
    const tiers = [...root.querySelectorAll(".tiers .tier-name")].map((li) => li.textContent);
    expect(tiers).toEqual(["Safety", "Helpfulness"]);
  });

  it("shows which device runs the model", async () => {
    const root = await render({ current_constitution: () => summary, model_status: () => model });
    expect(text(root, "model-status")).toBe("Model: SmolLM2 135M Instruct (Q4_1) · runs on CPU (Test CPU)");
  });

  it("shows command errors' messages", async () => {
    const root = await render({
      current_constitution: () => {
        throw { code: "invalid_constitution", message: "x.toml:3:1: field `name`: must not be empty" };
      },
      model_status: () => {
        throw { code: "model_missing", message: "model file /m.gguf does not exist" };
      },
    });
    expect(text(root, "constitution-error")).toContain("x.toml:3:1: field `name`: must not be empty");
    expect(text(root, "model-status")).toBe("model file /m.gguf does not exist");
  });

  it("renders markup in user text as text", async () => {
    const hostile = '<img src=x onerror="window.__pwned = true">';
    const root = await render({
      current_constitution: () => ({ ...summary, name: hostile, description: hostile }),
      model_status: () => model,
    });
    expect(text(root, "constitution-name")).toBe(hostile);
    expect(root.querySelector("img")).toBeNull();
    expect((window as unknown as { __pwned?: boolean }).__pwned).toBeUndefined();
  });
});

// The editor's document model: operations on a constitution draft that keep its invariants
// (a principle's priority is its position; tiers are ordered by priority), the undo history
// and the autosave schedule. Plain TypeScript, no Svelte, so each piece is unit-tested alone.
import type { Constitution, Principle, Problem, Tier } from "./ipc";

/** Where a principle is: its tier's index and its index in that tier. */
export interface Place {
  tier: number;
  index: number;
}

/** Fills the optional fields the file format may leave out, so forms can bind to them. */
export function normalize(constitution: Constitution): Constitution {
  constitution.description ??= "";
  constitution.authors ??= [];
  constitution.license ??= null;
  constitution.examples ??= [];
  for (const tier of constitution.tiers) {
    tier.description ??= "";
    tier.principles ??= [];
    for (const principle of tier.principles) {
      principle.rationale ??= "";
      principle.tags ??= [];
    }
  }
  return constitution;
}

export function principleAt(constitution: Constitution, place: Place): Principle {
  return constitution.tiers[place.tier].principles[place.index];
}

/**
 * Moves `principle` one step up (`-1`, higher priority) or down (`+1`). Past the top or bottom
 * of its tier it moves into the neighbouring tier (to its end when going up, its start when
 * going down). Returns the new place, or null when it cannot move further.
 */
export function movePrinciple(constitution: Constitution, principle: Principle, step: -1 | 1): Place | null {
  const from = placeOf(constitution, principle);
  if (!from) return null;
  const tiers = constitution.tiers;
  const index = from.index + step;
  if (index >= 0 && index < tiers[from.tier].principles.length) {
    return movePrincipleTo(constitution, principle, { tier: from.tier, index });
  }
  const tier = from.tier + step;
  if (tier < 0 || tier >= tiers.length) return null;
  return movePrincipleTo(constitution, principle, {
    tier,
    index: step < 0 ? tiers[tier].principles.length : 0,
  });
}

/**
 * Moves `principle` so that it ends at `to` (`to.index` counted after its removal, clamped to
 * the tier's length). Returns its new place, or null when it or the tier is not in the document.
 */
export function movePrincipleTo(constitution: Constitution, principle: Principle, to: Place): Place | null {
  const from = placeOf(constitution, principle);
  const target = constitution.tiers[to.tier];
  if (!from || !target) return null;
  const [moved] = constitution.tiers[from.tier].principles.splice(from.index, 1);
  const index = Math.max(0, Math.min(to.index, target.principles.length));
  target.principles.splice(index, 0, moved);
  return { tier: to.tier, index };
}

/** `base` if no principle has that id, else the first free `base-2`, `base-3`, …. */
export function freePrincipleId(constitution: Constitution, base = "new-principle"): string {
  const taken = new Set(constitution.tiers.flatMap((t) => t.principles.map((p) => p.id)));
  if (!taken.has(base)) return base;
  let n = 2;
  while (taken.has(`${base}-${n}`)) n++;
  return `${base}-${n}`;
}

/** Adds an empty principle at the end of tier `tier`; returns its place. */
export function addPrinciple(constitution: Constitution, tier: number): Place {
  const principles = constitution.tiers[tier].principles;
  principles.push({
    id: freePrincipleId(constitution),
    title: "",
    statement: "",
    rationale: "",
    critique_request: "",
    revision_request: "",
    comparison_question: "",
    tags: [],
    enabled: true,
    weight: 1,
  });
  return { tier, index: principles.length - 1 };
}

export function removePrinciple(constitution: Constitution, principle: Principle): Place | null {
  const place = placeOf(constitution, principle);
  if (place) constitution.tiers[place.tier].principles.splice(place.index, 1);
  return place;
}

/** Adds an empty tier with a fresh id at the lowest priority; returns its index. */
export function addTier(constitution: Constitution, name = "New tier"): number {
  const taken = new Set(constitution.tiers.map((t) => t.id));
  let id = "new-tier";
  for (let n = 2; taken.has(id); n++) id = `new-tier-${n}`;
  const tier: Tier = { id, name, description: "", principles: [] };
  constitution.tiers.push(tier);
  return constitution.tiers.length - 1;
}

/** Moves tier `index` one step up or down; returns its new index, or null at either end. */
export function moveTier(constitution: Constitution, index: number, step: -1 | 1): number | null {
  const to = index + step;
  if (index < 0 || index >= constitution.tiers.length || to < 0 || to >= constitution.tiers.length) {
    return null;
  }
  const [tier] = constitution.tiers.splice(index, 1);
  constitution.tiers.splice(to, 0, tier);
  return to;
}

/** Removes tier `index` if it holds no principles; returns whether it did. */
export function removeTier(constitution: Constitution, index: number): boolean {
  const tier = constitution.tiers[index];
  if (!tier || tier.principles.length > 0) return false;
  constitution.tiers.splice(index, 1);
  return true;
}

/** Whether `principle` matches a search `query` (title, statement, id or tags; any case). */
export function matches(principle: Principle, query: string): boolean {
  const needle = query.trim().toLowerCase();
  if (!needle) return true;
  return [principle.title, principle.statement, principle.id, ...(principle.tags ?? [])].some(
    (text) => text.toLowerCase().includes(needle),
  );
}

/** The messages about field `key` of the principle `id`. */
export function principleProblems(problems: Problem[], id: string, key: string): string[] {
  return problems.filter((p) => p.principle === id && p.key === key).map((p) => p.message);
}

/** The place of `principle` (by identity), or null when the document no longer holds it. */
export function placeOf(constitution: Constitution, principle: Principle): Place | null {
  for (let tier = 0; tier < constitution.tiers.length; tier++) {
    const index = constitution.tiers[tier].principles.indexOf(principle);
    if (index >= 0) return { tier, index };
  }
  return null;
}

/** The problems at `path` itself (e.g. `tiers[0].principles[1].title`). */
export function problemsAt(problems: Problem[], path: string): string[] {
  return problems.filter((p) => p.field === path).map((p) => p.message);
}

/**
 * Undo and redo over whole-document snapshots (JSON text). Edits in the same `group` (one field
 * being typed into) within `coalesceMs` of each other make one undo step.
 */
export class UndoHistory {
  private past: string[] = [];
  private future: string[] = [];
  private lastGroup: string | null = null;
  private lastTime = -Infinity;

  constructor(
    private current: string,
    private readonly limit = 500,
    private readonly coalesceMs = 1000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Records `next` as the document after an edit. */
  record(next: string, group: string | null = null): void {
    if (next === this.current) return;
    const time = this.now();
    const coalesce = group !== null && group === this.lastGroup && time - this.lastTime < this.coalesceMs;
    if (!coalesce) {
      this.past.push(this.current);
      if (this.past.length > this.limit) this.past.shift();
    }
    this.current = next;
    this.future = [];
    this.lastGroup = group;
    this.lastTime = time;
  }

  /** The document before the last edit, or null when there is none. */
  undo(): string | null {
    const previous = this.past.pop();
    if (previous === undefined) return null;
    this.future.push(this.current);
    this.current = previous;
    this.lastGroup = null;
    return previous;
  }

  redo(): string | null {
    const next = this.future.pop();
    if (next === undefined) return null;
    this.past.push(this.current);
    this.current = next;
    this.lastGroup = null;
    return next;
  }

  get canUndo(): boolean {
    return this.past.length > 0;
  }

  get canRedo(): boolean {
    return this.future.length > 0;
  }
}

/**
 * Saves after `delayMs` without further changes. One save runs at a time; changes made while
 * one runs are saved after it. `flush` saves now what is pending and waits for it. A save that
 * fails leaves the change pending (the next schedule or flush retries) and rejects `flush`.
 */
export class Autosaver {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<void> | null = null;
  private dirty = false;

  constructor(
    private readonly save: () => Promise<void>,
    private readonly delayMs = 400,
  ) {}

  /** Whether a change waits to be saved or a save is running. */
  get pending(): boolean {
    return this.dirty || this.running !== null;
  }

  schedule(): void {
    this.dirty = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      // A failed save stays pending; the saver reports the failure itself.
      this.run().catch(() => {});
    }, this.delayMs);
  }

  /** Drops what is pending (the document was replaced from the store). */
  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.dirty = false;
  }

  async flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    await this.run();
  }

  private async run(): Promise<void> {
    while (this.running) await this.running.catch(() => {});
    if (!this.dirty) return;
    this.dirty = false;
    this.running = this.save()
      .catch((error: unknown) => {
        this.dirty = true;
        throw error;
      })
      .finally(() => {
        this.running = null;
      });
    await this.running;
  }
}

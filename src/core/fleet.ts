// Worker targets and their slots: the rules, each change one durable transaction with its events.
// The host's supervisor (src/server/fleet/) decides when to start, stop or adopt a worker; every
// such step goes through here first, so the store always says which worker runs in which slot,
// and a slot can only be started by one supervisor at a time.
import { DEFAULT_IDLE_TIMEOUT_SECONDS, type SlotView, type TargetSpec, type TargetView } from '../protocol/targets';
import { budgetLabel, type BudgetScope } from '../protocol/usage';
import { Budgets, type BudgetEvents } from './budgets';
import { iso, type Clock } from './clock';
import { ErrorCode, HarnessError } from './errors';
import { workerIdOf, type SlotRow, type TargetRow } from './fleet-rows';
import { commit, type Emitting, type EventTx } from './prim-context';
import type { Store } from './store';
import { fromNano } from './usage-index';

/** The first restart waits this long; each crash in a row doubles it, up to BACKOFF_MAX_MS. */
export const BACKOFF_START_MS = 1000;
export const BACKOFF_MAX_MS = 30_000;
/** This many crashes of a target's workers within BREAKER_WINDOW_MS trip its breaker. */
export const BREAKER_CRASHES = 5;
export const BREAKER_WINDOW_MS = 10 * 60_000;
/** A process that ran this long before it crashed starts its slot's backoff from the beginning. */
export const HEALTHY_RUN_MS = 60_000;

export interface WorkerExitedEvent {
  target: string;
  slot: number;
  worker_id: string;
  exit: string;
  abnormal: boolean;
  restart_at: string | null;
}

export interface FleetEvents extends BudgetEvents {
  'target:changed': { target: TargetView; reason: string };
  'target:removed': { name: string; stopping: string[] };
  'target:failing': { target: TargetView };
  'worker:exited': WorkerExitedEvent;
}

export interface FleetContext extends Emitting<FleetEvents> {
  clock: Clock;
}

type Tx = EventTx<FleetEvents>;

/** A target as `target_add` or config.json gives it. */
export type TargetInput = TargetSpec & { name: string };

/** The `targets` and `budgets` sections of config.json. */
export interface FleetConfig {
  targets: Record<string, TargetSpec>;
  budgets: { plan?: number | undefined; groups?: Record<string, number> | undefined };
}

export interface ConfigOutcome {
  added: string[];
  changed: string[];
  removed: string[];
  /** Names config.json defines that a command defined first (they keep the command's definition). */
  skipped: string[];
}

/** How a worker's process ended, as the supervisor saw it. */
export interface SlotExit {
  /** "exit code 3", "killed by SIGSEGV", "gone (not seen exiting)". */
  description: string;
  abnormal: boolean;
  /** The end of its output, for a target that trips its breaker. */
  tail: string | null;
}

const GENERATION_KEY = 'slot_generation';

/** The backoff before restarting a slot after its `crashes`-th crash in a row. */
export function backoffMs(crashes: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** Math.max(0, crashes - 1));
}

function notFound(name: string): HarnessError {
  return new HarnessError(ErrorCode.NotFound, `target ${name} does not exist`, { target: name });
}

export class Fleet {
  constructor(
    private readonly ctx: FleetContext,
    private readonly budgets: Budgets,
  ) {}

  private get store(): Store {
    return this.ctx.store;
  }

  private now(): string {
    return iso(this.ctx.clock.now());
  }

  private commit<T>(fn: (tx: Tx) => T): Promise<T> {
    return commit<T, FleetEvents>(this.ctx, fn).done;
  }

  // ---- views ----

  slotView(s: SlotRow): SlotView {
    const instance = this.store.getInstance(s.worker_id);
    return {
      slot: s.slot,
      worker_id: s.worker_id,
      state: s.state,
      generation: s.generation,
      pid: s.pid,
      started_at: s.started_at,
      restart_at: s.restart_at,
      last_exit: s.last_exit,
      instance: instance?.status ?? null,
      current_task: this.store.heldBy(s.worker_id)[0]?.id ?? null,
      cost_usd: fromNano(this.store.usageOf('worker', s.worker_id).cost_nano),
    };
  }

  view(t: TargetRow): TargetView {
    return {
      name: t.name,
      command: t.command,
      shell: t.shell,
      capabilities: t.capabilities,
      min: t.min,
      max: t.max,
      isolation: t.isolation,
      env_keys: Object.keys(t.env).sort(),
      idle_timeout_seconds: t.idle_timeout_seconds,
      usage: t.usage,
      usage_model: t.usage_model,
      source: t.source,
      state: t.state,
      failing_since: t.failing_since,
      crashes: this.recentCrashes(t).length,
      last_exit: t.last_exit,
      last_output: t.last_output,
      workers: this.store.fleet.slots(t.name).map((s) => this.slotView(s)),
      cost_usd: fromNano(this.store.usageOf('target', t.name).cost_nano),
      budget: this.budgets.find('target', t.name),
    };
  }

  list(): TargetView[] {
    return this.store.fleet.targets().map((t) => this.view(t));
  }

  get(name: string): TargetView {
    return this.view(this.require(name));
  }

  private require(name: string): TargetRow {
    const row = this.store.fleet.target(name);
    if (!row) throw notFound(name);
    return row;
  }

  private changed(tx: Tx, row: TargetRow, reason: string): void {
    tx.emit('target:changed', { target: this.view(row), reason });
  }

  private recentCrashes(t: TargetRow): string[] {
    const since = iso(this.ctx.clock.now() - BREAKER_WINDOW_MS);
    return t.crashes.filter((c) => c > since);
  }

  // ---- targets ----

  /**
   * Adds a target, or with `replace` puts a new definition in place of one from the same source:
   * its state starts over (a fixed command deserves a fresh start), its workers pick up the new
   * definition when the supervisor restarts them.
   */
  async add(input: TargetInput, options: { source: TargetRow['source']; replace?: boolean | undefined; config?: string }): Promise<TargetView> {
    return this.commit((tx) => this.put(tx, input, options));
  }

  /** The same, inside a transaction (config.json applies many at once). */
  put(tx: Tx, input: TargetInput, options: { source: TargetRow['source']; replace?: boolean | undefined; config?: string }): TargetView {
    const before = this.store.fleet.target(input.name);
    if (before && before.source !== options.source) {
      throw new HarnessError(
        ErrorCode.AlreadyExists,
        before.source === 'config'
          ? `target ${input.name} is defined in .harness/config.json: change it there, or add this one under another name`
          : `target ${input.name} was added with target_add; remove it first (harness target remove ${input.name}) to define it in config.json`,
        { target: input.name },
      );
    }
    if (before && !options.replace) {
      throw new HarnessError(ErrorCode.AlreadyExists, `target ${input.name} already exists (replace it with --replace)`, { target: input.name });
    }
    const now = this.now();
    const min = input.min ?? 1;
    const row: TargetRow = {
      name: input.name,
      command: input.command,
      shell: input.shell ?? false,
      capabilities: input.capabilities ?? [],
      min,
      max: Math.max(min, input.max ?? min),
      isolation: input.isolation ?? 'shared',
      env: input.env ?? {},
      idle_timeout_seconds: input.idle_timeout_seconds ?? DEFAULT_IDLE_TIMEOUT_SECONDS,
      usage: input.usage ?? null,
      usage_model: input.usage_model ?? null,
      source: options.source,
      config: options.config ?? null,
      state: 'ok',
      crashes: [],
      failing_since: null,
      last_exit: null,
      last_output: null,
      created_at: before?.created_at ?? now,
      updated_at: now,
    };
    tx.w.apply({ op: 'target', row });
    if (input.budget_usd !== undefined) this.budgets.put(tx, 'target', input.name, input.budget_usd, options.source);
    else if (before) this.budgets.drop(tx, 'target', input.name);
    // Slots waiting out a backoff restart at once under the new definition.
    for (const s of this.store.fleet.slots(input.name)) {
      if (s.state === 'backoff') tx.w.apply({ op: 'slot', row: { ...s, restart_at: now, crashes: 0 } });
    }
    this.changed(tx, row, before ? 'replaced' : 'added');
    return this.view(row);
  }

  /** Removes a target; its workers are marked stopping (the supervisor ends them and drops the slots). */
  async remove(name: string, options: { source: TargetRow['source'] } = { source: 'cli' }): Promise<{ name: string; stopping: string[] }> {
    return this.commit((tx) => this.drop(tx, name, options.source));
  }

  drop(tx: Tx, name: string, source: TargetRow['source']): { name: string; stopping: string[] } {
    const row = this.require(name);
    if (row.source === 'config' && source !== 'config') {
      throw new HarnessError(ErrorCode.InvalidArgument, `target ${name} is defined in .harness/config.json: remove it there`, { target: name });
    }
    tx.w.apply({ op: 'target_delete', name });
    this.budgets.drop(tx, 'target', name);
    const stopping: string[] = [];
    for (const s of this.store.fleet.slots(name)) {
      // A starting slot may have a process on its way: it is stopped once it runs, not forgotten.
      if (s.state === 'backoff') {
        tx.w.apply({ op: 'slot_delete', target: name, slot: s.slot });
      } else {
        tx.w.apply({ op: 'slot', row: { ...s, state: 'stopping' } });
        stopping.push(s.worker_id);
      }
    }
    tx.emit('target:removed', { name, stopping });
    return { name, stopping };
  }

  async scale(name: string, { min, max }: { min?: number | undefined; max?: number | undefined }): Promise<TargetView> {
    return this.commit((tx) => {
      const row = this.require(name);
      const newMin = min ?? Math.min(row.min, max!);
      const newMax = max ?? Math.max(row.max, newMin);
      if (newMax < newMin) {
        throw new HarnessError(ErrorCode.InvalidArgument, `max (${newMax}) must be at least min (${newMin})`, { field: 'max' });
      }
      const next = { ...row, min: newMin, max: newMax, updated_at: this.now() };
      tx.w.apply({ op: 'target', row: next });
      this.changed(tx, next, `scaled to ${newMin === newMax ? newMin : `${newMin}–${newMax}`}`);
      return this.view(next);
    });
  }

  /** Clears a failing target and its crash history; slots waiting in backoff restart at once. */
  async reset(name: string): Promise<TargetView> {
    return this.commit((tx) => {
      const row = this.require(name);
      const now = this.now();
      const next: TargetRow = { ...row, state: 'ok', crashes: [], failing_since: null, updated_at: now };
      tx.w.apply({ op: 'target', row: next });
      for (const s of this.store.fleet.slots(name)) {
        if (s.state === 'backoff') tx.w.apply({ op: 'slot', row: { ...s, restart_at: now, crashes: 0 } });
      }
      this.changed(tx, next, 'reset');
      return this.view(next);
    });
  }

  // ---- config.json ----

  /**
   * Makes the targets and budgets defined in config.json what the store holds: added, changed
   * (a target whose entry changed is replaced; one scaled since keeps its scale until then) and
   * removed. Targets and budgets added with commands are left alone, and a config target of the
   * same name as one of them is skipped (and reported).
   */
  async applyConfig(config: FleetConfig): Promise<ConfigOutcome> {
    return this.commit((tx) => {
      const out: ConfigOutcome = { added: [], changed: [], removed: [], skipped: [] };
      for (const [name, spec] of Object.entries(config.targets)) {
        const json = JSON.stringify(spec);
        const row = this.store.fleet.target(name);
        if (row?.source === 'cli') out.skipped.push(name);
        else if (!row || row.config !== json) {
          this.put(tx, { ...spec, name }, { source: 'config', replace: true, config: json });
          (row ? out.changed : out.added).push(name);
        }
      }
      for (const row of this.store.fleet.targets()) {
        if (row.source === 'config' && !Object.hasOwn(config.targets, row.name)) {
          this.drop(tx, row.name, 'config');
          out.removed.push(row.name);
        }
      }
      const wanted = new Map<string, [BudgetScope, string | null, number]>();
      if (config.budgets.plan !== undefined) wanted.set('plan', ['plan', null, config.budgets.plan]);
      for (const [group, usd] of Object.entries(config.budgets.groups ?? {})) wanted.set(`group:${group}`, ['group', group, usd]);
      for (const [scope, name, usd] of wanted.values()) {
        const row = this.store.fleet.budget(scope, name);
        if (row?.source === 'cli') out.skipped.push(budgetLabel({ scope, name }));
        else if (row?.limit_usd !== usd) this.budgets.put(tx, scope, name, usd, 'config');
      }
      for (const row of this.store.fleet.budgets()) {
        if (row.source === 'config' && row.scope !== 'target' && !wanted.has(row.scope === 'plan' ? 'plan' : `group:${row.name}`)) {
          this.budgets.drop(tx, row.scope, row.name);
        }
      }
      return out;
    });
  }

  // ---- slots: the supervisor's steps ----

  /**
   * Claims slot `slot` of `target` for a new process of `host`: only an empty slot, or one whose
   * backoff is over. The generation grows, so reports about the previous process are ignored.
   * Throws CONFLICT when the slot is taken: two triggers never start two workers for one slot.
   */
  async claimSlot(target: string, slot: number, host: string): Promise<SlotRow> {
    return this.commit((tx) => {
      const t = this.require(target);
      if (t.state === 'failing') throw new HarnessError(ErrorCode.Conflict, `target ${target} is failing: reset it to start workers`, { target });
      const before = this.store.fleet.slots(target).find((s) => s.slot === slot);
      const now = this.now();
      if (before && !(before.state === 'backoff' && before.restart_at !== null && before.restart_at <= now)) {
        throw new HarnessError(ErrorCode.Conflict, `slot ${slot} of target ${target} is ${before.state}`, { target, slot });
      }
      // One counter for every start of every slot: a number is never used twice, even for a
      // slot freed and claimed again, so a report about an earlier process never fits a later one.
      const generation = Number(this.store.getMeta(GENERATION_KEY) ?? 0) + 1;
      tx.w.apply({ op: 'meta', key: GENERATION_KEY, value: String(generation) });
      const row: SlotRow = {
        target,
        slot,
        worker_id: workerIdOf(target, slot),
        state: 'starting',
        generation,
        host,
        pid: null,
        started_at: now,
        restart_at: null,
        crashes: before?.crashes ?? 0,
        last_exit: before?.last_exit ?? null,
      };
      tx.w.apply({ op: 'slot', row });
      this.changed(tx, t, `starting ${row.worker_id}`);
      return row;
    });
  }

  /** The slot's current row if it still is generation `generation`. */
  private slotAt(target: string, slot: number, generation: number): SlotRow | undefined {
    const row = this.store.fleet.slots(target).find((s) => s.slot === slot);
    return row?.generation === generation ? row : undefined;
  }

  /** The process of a claimed slot started (or was found running, when adopting): its pid, its host. */
  async slotRunning(target: string, slot: number, generation: number, pid: number | null, host: string): Promise<SlotRow | undefined> {
    return this.commit((tx) => {
      const row = this.slotAt(target, slot, generation);
      if (!row || row.state === 'backoff') return undefined;
      const next: SlotRow = { ...row, pid, host, state: row.state === 'stopping' ? 'stopping' : 'running' };
      tx.w.apply({ op: 'slot', row: next });
      const t = this.store.fleet.target(target);
      if (t) this.changed(tx, t, row.host === host ? `${row.worker_id} running` : `${row.worker_id} adopted`);
      return next;
    });
  }

  /** The supervisor is stopping this slot's process (scale down, restart, removal). */
  async slotStopping(target: string, slot: number, generation: number): Promise<SlotRow | undefined> {
    return this.commit((tx) => {
      const row = this.slotAt(target, slot, generation);
      if (!row) return undefined;
      if (row.state === 'backoff') {
        tx.w.apply({ op: 'slot_delete', target, slot });
        return undefined;
      }
      const next: SlotRow = { ...row, state: 'stopping' };
      tx.w.apply({ op: 'slot', row: next });
      return next;
    });
  }

  /**
   * The slot's process ended. A normal exit, or one the supervisor asked for, frees the slot. An
   * abnormal one puts it in backoff (1 s, doubling to 30 s) and counts against the target's
   * breaker: the fifth crash within ten minutes marks the target failing, with the output's end.
   */
  async slotExited(target: string, slot: number, generation: number, exit: SlotExit): Promise<WorkerExitedEvent | undefined> {
    return this.commit((tx) => {
      const row = this.slotAt(target, slot, generation);
      if (!row) return undefined;
      const t = this.store.fleet.target(target);
      const now = this.ctx.clock.now();
      const event: WorkerExitedEvent = { target, slot, worker_id: row.worker_id, exit: exit.description, abnormal: exit.abnormal, restart_at: null };
      if (!exit.abnormal || row.state === 'stopping' || !t) {
        tx.w.apply({ op: 'slot_delete', target, slot });
        tx.emit('worker:exited', event);
        if (t) this.changed(tx, t, `${row.worker_id} ${exit.description}`);
        return event;
      }
      const ran = row.started_at ? now - Date.parse(row.started_at) : 0;
      const crashes = (ran >= HEALTHY_RUN_MS ? 0 : row.crashes) + 1;
      const recent = [...this.recentCrashes(t), iso(now)];
      const failing = t.state === 'failing' || recent.length >= BREAKER_CRASHES;
      const nextTarget: TargetRow = {
        ...t,
        crashes: recent,
        last_exit: `${row.worker_id}: ${exit.description}`,
        last_output: exit.tail ?? t.last_output,
        ...(failing && t.state !== 'failing' ? { state: 'failing' as const, failing_since: iso(now) } : {}),
        updated_at: iso(now),
      };
      event.restart_at = failing ? null : iso(now + backoffMs(crashes));
      tx.w.apply({ op: 'target', row: nextTarget });
      tx.w.apply({
        op: 'slot',
        row: { ...row, state: 'backoff', pid: null, restart_at: event.restart_at, crashes, last_exit: exit.description },
      });
      tx.emit('worker:exited', event);
      this.changed(tx, nextTarget, `${row.worker_id} ${exit.description}`);
      if (failing && t.state !== 'failing') tx.emit('target:failing', { target: this.view(nextTarget) });
      return event;
    });
  }

  /** Forgets a slot (its process is gone, or never started). */
  async dropSlot(target: string, slot: number, generation: number): Promise<void> {
    await this.commit((tx) => {
      if (!this.slotAt(target, slot, generation)) return;
      tx.w.apply({ op: 'slot_delete', target, slot });
      const t = this.store.fleet.target(target);
      if (t) this.changed(tx, t, `slot ${slot} freed`);
    });
  }
}

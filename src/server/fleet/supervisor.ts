// The supervisor of worker targets, run by the host of the coordinator (harness serve, or the VS
// Code window that runs it): it keeps each target between min and max workers, restarts crashed
// ones with backoff until the breaker trips, stops idle ones, and adopts the workers an earlier
// host started. It decides here; every step is first a durable change of the target's slots
// (src/core/fleet.ts), so a slot is started once however many triggers race for it.
import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import { iso, systemClock, type Clock } from '../../core/clock';
import type { Coordinator } from '../../core/coordinator';
import { describeError, ErrorCode, HarnessError } from '../../core/errors';
import type { Disposable } from '../../core/events';
import type { FleetConfig } from '../../core/fleet';
import { workerIdOf, type SlotRow, type TargetRow } from '../../core/fleet-rows';
import type { Logger } from '../../core/log';
import type { Task } from '../../core/model';
import type { ModelPrice } from '../../core/prices';
import type { TargetView } from '../../protocol/targets';
import { processAlive } from '../../exec';
import { decideScale, type SlotObservation } from './autoscale';
import type { LaunchedWorker, LaunchSpec, WorkerExit, WorkerLauncher } from './launcher';

export interface SupervisorConfig extends FleetConfig {
  prices: Record<string, ModelPrice>;
}

export interface SupervisorOptions {
  coordinator: Coordinator;
  launcher: WorkerLauncher;
  /** How to run the harness CLI (`[node, cli.js]`), and what it needs in its environment. */
  harness: { argv: string[]; env?: Record<string, string> };
  socketPath: string;
  workspace: string;
  log: Logger;
  clock?: Clock;
  /** A worker of an isolated target gets its own worktree (harness isolate): its cwd and environment. */
  isolate?: (workerId: string) => Promise<{ cwd: string; env: Record<string, string> }>;
  /** The targets, budgets and prices of config.json; throws INVALID_CONFIG when it is broken. */
  readConfig?: () => SupervisorConfig;
  /** How often it looks again without being woken (ms). */
  tickMs?: number;
  /** Whether a process runs (tests replace it). */
  pidAlive?: (pid: number) => boolean;
}

/** A worker process this supervisor watches. */
interface Watched {
  target: string;
  slot: number;
  generation: number;
  worker_id: string;
  handle: LaunchedWorker;
  /** The target's definition it was started with (null: adopted, unknown). */
  definition: string | null;
  stopping: boolean;
  /** Start it again as soon as it is gone (Restart Worker). */
  restart: boolean;
  /** It ended; its exit is being recorded. */
  gone: boolean;
  /** Settles once its exit was recorded. */
  done: Promise<void>;
}

/** Events after which the wanted count of some target may have changed. */
const WAKE = /^(task:(added|claimed|completed|failed|released|cancelled|retried|dead_letter)|lease:expired|instance:|target:|budget:)/;

/** The parts of a target that go into its workers' command line and environment. */
function definitionOf(t: TargetRow): string {
  return JSON.stringify([t.command, t.shell, t.capabilities, t.isolation, t.env, t.usage, t.usage_model]);
}

export function describeExit(exit: WorkerExit): string {
  if (exit.lost) return 'gone (it ended while no host watched it)';
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exit code ${exit.code}`;
}

export class Supervisor {
  /** Names this supervisor in the slots it starts or adopts. */
  readonly host = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly clock: Clock;
  private readonly watched = new Map<string, Watched>();
  /** Launches under way (slot claimed, process starting), by worker id. */
  private readonly launching = new Map<string, Promise<void>>();
  private readonly idleSince = new Map<string, number>();
  /** Which target worker holds which task, to keep the error of the last task each one failed. */
  private readonly claimedBy = new Map<string, string>();
  private readonly lastFailure = new Map<string, string>();
  private readonly pidAlive: (pid: number) => boolean;
  private running: Promise<void> | undefined;
  private again = false;
  private started = false;
  private closed = false;
  private cancelTick: () => void = () => {};
  private readonly subscription: Disposable;
  private lastConfig: string | undefined;
  private configError: string | undefined;

  constructor(private readonly o: SupervisorOptions) {
    this.clock = o.clock ?? systemClock;
    this.pidAlive = o.pidAlive ?? processAlive;
    this.subscription = o.coordinator.events.onAny((name, event) => {
      this.note(name, event);
      if (WAKE.test(name)) this.kick();
    });
  }

  private get store() {
    return this.o.coordinator.store;
  }

  private get fleet() {
    return this.o.coordinator.fleet;
  }

  /** Starts looking: now, then every tick, and whenever something relevant happens. */
  start(): void {
    this.started = true;
    const tick = () => {
      if (this.closed) return;
      this.kick();
      this.cancelTick = this.clock.after(this.o.tickMs ?? 1000, tick, { unref: true });
    };
    tick();
  }

  /** Runs a reconcile soon; triggers during one make exactly one more. */
  kick(): void {
    if (this.closed || !this.started) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.reconcile();
        } catch (e) {
          this.o.log.error(`worker targets: ${describeError(e)}`);
        }
      } while (this.again && !this.closed);
    })().finally(() => (this.running = undefined));
  }

  /** Resolves once no reconcile and no launch is under way (for tests and a clean stop). */
  async settled(): Promise<void> {
    while (this.running || this.launching.size > 0) {
      await this.running;
      await Promise.all([...this.launching.values()]);
    }
  }

  private note(name: string, event: unknown): void {
    const e = event as { task?: Task; worker_id?: string };
    if (name === 'task:claimed' && e.task && e.worker_id && this.store.fleet.slotOfWorker(e.worker_id)) this.claimedBy.set(e.task.id, e.worker_id);
    if ((name === 'task:failed' || name === 'task:dead_letter') && e.task) {
      const worker = this.claimedBy.get(e.task.id);
      if (worker && e.task.error) this.lastFailure.set(worker, e.task.error.slice(-4000));
    }
    if (/^task:(completed|failed|released|cancelled|dead_letter)$/.test(name) && e.task) this.claimedBy.delete(e.task.id);
  }

  // ---- the reconcile ----

  private async reconcile(): Promise<void> {
    if (this.closed) return;
    await this.applyConfig();
    for (const slot of this.store.fleet.slots()) {
      if (this.closed) return;
      if (this.launching.has(slot.worker_id)) continue;
      const target = this.store.fleet.target(slot.target);
      const watched = this.watched.get(slot.worker_id);
      if (watched) {
        if ((!target || slot.state === 'stopping') && !watched.stopping && !watched.gone) await this.stop(watched);
      } else if (slot.state === 'backoff') {
        if (!target) await this.fleet.dropSlot(slot.target, slot.slot, slot.generation);
      } else {
        await this.recover(slot, target);
      }
    }
    // A process whose slot is gone (or started again since) belongs to no one: it stops.
    for (const w of [...this.watched.values()]) {
      const current = this.store.fleet.slots(w.target).find((s) => s.slot === w.slot);
      if (current?.generation !== w.generation && !this.launching.has(w.worker_id)) await this.stop(w);
    }
    for (const target of this.store.fleet.targets()) {
      if (this.closed) return;
      await this.scale(target);
    }
  }

  /** Reads config.json's targets and budgets into the store when the file changed. */
  private async applyConfig(): Promise<void> {
    if (!this.o.readConfig) return;
    let config: SupervisorConfig;
    try {
      config = this.o.readConfig();
      this.configError = undefined;
    } catch (e) {
      const message = describeError(e);
      if (message !== this.configError) this.o.log.error(`worker targets: ${message}; the targets stay as they were`);
      this.configError = message;
      return;
    }
    const json = JSON.stringify(config);
    if (json === this.lastConfig) return;
    this.o.coordinator.configure({ prices: config.prices });
    const out = await this.fleet.applyConfig(config);
    this.lastConfig = json;
    const said = [['added', out.added], ['changed', out.changed], ['removed', out.removed]].filter(([, n]) => n!.length > 0);
    if (said.length > 0) this.o.log.info(`worker targets from config.json: ${said.map(([what, names]) => `${what} ${(names as string[]).join(', ')}`).join('; ')}`);
    if (out.skipped.length > 0) {
      this.o.log.warn(`config.json defines ${out.skipped.join(', ')}, which a command defined first: they keep that definition (remove them with \`harness target remove\` / \`harness budget remove\` to use config.json's)`);
    }
  }

  /**
   * A slot with a process no one here watches: an earlier host started it. A worker still
   * running (its registered pid alive) is adopted; one that is gone frees its slot.
   */
  private async recover(slot: SlotRow, target: TargetRow | undefined): Promise<void> {
    const instance = this.store.getInstance(slot.worker_id);
    const pid = slot.pid ?? instance?.pid ?? null;
    // The pid is the worker's only if the worker registered with it: a pid may be reused.
    const alive = pid !== null && instance?.pid === pid && this.pidAlive(pid);
    if (alive) {
      const watched = this.watch(slot, this.o.launcher.adopt(this.adoptSpec(slot), pid), null);
      await this.fleet.slotRunning(slot.target, slot.slot, slot.generation, pid, this.host);
      this.o.log.info(`adopted worker ${slot.worker_id} (pid ${pid})`);
      if (!target || slot.state === 'stopping') await this.stop(watched);
      return;
    }
    if (slot.state === 'starting' && slot.pid === null) {
      // Claimed, but its host went away before it started a process: nothing to count.
      await this.fleet.dropSlot(slot.target, slot.slot, slot.generation);
      return;
    }
    await this.exited(slot, { code: null, signal: null, lost: true, tail: '' }, false);
  }

  /** What a launcher needs to find a running worker again (its terminal's name). */
  private adoptSpec(slot: SlotRow): LaunchSpec {
    return { target: slot.target, slot: slot.slot, worker_id: slot.worker_id, generation: slot.generation, title: titleOf(slot.target, slot.slot), argv: [], cwd: this.o.workspace, env: {}, run_id: runIdOf(slot.worker_id, slot.generation) };
  }

  /** What each worker of `target` is doing now. */
  private observe(slot: SlotRow, now: number): SlotObservation {
    const { worker_id, slot: n } = slot;
    if (slot.state === 'backoff') return { worker_id, slot: n, state: 'backoff' };
    if (slot.state === 'stopping') return { worker_id, slot: n, state: 'starting' }; // restarting
    const instance = this.store.getInstance(worker_id);
    // Heard from since this process started: the registration is its own, not its predecessor's.
    const heard = instance?.status === 'live' && slot.started_at !== null && instance.last_seen >= slot.started_at;
    if (!heard || this.launching.has(worker_id)) {
      this.idleSince.delete(worker_id);
      return { worker_id, slot: n, state: 'starting' };
    }
    if (this.store.heldBy(worker_id).length > 0) {
      this.idleSince.delete(worker_id);
      return { worker_id, slot: n, state: 'busy' };
    }
    const since = this.idleSince.get(worker_id) ?? now;
    this.idleSince.set(worker_id, since);
    return { worker_id, slot: n, state: 'idle', idleMs: now - since };
  }

  /** Ready tasks a worker of `target` could claim now (none while a budget stops its claims). */
  private readyFor(target: TargetRow): number {
    if (this.o.coordinator.budgets.closedFor(target.name).length > 0) return 0;
    return this.store.countReady(iso(this.clock.now()), new Set(target.capabilities));
  }

  private async scale(target: TargetRow): Promise<void> {
    const now = this.clock.now();
    // A worker being restarted keeps its place: it is not one fewer.
    const slots = this.store.fleet.slots(target.name).filter((s) => s.state !== 'stopping' || this.watched.get(s.worker_id)?.restart);
    const decision = decideScale(target, slots.map((s) => this.observe(s, now)), this.readyFor(target));
    const stopping = new Set(decision.stop);
    // A surplus worker being restarted is not started again.
    for (const id of stopping) {
      const w = this.watched.get(id);
      if (w) w.restart = false;
    }
    // Idle workers started under an older definition of the target make way for new ones.
    const definition = definitionOf(target);
    for (const s of slots) {
      const w = this.watched.get(s.worker_id);
      if (w && !stopping.has(s.worker_id) && w.definition !== null && w.definition !== definition && this.idleSince.has(s.worker_id)) {
        w.restart = true;
        stopping.add(s.worker_id);
      }
    }
    for (const s of slots) if (stopping.has(s.worker_id)) await this.stopSlot(s);
    if (target.state === 'failing') return;
    const nowIso = iso(now);
    for (const s of slots) {
      if (s.state === 'backoff' && s.restart_at !== null && s.restart_at <= nowIso && !stopping.has(s.worker_id)) await this.launch(target, s.slot);
    }
    const taken = new Set(this.store.fleet.slots(target.name).map((s) => s.slot));
    for (let n = 1, add = decision.add; add > 0; n++) {
      if (taken.has(n) || this.launching.has(workerIdOf(target.name, n))) continue;
      await this.launch(target, n);
      add--;
    }
  }

  // ---- starting and stopping ----

  private specOf(target: TargetRow, slot: Pick<SlotRow, 'slot' | 'worker_id'>, generation: number, cwd: string, extraEnv: Record<string, string>): LaunchSpec {
    const argv = [
      ...this.o.harness.argv,
      'work',
      '--name',
      titleOf(target.name, slot.slot),
      ...target.capabilities.flatMap((c) => ['--capability', c]),
      '--exit-on-crash',
      ...(target.usage ? ['--usage', target.usage] : []),
      ...(target.usage_model ? ['--usage-model', target.usage_model] : []),
      ...(target.shell ? ['--shell'] : []),
      '--',
      ...target.command,
    ];
    return {
      target: target.name,
      slot: slot.slot,
      worker_id: slot.worker_id,
      generation,
      title: titleOf(target.name, slot.slot),
      argv,
      cwd,
      env: {
        ...target.env,
        ...extraEnv,
        ...this.o.harness.env,
        HARNESS_SOCKET: this.o.socketPath,
        HARNESS_WORKSPACE: this.o.workspace,
        HARNESS_WORKTREE: this.o.workspace,
        HARNESS_WORKER_ID: slot.worker_id,
        HARNESS_TARGET: target.name,
        HARNESS_SLOT: String(slot.slot),
      },
      run_id: runIdOf(slot.worker_id, generation),
    };
  }

  /**
   * Claims the slot (durably: a host that dies right after finds it claimed), then starts the
   * process. The claim is awaited here, so the next reconcile counts the slot; the start is not.
   */
  private async launch(target: TargetRow, slotNo: number): Promise<void> {
    const worker = workerIdOf(target.name, slotNo);
    let slot: SlotRow;
    try {
      slot = await this.fleet.claimSlot(target.name, slotNo, this.host);
    } catch (e) {
      if (e instanceof HarnessError && e.code === ErrorCode.Conflict) return; // taken meanwhile: counted next time
      throw e;
    }
    const started = this.spawn(target, slot).finally(() => this.launching.delete(worker));
    this.launching.set(worker, started);
  }

  private async spawn(target: TargetRow, slot: SlotRow): Promise<void> {
    let handle: LaunchedWorker;
    try {
      const place = target.isolation === 'worktree' && this.o.isolate ? await this.o.isolate(slot.worker_id) : { cwd: this.o.workspace, env: {} };
      handle = await this.o.launcher.launch(this.specOf(target, slot, slot.generation, place.cwd, place.env));
    } catch (e) {
      this.o.log.warn(`could not start worker ${slot.worker_id}: ${describeError(e)}`);
      await this.fleet.slotExited(target.name, slot.slot, slot.generation, { description: `could not start: ${describeError(e)}`, abnormal: true, tail: describeError(e) });
      this.kick();
      return;
    }
    const w = this.watch(slot, handle, definitionOf(target));
    const running = await this.fleet.slotRunning(target.name, slot.slot, slot.generation, handle.pid, this.host);
    this.o.log.info(`started worker ${slot.worker_id}${handle.pid ? ` (pid ${handle.pid})` : ''}`);
    // Its target removed (or the slot freed) while it started: stopped now, not at the next tick.
    if (!running || running.state === 'stopping') await this.stop(w);
  }

  private watch(slot: SlotRow, handle: LaunchedWorker, definition: string | null): Watched {
    const w: Watched = {
      target: slot.target,
      slot: slot.slot,
      generation: slot.generation,
      worker_id: slot.worker_id,
      handle,
      definition,
      stopping: false,
      restart: false,
      gone: false,
      done: Promise.resolve(),
    };
    this.watched.set(slot.worker_id, w);
    w.done = handle.exited.then(async (exit) => {
      // Still watched (gone) until its exit is recorded: no reconcile takes it for an orphan meanwhile.
      w.gone = true;
      this.idleSince.delete(w.worker_id);
      const row = this.store.fleet.slots(w.target).find((s) => s.slot === w.slot && s.generation === w.generation);
      try {
        if (row) await this.exited(row, exit, w.stopping);
        if (this.watched.get(w.worker_id) === w) this.watched.delete(w.worker_id);
        const target = this.store.fleet.target(w.target);
        if (w.restart && target && !this.closed) await this.launch(target, w.slot);
      } catch (e) {
        this.o.log.error(`worker ${w.worker_id}: ${describeError(e)}`);
      } finally {
        if (this.watched.get(w.worker_id) === w) this.watched.delete(w.worker_id);
      }
      this.kick();
    });
    return w;
  }

  /** Records how a slot's process ended: the core frees the slot, or backs it off after a crash. */
  private async exited(slot: SlotRow, exit: WorkerExit, asked: boolean): Promise<void> {
    // A process found gone was not seen ending: a window closed with its terminals, or it ended
    // while no host watched. That is not a crash to back off from or count against the breaker.
    const abnormal = !asked && !exit.lost && (exit.code !== 0 || exit.signal !== null);
    const tail = exit.tail.trim() || this.lastFailure.get(slot.worker_id) || null;
    const event = await this.fleet.slotExited(slot.target, slot.slot, slot.generation, { description: describeExit(exit), abnormal, tail });
    if (!event) return;
    const then = event.restart_at ? `; restarting at ${event.restart_at}` : abnormal ? '; not restarting until the target is reset' : '';
    this.o.log[abnormal ? 'warn' : 'info'](`worker ${slot.worker_id} ${event.exit}${then}`);
  }

  private async stopSlot(slot: SlotRow): Promise<void> {
    const w = this.watched.get(slot.worker_id);
    if (w) return this.stop(w);
    if (slot.state === 'backoff') await this.fleet.dropSlot(slot.target, slot.slot, slot.generation);
  }

  private async stop(w: Watched): Promise<void> {
    if (w.stopping || w.gone) return;
    w.stopping = true;
    await this.fleet.slotStopping(w.target, w.slot, w.generation);
    this.o.log.info(`stopping worker ${w.worker_id}`);
    w.handle.stop();
  }

  /** Restart Worker: stops the process (its task is released) and starts the slot again at once. */
  async restart(workerId: string): Promise<TargetView> {
    const slot = this.store.fleet.slotOfWorker(workerId);
    if (!slot) throw new HarnessError(ErrorCode.NotFound, `worker ${workerId} belongs to no target`, { worker_id: workerId });
    const target = this.store.fleet.target(slot.target);
    if (!target) throw new HarnessError(ErrorCode.NotFound, `target ${slot.target} is being removed`, { target: slot.target });
    const w = this.watched.get(workerId);
    if (w) {
      w.restart = true;
      await this.stop(w);
    } else if (slot.state === 'backoff') {
      await this.fleet.dropSlot(slot.target, slot.slot, slot.generation);
      if (target.state === 'ok') await this.launch(target, slot.slot);
    }
    return this.fleet.get(slot.target);
  }

  /**
   * Stops looking. A headless host stops its workers too (each releases its task and
   * deregisters) and waits for them; a window leaves its terminals to the next window.
   */
  async close(timeoutMs = 20_000): Promise<void> {
    if (this.closed) return;
    await this.settled();
    this.closed = true;
    this.cancelTick();
    const workers = [...this.watched.values()];
    if (this.o.launcher.stopOnClose) {
      for (const w of workers) await this.stop(w).catch((e) => this.o.log.warn(`stopping ${w.worker_id}: ${describeError(e)}`));
      // Their exits recorded (durably) before the coordinator closes.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(workers.map((w) => w.done)), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    this.subscription.dispose();
  }
}

/** "Harness claude #2": a worker's terminal name. */
export function titleOf(target: string, slot: number): string {
  return `Harness ${target} #${slot}`;
}

/** The run a worker process's output is kept under; unique even if the run logs outlive the state. */
function runIdOf(workerId: string, generation: number): string {
  return `worker-${workerId}-g${generation}-${randomUUID().slice(0, 6)}`;
}

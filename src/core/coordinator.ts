import { randomUUID } from 'node:crypto';
import type { AnyCommand, ParsedParamsOf, ResultOf } from '../protocol/command';
import { MAX_DURATION_SECONDS } from '../protocol/durations';
import type { InstanceRegister, InstanceDeregister, InstanceHeartbeat } from '../protocol/instances';
import {
  DEFAULT_FAIL_RETRY,
  STATUS_MAX_GROUPS,
  TASK_PAGE_DEFAULT,
  type ClaimResult,
  type Status,
  type TaskList,
  type TaskClaim,
  type TaskComplete,
  type TaskFail,
  type TaskHeartbeat,
  type TaskProgressCommand,
  type TaskRelease,
} from '../protocol/tasks';
import { systemClock, iso, type Clock } from './clock';
import { findCycle } from './dag';
import { ErrorCode, HarnessError } from './errors';
import { TypedEmitter } from './events';
import type { Instance, InstanceView, Json, RetryBackoff, Task, TaskInput, TaskStatus } from './model';
import type { Store, StoreWriter, TaskRow } from './store';
import { assertTransition } from './transitions';
import { checkpointOf, GROUP_DEPENDENCY, groupStatus, type Checkpoint, type GroupStatus } from './convergence';
import { DEFAULT_PRIMITIVE_SETTINGS, Primitives, type PrimitiveEvents } from './primitives';

export interface CoordinatorConfig {
  /** Lease length for tasks that do not set `timeout_seconds`. */
  defaultTimeoutSeconds: number;
  defaultMaxAttempts: number;
  /** An instance not heard from for this long is stale. */
  staleInstanceMs: number;
  /** Live instances allowed at once; 0 means no limit. */
  instanceLimit: number;
  /** Versions kept per shared-state key. */
  stateHistoryLimit: number;
  /** Wait between a failure and the next attempt, for tasks that do not set `retry_backoff`; null: none. */
  retryBackoff: RetryBackoff | null;
}

export const DEFAULT_CONFIG: CoordinatorConfig = {
  defaultTimeoutSeconds: 300,
  defaultMaxAttempts: 3,
  staleInstanceMs: 60_000,
  instanceLimit: 0,
  retryBackoff: { strategy: 'exponential', delay_seconds: 5, max_delay_seconds: 300 },
  ...DEFAULT_PRIMITIVE_SETTINGS,
};

export interface CoordinatorEvents extends PrimitiveEvents {
  'task:added': { tasks: Task[] };
  'task:claimed': { task: Task; worker_id: string; is_retry: boolean; is_reclaim: boolean };
  'task:heartbeat': { task: Task };
  'task:progress': { task: Task };
  'task:completed': { task: Task };
  'task:failed': { task: Task; will_retry: boolean };
  'task:dead_letter': { task: Task };
  'task:released': { task: Task };
  'task:retried': { task: Task };
  'task:cancelled': { task: Task };
  'lease:expired': { task: Task };
  'instance:registered': { instance: Instance };
  'instance:stale': { instance: Instance; freed_tasks: string[] };
  'instance:deregistered': { worker_id: string; freed_tasks: string[] };
  'coordinator:error': { message: string };
}
export type CoordinatorEventName = keyof CoordinatorEvents;

export type { ClaimResult };

/**
 * Parameters arrive parsed and checked against the catalog's schemas (the dispatcher does it
 * once, at the edge); the coordinator applies its defaults and rules, never parses again.
 */
type Params<D extends AnyCommand> = ParsedParamsOf<D>;

/** A task as the coordinator stores it, before its row fields are filled in. */
type NewTask = Required<Pick<TaskInput, 'description' | 'dependencies' | 'priority' | 'capabilities'>> & Omit<TaskInput, 'id'>;

/** What a mutation collects: its changes go to the store, its events wait for durability. */
interface Tx {
  w: StoreWriter;
  emit<K extends CoordinatorEventName>(name: K, event: CoordinatorEvents[K]): void;
}

export function publicTask(row: TaskRow): Task {
  const { seq: _seq, unmet_deps: _unmet, ...task } = row;
  return task;
}

/** The longest backoff, whatever a strategy computes (doubling overflows fast). */
const MAX_BACKOFF_SECONDS = MAX_DURATION_SECONDS;

/** Seconds to wait after failed attempt number `attempt` (1 for the first). */
export function backoffSeconds(backoff: RetryBackoff, attempt: number): number {
  const raw = backoff.strategy === 'fixed' ? backoff.delay_seconds : backoff.delay_seconds * 2 ** Math.max(0, attempt - 1);
  return Math.min(raw, backoff.max_delay_seconds ?? MAX_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS);
}

/** The row without a retry time: it is being claimed, or no longer waits. */
function withoutRetryAt(row: TaskRow): TaskRow {
  if (row.retry_at === undefined) return row;
  const { retry_at: _retryAt, ...rest } = row;
  return rest;
}

/**
 * The coordinator: every rule about tasks, leases and instances, over a Store. Each mutation is
 * one store transaction; it resolves only when the change is durable, and its events are emitted
 * after that, so no one hears of a change that could still be lost.
 */
export class Coordinator {
  readonly events: TypedEmitter<CoordinatorEvents>;
  /** Locks, resource pools, shared state, mailboxes (src/core/primitives.ts). */
  readonly primitives: Primitives;
  private readonly startedAt: number;
  /** Leases we already announced as expired (task id and fencing token), to announce each once. */
  private announcedExpiries = new Set<string>();

  constructor(
    readonly store: Store,
    private config: CoordinatorConfig = DEFAULT_CONFIG,
    private readonly clock: Clock = systemClock,
    onListenerError: (e: unknown) => void = () => {},
  ) {
    this.events = new TypedEmitter<CoordinatorEvents>(onListenerError);
    this.startedAt = clock.now();
    this.primitives = new Primitives({
      store,
      clock,
      emit: (name, event) => this.events.emit(name, event as never),
      onAny: (listener) => this.events.onAny(listener),
      settings: () => this.config,
    });
  }

  get settings(): Readonly<CoordinatorConfig> {
    return this.config;
  }

  configure(config: Partial<CoordinatorConfig>): void {
    this.config = { ...this.config, ...config };
  }

  private async mutate<T>(fn: (tx: Tx) => T): Promise<T> {
    const events: Array<[CoordinatorEventName, unknown]> = [];
    const { value, durable } = this.store.transact((w) =>
      fn({ w, emit: (name, event) => events.push([name, event]) }),
    );
    await durable;
    for (const [name, event] of events) this.events.emit(name, event as never);
    return value;
  }

  private put(tx: Tx, row: TaskRow): Task {
    tx.w.apply({ op: 'task', row });
    return publicTask(row);
  }

  private nowIso(): string {
    return iso(this.clock.now());
  }

  private leaseEnd(row: TaskRow): string {
    return iso(this.clock.now() + row.timeout_seconds * 1000);
  }

  // ---- tasks ----

  /**
   * Adds tasks atomically: all of them, or none when any breaks a rule. `options.resources`: a
   * plan's pool capacities (`{"cpu_cores": 4}`), set in the same transaction.
   */
  async addTasks(inputs: readonly TaskInput[], options: { resources?: Record<string, number> | undefined } = {}): Promise<Task[]> {
    return this.mutate((tx) => {
      const now = this.nowIso();
      const batch = new Map<string, NewTask>();
      this.refuseTakenIds(inputs);
      for (const { id: given, ...input } of inputs) {
        const id = given ?? `task-${randomUUID().slice(0, 8)}`;
        if (batch.has(id)) throw new HarnessError(ErrorCode.AlreadyExists, `task id ${id} is given twice`, { task_id: id });
        batch.set(id, {
          ...input,
          description: input.description ?? '',
          dependencies: input.dependencies ?? [],
          priority: input.priority ?? 0,
          capabilities: input.capabilities ?? [],
        });
      }
      this.expandGroupDependencies(batch);
      for (const [id, input] of batch) {
        for (const dep of input.dependencies) {
          if (!batch.has(dep) && !this.store.getTask(dep)) {
            throw new HarnessError(ErrorCode.UnknownDependency, `task ${id} depends on unknown task ${dep}`, {
              task_id: id,
              dependency: dep,
            });
          }
        }
      }
      const cycle = findCycle(new Map([...batch].map(([id, input]) => [id, input.dependencies])));
      if (cycle) {
        throw new HarnessError(ErrorCode.Cycle, `dependency cycle: ${cycle.join(' -> ')}`, { cycle });
      }
      this.primitives.pools.checkTasks(tx, [...batch].map(([id, input]) => ({ id, resources: input.resources })), options.resources);
      let seq = Number(this.store.getMeta('task_seq') ?? 0);
      const added: Task[] = [];
      for (const [id, input] of batch) {
        const unmet = input.dependencies.filter((d) => batch.has(d) || this.store.getTask(d)?.status !== 'completed');
        added.push(
          this.put(tx, {
            id,
            description: input.description,
            dependencies: [...new Set(input.dependencies)],
            priority: input.priority,
            capabilities: input.capabilities,
            timeout_seconds: input.timeout_seconds ?? this.config.defaultTimeoutSeconds,
            max_attempts: input.max_attempts ?? this.config.defaultMaxAttempts,
            attempts: 0,
            status: 'pending',
            claimed_by: null,
            fencing_token: 0,
            started_at: null,
            lease_expires_at: null,
            completed_at: null,
            duration_ms: null,
            result: null,
            error: null,
            created_at: now,
            payload: input.payload ?? null,
            ...(input.resources && Object.keys(input.resources).length > 0 ? { resources: input.resources } : {}),
            ...(input.group ? { group: input.group } : {}),
            ...(input.retry_backoff ? { retry_backoff: input.retry_backoff } : {}),
            ...(input.source ? { source: input.source } : {}),
            seq: ++seq,
            unmet_deps: new Set(unmet).size,
          }),
        );
      }
      tx.w.apply({ op: 'meta', key: 'task_seq', value: String(seq) });
      tx.emit('task:added', { tasks: added });
      return added;
    });
  }

  /**
   * Hands `worker_id` a task: the one it already holds (renewed), else the best ready task or
   * expired lease it is capable of. Never the same task to two workers: the choice and the
   * write are one transaction.
   */
  async claim(p: Params<typeof TaskClaim>): Promise<ClaimResult> {
    return this.mutate((tx) => this.claimIn(tx, p));
  }

  private claimIn(tx: Tx, { worker_id, capabilities }: Params<typeof TaskClaim>): ClaimResult {
    const have = new Set(capabilities ?? this.store.getInstance(worker_id)?.capabilities ?? []);
    const capable = (t: TaskRow) => t.capabilities.every((c) => have.has(c));
    const now = this.nowIso();
    const fits = this.primitives.pools.claimFilter();
    const accept = (t: TaskRow) => capable(t) && fits(t);
    const held = this.store.heldBy(worker_id).find((t) => t.lease_expires_at! > now);
    if (held) {
      const task = this.put(tx, { ...held, started_at: now, lease_expires_at: this.leaseEnd(held) });
      tx.emit('task:claimed', { task, worker_id, is_retry: true, is_reclaim: false });
      return { task, is_retry: true, is_reclaim: false };
    }
    for (;;) {
      const expired = this.store.firstExpired(now, accept);
      const ready = this.store.firstReady(now, accept, have);
      const pick = expired && (!ready || expired.priority >= ready.priority) ? expired : ready;
      if (!pick) return { task: null, is_retry: false, is_reclaim: false };
      const isReclaim = pick === expired;
      if (isReclaim && pick.attempts >= pick.max_attempts) {
        this.deadLetter(tx, pick, `lease expired on attempt ${pick.attempts} of ${pick.max_attempts} (held by ${pick.claimed_by})`);
        continue;
      }
      assertTransition(pick.id, pick.status, 'running', 'claim');
      const task = this.put(tx, {
        ...withoutRetryAt(pick),
        status: 'running',
        attempts: pick.attempts + 1,
        claimed_by: worker_id,
        fencing_token: pick.fencing_token + 1,
        started_at: now,
        lease_expires_at: this.leaseEnd(pick),
      });
      tx.emit('task:claimed', { task, worker_id, is_retry: false, is_reclaim: isReclaim });
      return { task, is_retry: false, is_reclaim: isReclaim };
    }
  }

  private deadLetter(tx: Tx, row: TaskRow, error: string): Task {
    assertTransition(row.id, row.status, 'dead_letter', 'dead-letter');
    const task = this.put(tx, { ...row, status: 'dead_letter', lease_expires_at: null, error });
    tx.emit('task:dead_letter', { task });
    return task;
  }

  /** The task, checked to be held by `worker_id` under the current fencing token. */
  private held(params: { worker_id: string; task_id: string; fencing_token?: number | undefined }): TaskRow {
    const row = this.requireTask(params.task_id);
    if (row.status !== 'running' || row.claimed_by !== params.worker_id) {
      const why = row.status === 'running' ? `held by ${row.claimed_by}` : `it is ${row.status}`;
      throw new HarnessError(ErrorCode.NotClaimedBy, `task ${row.id} is not claimed by ${params.worker_id} (${why})`, {
        task_id: row.id,
        worker_id: params.worker_id,
        claimed_by: row.claimed_by,
        status: row.status,
      });
    }
    if (params.fencing_token !== undefined && params.fencing_token !== row.fencing_token) {
      throw new HarnessError(
        ErrorCode.StaleFencingToken,
        `task ${row.id}: fencing token ${params.fencing_token} is stale (current ${row.fencing_token}); the lease was taken over (now held by ${row.claimed_by})`,
        { task_id: row.id, fencing_token: row.fencing_token, claimed_by: row.claimed_by },
      );
    }
    return row;
  }

  /**
   * Ids given twice, or already taken by stored tasks: all of them named at once, so re-importing
   * a plan reads as what it is (its tasks exist already), not as a duplicate inside the file.
   */
  private refuseTakenIds(inputs: readonly TaskInput[]): void {
    const seen = new Map<string, number>();
    inputs.forEach(({ id }, i) => {
      if (id === undefined) return;
      const first = seen.get(id);
      if (first !== undefined) {
        throw new HarnessError(ErrorCode.AlreadyExists, `task id ${id} is given twice (tasks[${first}] and tasks[${i}])`, { task_id: id });
      }
      seen.set(id, i);
    });
    const taken = [...seen.keys()].flatMap((id) => {
      const row = this.store.getTask(id);
      return row ? [`${id} (${row.status})`] : [];
    });
    if (taken.length === 0) return;
    const first = taken[0]!.split(' ')[0]!;
    const message =
      inputs.length === 1
        ? `task ${taken[0]} already exists`
        : `${taken.length} of the ${inputs.length} tasks given already ${taken.length === 1 ? 'exists' : 'exist'}: ${taken.slice(0, 10).join(', ')}${taken.length > 10 ? ` and ${taken.length - 10} more` : ''}; nothing was added`;
    throw new HarnessError(ErrorCode.AlreadyExists, message, { task_id: first, existing: taken.length });
  }

  private requireTask(id: string): TaskRow {
    const row = this.store.getTask(id);
    if (!row) throw new HarnessError(ErrorCode.NotFound, `task ${id} does not exist`, { task_id: id });
    return row;
  }

  /**
   * `group:NAME` in a task's dependencies becomes every task of that group, in this plan or
   * stored: a barrier task inside the plan, ready once all of the group completed.
   */
  private expandGroupDependencies(batch: Map<string, NewTask>): void {
    const needsGroups = [...batch.values()].some((t) => t.dependencies.some((d) => GROUP_DEPENDENCY.test(d)));
    if (!needsGroups) return;
    for (const [id, input] of batch) {
      input.dependencies = input.dependencies.flatMap((dep) => {
        const group = GROUP_DEPENDENCY.exec(dep)?.[1];
        if (group === undefined) return [dep];
        const members = [
          ...[...batch].filter(([, t]) => t.group === group).map(([memberId]) => memberId),
          ...this.store.groupTasks(group).map((t) => t.id),
        ].filter((m) => m !== id);
        if (members.length === 0) {
          throw new HarnessError(ErrorCode.UnknownDependency, `task ${id} depends on group ${group}, which has no tasks`, {
            task_id: id,
            dependency: dep,
          });
        }
        return members;
      });
    }
  }

  /** A progress report from the holder; it renews the lease like a heartbeat. */
  async progress(p: Params<typeof TaskProgressCommand>): Promise<Task> {
    return this.mutate((tx) => {
      const row = this.held(p);
      this.primitives.pools.assertRenewable(row);
      const task = this.put(tx, {
        ...row,
        lease_expires_at: this.leaseEnd(row),
        progress: { percent: p.percent, message: p.message ?? null, at: this.nowIso() },
      });
      tx.emit('task:progress', { task });
      return task;
    });
  }

  /** Where every stream of a group stands: a pure read. */
  groupStatus(group: string): GroupStatus {
    return groupStatus(group, this.store.groupTasks(group).map(publicTask));
  }

  /**
   * Records a checkpoint of a group (every stream's status and latest progress) durably, in the
   * shared state under `checkpoints/<group>`, whose history keeps the recent ones.
   */
  async recordCheckpoint(group: string): Promise<Checkpoint> {
    const checkpoint = checkpointOf(this.groupStatus(group), this.nowIso());
    await this.primitives.state.put({ key: `checkpoints/${group}`, value: checkpoint as unknown as Json });
    return checkpoint;
  }

  /** The recorded checkpoints of a group, oldest first. */
  listCheckpoints(group: string): Checkpoint[] {
    return this.primitives.state
      .history({ key: `checkpoints/${group}` })
      .versions.filter((v) => v.value !== null && !v.deleted)
      .map((v) => v.value as unknown as Checkpoint)
      .reverse();
  }

  async heartbeat(p: Params<typeof TaskHeartbeat>): Promise<Task> {
    return this.mutate((tx) => {
      const row = this.held(p);
      this.primitives.pools.assertRenewable(row);
      const task = this.put(tx, { ...row, lease_expires_at: this.leaseEnd(row) });
      tx.emit('task:heartbeat', { task });
      return task;
    });
  }

  async complete(p: Params<typeof TaskComplete>): Promise<Task> {
    return this.mutate((tx) => this.completeIn(tx, p));
  }

  /**
   * Completes a task and claims the worker's next one in the same transaction: one durable write
   * and one round trip per task for a worker that goes straight on (as a job queue's worker
   * completes a job and fetches the next in one call). The completion is kept whether or not a
   * task was there to claim.
   */
  async completeAndClaim(p: Params<typeof TaskComplete>, next: Omit<Params<typeof TaskClaim>, 'worker_id'>): Promise<{ task: Task; next: ClaimResult }> {
    return this.mutate((tx) => ({ task: this.completeIn(tx, p), next: this.claimIn(tx, { ...next, worker_id: p.worker_id }) }));
  }

  private completeIn(tx: Tx, p: Params<typeof TaskComplete>): Task {
    const row = this.held(p);
    assertTransition(row.id, row.status, 'completed', 'complete');
    const now = this.clock.now();
    const task = this.put(tx, {
      ...row,
      status: 'completed',
      completed_at: iso(now),
      duration_ms: row.started_at ? now - Date.parse(row.started_at) : null,
      lease_expires_at: null,
      result: (p.result ?? null) as Json,
    });
    for (const id of this.store.dependents(row.id)) {
      const dependent = this.store.getTask(id)!;
      this.put(tx, { ...dependent, unmet_deps: Math.max(0, dependent.unmet_deps - 1) });
    }
    tx.emit('task:completed', { task });
    return task;
  }

  async fail(p: Params<typeof TaskFail>): Promise<Task> {
    return this.mutate((tx) => {
      const row = this.held(p);
      if (!(p.retry ?? DEFAULT_FAIL_RETRY) || row.attempts >= row.max_attempts) {
        const task = this.deadLetter(tx, row, p.error);
        tx.emit('task:failed', { task, will_retry: false });
        return task;
      }
      assertTransition(row.id, row.status, 'pending', 'fail');
      const backoff = row.retry_backoff ?? this.config.retryBackoff;
      const wait = backoff ? backoffSeconds(backoff, row.attempts) : 0;
      const task = this.put(tx, {
        ...row,
        status: 'pending',
        claimed_by: null,
        lease_expires_at: null,
        error: p.error,
        ...(wait > 0 ? { retry_at: iso(this.clock.now() + wait * 1000) } : {}),
      });
      tx.emit('task:failed', { task, will_retry: true });
      return task;
    });
  }

  /** Gives a claimed task back without using up an attempt. */
  async release(p: Params<typeof TaskRelease>): Promise<Task> {
    return this.mutate((tx) => {
      const row = this.held(p);
      assertTransition(row.id, row.status, 'pending', 'release');
      const task = this.put(tx, {
        ...row,
        status: 'pending',
        attempts: Math.max(0, row.attempts - 1),
        claimed_by: null,
        lease_expires_at: null,
      });
      tx.emit('task:released', { task });
      return task;
    });
  }

  /** Puts a dead-lettered task back in the queue with its attempts reset. */
  async retry({ task_id }: { task_id: string }): Promise<Task> {
    return this.mutate((tx) => {
      const row = this.requireTask(task_id);
      if (row.status !== 'dead_letter') {
        throw new HarnessError(ErrorCode.InvalidTransition, `cannot retry task ${task_id}: it is ${row.status}, not dead_letter`, {
          task_id,
          status: row.status,
        });
      }
      const task = this.put(tx, { ...withoutRetryAt(row), status: 'pending', attempts: 0, claimed_by: null, lease_expires_at: null, error: null });
      tx.emit('task:retried', { task });
      return task;
    });
  }

  async cancel({ task_id }: { task_id: string }): Promise<Task> {
    return this.mutate((tx) => {
      const row = this.requireTask(task_id);
      assertTransition(row.id, row.status, 'cancelled', 'cancel');
      const task = this.put(tx, { ...row, status: 'cancelled', lease_expires_at: null });
      tx.emit('task:cancelled', { task });
      return task;
    });
  }

  getTask(taskId: string): Task {
    return publicTask(this.requireTask(taskId));
  }

  listTasks(status?: TaskStatus): Task[] {
    return this.store.listTasks(status).map(publicTask);
  }

  /**
   * One page of tasks, oldest first. The cursor is the `seq` of the last task of the previous
   * page, so a task added meanwhile shows on a later page and none is listed twice.
   */
  listTaskPage({ status, group, limit = TASK_PAGE_DEFAULT, cursor }: Params<typeof TaskList>): { tasks: Task[]; next_cursor: string | null } {
    const rows = this.store.listTasksPage({ afterSeq: cursor === undefined ? 0 : Number(cursor), limit: limit + 1, status, group });
    const page = rows.slice(0, limit);
    return { tasks: page.map(publicTask), next_cursor: rows.length > limit ? String(page.at(-1)!.seq) : null };
  }

  countTasks(): Record<TaskStatus, number> {
    return this.store.countTasks();
  }

  /** Ready = pending with every dependency completed and no retry backoff left: claimable now. */
  isReady(task: Task): boolean {
    return task.status === 'pending' && this.store.getTask(task.id)?.unmet_deps === 0 && !(task.retry_at !== undefined && task.retry_at > this.nowIso());
  }

  /** How many tasks are ready now, without listing them. */
  countReady(): number {
    return this.store.countReady(this.nowIso());
  }

  /** Counts by status, ready tasks, live workers, and counts per group (the first STATUS_MAX_GROUPS by name). */
  summary(): ResultOf<typeof Status> {
    const { counts, ready, groups } = this.store.taskSummary();
    const names = [...groups.keys()].sort();
    return {
      counts,
      ready,
      instances: this.store.listInstances().filter((i) => i.status === 'live').length,
      groups: Object.fromEntries(names.slice(0, STATUS_MAX_GROUPS).map((name) => [name, groups.get(name)!])),
      groups_truncated: names.length > STATUS_MAX_GROUPS,
    };
  }

  // ---- instances ----

  async registerInstance(p: Params<typeof InstanceRegister>): Promise<Instance> {
    return this.mutate((tx) => {
      const existing = this.store.getInstance(p.worker_id);
      if (existing?.status !== 'live') {
        const live = this.store.listInstances().filter((i) => i.status === 'live');
        if (this.config.instanceLimit > 0 && live.length >= this.config.instanceLimit) {
          throw new HarnessError(
            ErrorCode.InstanceLimit,
            `instance limit reached: ${live.length} of ${this.config.instanceLimit} live instances ` +
              `(${live.map((i) => i.worker_id).join(', ')}); stop one, or raise the limit: ` +
              '`harness serve --instance-limit N`, or the VS Code setting agentHarness.instanceLimit (0: no limit)',
            { limit: this.config.instanceLimit },
          );
        }
      }
      const now = this.nowIso();
      const instance: Instance = {
        worker_id: p.worker_id,
        name: p.name ?? existing?.name ?? p.worker_id,
        capabilities: p.capabilities ?? existing?.capabilities ?? [],
        pid: p.pid ?? existing?.pid ?? null,
        status: 'live',
        registered_at: existing?.status === 'live' ? existing.registered_at : now,
        last_seen: now,
      };
      tx.w.apply({ op: 'instance', row: instance });
      tx.emit('instance:registered', { instance });
      return instance;
    });
  }

  async heartbeatInstance({ worker_id }: Params<typeof InstanceHeartbeat>): Promise<Instance> {
    return this.mutate((tx) => {
      const existing = this.requireInstance(worker_id);
      if (existing.status === 'stale') {
        throw new HarnessError(ErrorCode.InstanceStale, `instance ${worker_id} was marked stale; register it again`, {
          worker_id,
        });
      }
      const instance = { ...existing, last_seen: this.nowIso() };
      tx.w.apply({ op: 'instance', row: instance });
      return instance;
    });
  }

  async deregisterInstance({ worker_id }: Params<typeof InstanceDeregister>): Promise<{ worker_id: string; freed_tasks: string[] }> {
    return this.mutate((tx) => {
      this.requireInstance(worker_id);
      tx.w.apply({ op: 'instance_delete', worker_id });
      const freed_tasks = this.freeLeases(tx, worker_id);
      this.primitives.releaseHolder(tx, worker_id);
      tx.emit('instance:deregistered', { worker_id, freed_tasks });
      return { worker_id, freed_tasks };
    });
  }

  private requireInstance(workerId: string): Instance {
    const instance = this.store.getInstance(workerId);
    if (!instance) throw new HarnessError(ErrorCode.NotFound, `instance ${workerId} is not registered`, { worker_id: workerId });
    return instance;
  }

  /** Ends the leases `workerId` holds now, so the next claim reclaims them at once. */
  private freeLeases(tx: Tx, workerId: string): string[] {
    const now = this.nowIso();
    return this.store.heldBy(workerId).map((row) => {
      const task = this.put(tx, { ...row, lease_expires_at: now });
      tx.emit('lease:expired', { task });
      this.announcedExpiries.add(`${task.id}:${task.fencing_token}`);
      return task.id;
    });
  }

  listInstances(): InstanceView[] {
    const now = this.clock.now();
    return this.store.listInstances().map((i) => ({
      ...i,
      last_seen_age_ms: Math.max(0, now - Date.parse(i.last_seen)),
      current_task: this.store.heldBy(i.worker_id)[0]?.id ?? null,
    }));
  }

  /**
   * Marks instances not heard from within the stale timeout as stale and frees their leases;
   * announces leases that ran out. An instance gets the whole timeout after this coordinator
   * started, so a restart after downtime does not declare every worker dead at once.
   */
  async sweep(): Promise<{ stale: string[]; expired: string[] }> {
    const now = this.clock.now();
    const stale = this.store
      .listInstances()
      .filter((i) => i.status === 'live' && Math.max(Date.parse(i.last_seen), this.startedAt) + this.config.staleInstanceMs <= now);
    const result = { stale: [] as string[], expired: [] as string[] };
    if (stale.length > 0) {
      await this.mutate((tx) => {
        for (const existing of stale) {
          const instance: Instance = { ...existing, status: 'stale' };
          tx.w.apply({ op: 'instance', row: instance });
          const freed_tasks = this.freeLeases(tx, instance.worker_id);
          this.primitives.releaseHolder(tx, instance.worker_id);
          tx.emit('instance:stale', { instance, freed_tasks });
          result.stale.push(instance.worker_id);
        }
      });
    }
    await this.primitives.sweep(); // locks and holds past their TTL
    // Expired leases are data: announcing them writes nothing.
    const current = new Set<string>();
    for (const row of this.store.listExpired(iso(this.clock.now()))) {
      const key = `${row.id}:${row.fencing_token}`;
      current.add(key);
      if (this.announcedExpiries.has(key)) continue;
      result.expired.push(row.id);
      this.events.emit('lease:expired', { task: publicTask(row) });
    }
    // Forget leases that were reclaimed or finished since, so the set stays small.
    this.announcedExpiries = current;
    return result;
  }

  async close(): Promise<void> {
    this.primitives.close();
    await this.store.close();
  }
}

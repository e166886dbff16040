// The MCP process is the worker. It registers with the coordinator, heartbeats its instance and
// renews the task leases and file locks it holds in the background (agents do not heartbeat
// during a long tool call; they need not), keeps the fencing tokens (the agent names tasks by id
// only), survives the coordinator restarting (reconnect, register again, keep the leases that are
// still valid), and when the session ends gives everything back at once.
import type { HarnessClient } from '../client/client';
import { ResilientClient } from '../client/resilient-client';
import type { Notifier } from '../protocol/api';
import type { AnyCommand } from '../protocol/command';
import { ErrorCode, HarnessError, describeError } from '../protocol/errors';
import { InstanceDeregister, InstanceHeartbeat, InstanceRegister } from '../protocol/instances';
import { LockAcquire, LockRelease, LockRenew, type Lock } from '../protocol/locks';
import type { Logger } from '../protocol/log';
import type { Task } from '../protocol/model';
import { TaskClaim, TaskHeartbeat, TaskRelease } from '../protocol/tasks';
import { fillsOf, type McpTool } from './tools';

export interface SessionOptions {
  socketPath: string;
  workerId: string;
  /** The name people see in the Instances view. */
  name: string;
  /** How often the instance heartbeats (leases are renewed at a third of their length if that is sooner). */
  heartbeatMs: number;
  /** How long a tool call waits for an unreachable coordinator before it fails with CLOSED. */
  connectWaitMs: number;
  log: Logger;
}

/** A lease this worker holds: the task's fencing token and how long the lease runs. */
interface HeldLease {
  token: number;
  timeoutMs: number;
}

/**
 * What the MCP process adds to a command's parameters beyond the worker's own fields, by command
 * name: what it knows and the agent does not. Empty for now; usage reporting on `task_complete`
 * (the session's token use, once the catalog has a field for it) goes here.
 */
export const ENRICH: Partial<Record<string, (params: Record<string, unknown>, session: WorkerSession) => Record<string, unknown>>> = {};

/** Shortest gap between two rounds of renewals, whatever the leases say. */
const MIN_RENEW_MS = 100;

/** Codes that mean a lease (or lock) is no longer ours: stop renewing it. */
const LOST: ReadonlySet<string> = new Set([ErrorCode.NotClaimedBy, ErrorCode.StaleFencingToken, ErrorCode.NotFound, ErrorCode.LeaseExpired]);

export class WorkerSession {
  private readonly link: ResilientClient;
  private readonly leases = new Map<string, HeldLease>();
  private readonly locks = new Map<number, { ttlMs: number }>();
  private connected: HarnessClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: SessionOptions) {
    this.link = new ResilientClient(
      options.socketPath,
      (attempt, e) => {
        if (attempt === 1 || attempt % 20 === 0) options.log.warn(`coordinator unreachable (${e.message.split(';')[0]}); reconnecting`);
      },
      { giveUpAfterMs: Infinity, onConnect: (client) => this.attach(client) },
    );
  }

  get workerId(): string {
    return this.options.workerId;
  }

  /** The coordinator connection, when there is one now (exec streams its output there). */
  get coordinator(): Notifier | undefined {
    return this.connected && !this.connected.closed ? this.connected : undefined;
  }

  /** Task ids whose leases this worker holds (and renews). */
  get heldTasks(): string[] {
    return [...this.leases.keys()];
  }

  /** Connects (in the background, for as long as it takes) and starts heartbeating. */
  start(): void {
    this.reconnect();
    this.schedule();
  }

  private reconnect(): void {
    if (this.closing) return;
    this.link.current().catch((e) => this.options.log.error(`could not reach the coordinator: ${describeError(e)}`));
  }

  /** On every new connection: register (again; a live instance keeps its leases), and watch it. */
  private async attach(client: HarnessClient): Promise<void> {
    await this.register(client);
    const again = this.connected !== undefined;
    this.connected = client;
    this.options.log.info(`${again ? 'registered again' : 'registered'} as ${this.workerId} with the coordinator at ${this.options.socketPath}`);
    client.onClose(() => {
      if (this.closing) return;
      this.options.log.warn('the coordinator connection closed; reconnecting');
      this.reconnect();
    });
  }

  private async register(client: HarnessClient): Promise<void> {
    await client.call(InstanceRegister, { worker_id: this.workerId, name: this.options.name, pid: process.pid });
  }

  /** Runs a tool's command with the worker's own fields filled in; the result, or a HarnessError. */
  async call(tool: McpTool, args: Record<string, unknown>): Promise<unknown> {
    const command = tool.command!;
    const params = this.fill(tool, args);
    const client = await this.link.current(this.options.connectWaitMs);
    let result: unknown;
    try {
      result = await client.call(command, params as never);
    } catch (e) {
      if (!(e instanceof HarnessError)) throw e;
      if (e.code === ErrorCode.Closed && command.kind === 'query') return this.call(tool, args); // safe to send again
      if (e.code === ErrorCode.Closed) {
        throw new HarnessError(
          ErrorCode.Closed,
          `the coordinator went away while ${command.name} was in flight, so it may or may not have been applied; ` +
            'read the state again (task_get, task_list) before repeating it',
        );
      }
      const field = fillsOf(command).task;
      const task = field !== undefined ? String(args[field]) : undefined;
      if (task !== undefined && LOST.has(e.code) && this.leases.delete(task)) this.options.log.warn(`lease of task ${task} lost: ${e.message}`);
      throw e;
    }
    this.track(command, result);
    return result;
  }

  /** The command's parameters: the agent's, with this worker's id and the lease's fencing token. */
  private fill(tool: McpTool, args: Record<string, unknown>): Record<string, unknown> {
    const command = tool.command!;
    for (const key of Object.keys(args)) {
      if (tool.filled.includes(key)) {
        throw new HarnessError(ErrorCode.InvalidArgument, `invalid ${tool.name}: ${key}: filled in by harness mcp (this worker is ${this.workerId}); leave it out`, { field: key });
      }
      if (!Object.hasOwn(tool.inputSchema.properties ?? {}, key)) {
        throw new HarnessError(ErrorCode.InvalidArgument, `invalid ${tool.name}: ${key}: unknown field`, { field: key });
      }
    }
    const params = { ...args };
    const { worker, fencingToken, task } = fillsOf(command);
    if (worker) params[worker] = this.workerId;
    const lease = task !== undefined ? this.leases.get(String(args[task])) : undefined;
    if (fencingToken && lease) params[fencingToken] = lease.token;
    return ENRICH[command.name]?.(params, this) ?? params;
  }

  /** Keeps the leases and locks this worker holds, from the commands' results. */
  private track(command: AnyCommand, result: unknown): void {
    const task = (result as { task?: Task | null }).task;
    if (fillsOf(command).task !== undefined && task) {
      // complete, fail, release: the lease is given back.
      if (task.status !== 'running' || task.claimed_by !== this.workerId) this.leases.delete(task.id);
    } else if (command === TaskClaim && task) {
      this.leases.set(task.id, { token: task.fencing_token, timeoutMs: task.timeout_seconds * 1000 });
    }
    if (command === LockAcquire) {
      const { lock } = result as { lock: Lock };
      this.locks.set(lock.token, { ttlMs: lock.ttl_seconds * 1000 });
    } else if (command === LockRelease) {
      for (const lock of (result as { released: Lock[] }).released) this.locks.delete(lock.token);
    }
  }

  // ---- background renewals ----

  private schedule(): void {
    if (this.closing) return;
    const spans = [...[...this.leases.values()].map((l) => l.timeoutMs / 3), ...[...this.locks.values()].map((l) => l.ttlMs / 3)];
    const every = Math.max(MIN_RENEW_MS, Math.min(this.options.heartbeatMs, ...spans));
    this.timer = setTimeout(() => void this.renew().finally(() => this.schedule()), every);
    this.timer.unref(); // stdin keeps the process alive, not this
  }

  private async renew(): Promise<void> {
    const client = this.connected?.closed === false ? this.connected : undefined;
    if (!client) return; // the reconnect loop is at work; it registers again when it gets through
    const w = this.workerId;
    try {
      await client.call(InstanceHeartbeat, { worker_id: w });
    } catch (e) {
      if (e instanceof HarnessError && (e.code === ErrorCode.InstanceStale || e.code === ErrorCode.NotFound)) {
        this.options.log.warn(`${e.message}; registering again`);
        await this.register(client).catch((err) => this.options.log.error(`could not register again: ${describeError(err)}`));
      } else if (!(e instanceof HarnessError && e.code === ErrorCode.Closed)) {
        this.options.log.warn(`heartbeat failed: ${describeError(e)}`);
      }
    }
    await Promise.all([
      ...[...this.leases].map(([task_id, lease]) =>
        client.call(TaskHeartbeat, { worker_id: w, task_id, fencing_token: lease.token }).catch((e) => this.lost(e, `lease of task ${task_id}`, () => this.leases.delete(task_id))),
      ),
      ...[...this.locks.keys()].map((token) =>
        client.call(LockRenew, { worker_id: w, token }).catch((e) => this.lost(e, `lock ${token}`, () => this.locks.delete(token))),
      ),
    ]);
  }

  private lost(e: unknown, what: string, forget: () => void): void {
    if (e instanceof HarnessError && LOST.has(e.code)) {
      forget();
      this.options.log.warn(`${what} lost: ${e.message}`);
    } else if (!(e instanceof HarnessError && e.code === ErrorCode.Closed)) {
      this.options.log.warn(`could not renew the ${what}: ${describeError(e)}`);
    }
  }

  /**
   * The session ended (stdin closed, or a signal): give the held tasks back without using up an
   * attempt, and deregister (which frees locks and holds too). Waits for the coordinator briefly;
   * if it is not there, the stale timeout frees everything instead.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.timer);
      const client = this.connected?.closed === false ? this.connected : undefined;
      if (client) {
        const w = this.workerId;
        await Promise.all(
          [...this.leases].map(([task_id, lease]) =>
            client
              .call(TaskRelease, { worker_id: w, task_id, fencing_token: lease.token })
              .then(() => this.options.log.info(`released task ${task_id}`))
              .catch((e) => this.options.log.warn(`could not release task ${task_id}: ${describeError(e)}`)),
          ),
        );
        await client.call(InstanceDeregister, { worker_id: w }).catch((e) => this.options.log.warn(`could not deregister: ${describeError(e)}`));
        this.options.log.info(`deregistered ${w}`);
      }
      this.link.close();
    })();
    return this.closing;
  }
}

// One coordinator of a cluster. Every node keeps the whole state in memory from the JetStream log
// (a hot standby applies each record the leader appends); one of them, the holder of the leader
// key, takes writes. Requests on a node's socket are answered by the leader: in place when this
// node leads, else forwarded over NATS. A take-over: stop following, read the log to its end,
// append a record naming the new leader (which also fences any earlier leader still writing),
// then answer. Losing the lease, or any append the log refused, sends the node back to following.
import { hostname } from 'node:os';
import type { NatsConnection } from '@nats-io/transport-node';
import { systemClock, type Clock } from '../core/clock';
import { Coordinator, DEFAULT_CONFIG, type CoordinatorConfig } from '../core/coordinator';
import { describeError, ErrorCode, isHarnessError } from '../core/errors';
import type { Disposable } from '../core/events';
import type { Logger } from '../core/log';
import { workersAvailable } from '../core/snapshot-jobs';
import type { EventLine, Reply } from '../protocol/messages';
import { ISOLATION_COMMANDS } from '../protocol/isolation';
import type { ClusterStatus } from '../protocol/cluster';
import { RUN_COMMANDS } from '../protocol/runs';
import type { ServerContext } from '../server/context';
import { PlanStaging } from '../server/plan-staging';
import { handleLine } from '../server/request-line';
import type { RunRegistry } from '../server/runs';
import { connectNats, describeNatsError, payloadLimit } from './connection';
import { forwardLine, peek } from './forward';
import { ClusterEvents } from './events';
import { JetStreamLog, type Following } from './jetstream-log';
import { Leadership } from './leadership';
import { clusterNames, type ClusterNames } from './names';
import { nats } from './nats-loader';
import { provision, type ClusterResources } from './provision';
import { ReplicatedStore } from './replicated-store';
import { RpcClient, RpcServer, type LeaderSource } from './rpc';
import { describeSettings, type ClusterSettings } from './settings';
import { SnapshotStore } from './snapshots';

/** The meta key of the record each new leader appends first. */
export const LEADER_META = 'cluster_leader';

/** Commands answered by the node a client is connected to, never forwarded: what is per machine. */
const LOCAL_COMMANDS = new Set(['ping', 'subscribe', ...RUN_COMMANDS.map((c) => c.name), ...ISOLATION_COMMANDS.map((c) => c.name)]);

export interface ClusterNodeOptions {
  settings: ClusterSettings;
  /** The workspace folder this host serves (lock paths are relative to it). */
  workspace: string;
  stateDir: string;
  /** This host's exec runs. */
  runs: RunRegistry;
  config?: Partial<CoordinatorConfig>;
  clock?: Clock;
  log: Logger;
  /** A snapshot is written (and the log trimmed) once this many bytes were appended since the last. */
  snapshotAfterBytes?: number;
  publishTimeoutMs?: number;
  sweepIntervalMs?: number;
  /** Build snapshots in a worker thread (default: where its code is found). */
  workers?: boolean;
  /** Told of each coordinator this node builds: at start, and after reloading from the log. */
  onCoordinator?(coordinator: Coordinator): void;
}

type Role = 'standby' | 'promoting' | 'leader';

interface Generation {
  log: JetStreamLog;
  store: ReplicatedStore;
  coordinator: Coordinator;
  published: Disposable;
}

/** Ping's answer, with what this coordinator says about the cluster. */
function withClusterStatus(line: string, answer: Reply | EventLine | undefined, node: { status(): ClusterStatus }): Reply | EventLine | undefined {
  // A pattern first: this runs for every request the leader answers, and most are not pings.
  if (answer && 'status' in answer && answer.status === 'ok' && /"ping"/.test(line) && peek(line)?.command === 'ping') {
    return { ...answer, data: { ...(answer.data as object), cluster: node.status() } };
  }
  return answer;
}

const isNotLeader = (r: Reply | EventLine) => 'status' in r && r.status === 'error' && r.code === ErrorCode.NotLeader;

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** How long loading the state keeps trying while snapshots move under it. */
const BUILD_RETRY_MS = 60_000;

export class ClusterNode {
  private role: Role = 'standby';
  private gen!: Generation;
  private following: Following | undefined;
  private followTrouble: unknown;
  private writeFailed = false;
  private wake: () => void = () => {};
  private closed = false;
  private loop: Promise<void> = Promise.resolve();
  private leaderWaiters: Array<() => void> = [];
  /** Aborted when this node stops leading: requests waiting on the leader give up. */
  private term = new AbortController();
  private timers: NodeJS.Timeout[] = [];
  private snapshotting: Promise<void> | undefined;
  private readonly leadership: Leadership;
  private readonly snapshots: SnapshotStore;
  private readonly rpcServer: RpcServer;
  private readonly rpcClient: RpcClient;
  readonly events: ClusterEvents;
  private readonly log: Logger;
  /** Plans sent in pieces to this node while it leads. */
  private readonly staging = new PlanStaging();
  private readonly maxBytes: number;

  private constructor(
    private readonly options: ClusterNodeOptions,
    private readonly nc: NatsConnection,
    readonly names: ClusterNames,
    readonly id: string,
    private readonly resources: ClusterResources,
  ) {
    this.log = options.log;
    this.maxBytes = payloadLimit(nc);
    this.snapshots = new SnapshotStore(resources.metaKv, resources.snapshots);
    this.events = new ClusterEvents(nc, names, this.maxBytes);
    this.leadership = new Leadership({
      kv: resources.leaderKv,
      self: { node: id, host: hostname(), pid: process.pid },
      ttlMs: resources.leaderTtlMs,
      log: this.log,
      onChange: () => this.leaderChanged(),
    });
    const leaders: LeaderSource = {
      current: () => this.leadership.leader?.node,
      changed: () => new Promise<void>((r) => this.leaderWaiters.push(r)),
    };
    this.rpcClient = new RpcClient(nc, names, this.maxBytes, leaders);
    this.rpcServer = new RpcServer(nc, names, id, this.maxBytes, async (line, signal) => {
      const own = await this.lead(line, signal);
      // A notification that succeeded has no answer: `null` says so.
      return JSON.stringify(own ? (own.answer ?? null) : this.notLeaderReply(line));
    }, this.log);
  }

  /** Connects, opens (or creates) the cluster's stream and buckets, loads the state, and starts as a standby. */
  static async start(options: ClusterNodeOptions): Promise<ClusterNode> {
    const names = clusterNames(options.settings.cluster);
    const id = `${hostname().replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40)}-${process.pid}-${nats().nuid.next().slice(-6)}`;
    const nc = await connectNats(options.settings, `harness ${id}`);
    try {
      const resources = await provision(nc, names, { ...(options.settings.replicas ? { replicas: options.settings.replicas } : {}), leaderTtlMs: options.settings.leaderTtlMs });
      const node = new ClusterNode(options, nc, names, id, resources);
      node.gen = await node.build();
      options.onCoordinator?.(node.gen.coordinator);
      node.log.info(
        `${describeSettings(options.settings)}: node ${id}, state at record ${node.gen.store.sequence} ` +
          `(snapshot ${node.gen.store.stats.snapshot_bytes} bytes, ${node.gen.store.stats.journal_records} records read in ${node.gen.store.stats.open_ms.toFixed(0)} ms)`,
      );
      node.startFollowing();
      node.rpcServer.start();
      // The first look at the leader key before answering anything: who leads is known from the start.
      await node.leadership.start();
      node.loop = node.run();
      return node;
    } catch (e) {
      await nc.close().catch(() => {});
      throw e;
    }
  }

  get coordinator(): Coordinator {
    return this.gen.coordinator;
  }

  /** Whether this node answers writes right now. */
  get leading(): boolean {
    return this.role === 'leader' && this.leadership.leading;
  }

  status(): ClusterStatus {
    return { cluster: this.names.cluster, node: this.id, role: this.role, leader: this.leadership.leader ?? null, record: this.gen.store.sequence };
  }

  /**
   * A coordinator and store over the log as it stands, retried when a snapshot moved while it
   * loaded. Under load the leader snapshots and trims often, and the pointer a replica answers with
   * may be a moment behind the trim: the tries back off (0.1 s doubling to 2 s) for up to 60 s.
   */
  private async build(): Promise<Generation> {
    const { config, clock, log } = this.options;
    const giveUp = performance.now() + BUILD_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      const jetstream = new JetStreamLog({
        js: this.resources.js,
        jsm: this.resources.jsm,
        names: this.names,
        node: this.id,
        snapshots: this.snapshots,
        maxMessageBytes: this.maxBytes,
        publishTimeoutMs: this.options.publishTimeoutMs ?? 5000,
        mayWrite: () => this.leadership.leading,
        onWriteFailure: (kind, error) => {
          this.writeFailed = true;
          log.warn(`the cluster log refused a write (${kind}): ${error.message}`);
          this.wake();
        },
        log: (level, message) => log[level](message),
      });
      try {
        const store = await ReplicatedStore.open(jetstream, { log: (level, message) => log[level](message) });
        const coordinator = new Coordinator(store, { ...DEFAULT_CONFIG, ...config }, clock ?? systemClock, (e) =>
          log.error(`event listener failed: ${describeError(e)}`),
        );
        // Only a leader's coordinator changes anything, so only a leader's events are published.
        const published = coordinator.events.onAny((name, data) => this.events.publish(name, data));
        return { log: jetstream, store, coordinator, published };
      } catch (e) {
        const moved = isHarnessError(e) && (e.code === ErrorCode.NotFound || (e.code === ErrorCode.StateCorrupt && e.details?.gap === true));
        if (!moved || performance.now() > giveUp) throw e;
        log.warn(`reading the cluster state again: ${describeError(e)}`);
        await delay(Math.min(2000, 100 * 2 ** (attempt - 1)));
      }
    }
  }

  private startFollowing(): void {
    const { log, store } = this.gen;
    const following = log.follow((record) => store.applyRecord(record));
    this.following = following;
    following.ended.then(
      () => this.followEnded(following, new Error('the log consumer ended')),
      (e: unknown) => this.followEnded(following, e),
    );
  }

  private followEnded(following: Following, trouble: unknown): void {
    if (this.following !== following) return; // stopped on purpose
    this.following = undefined;
    this.followTrouble = trouble;
    this.wake();
  }

  private async stopFollowing(): Promise<void> {
    const following = this.following;
    this.following = undefined;
    await following?.stop();
  }

  /**
   * Following stopped by itself: a gap (the log was trimmed past this node) or a copy of the log
   * that differs from the stream (jetstream-log.ts) means reading it all again.
   */
  private async recoverFollowing(): Promise<void> {
    const trouble = this.followTrouble;
    this.followTrouble = undefined;
    if (isHarnessError(trouble) && trouble.code === ErrorCode.StateCorrupt && trouble.details?.gap === true) {
      this.log.warn(
        trouble.details.diverged === true
          ? `${trouble.message}; loading the state again`
          : `this standby fell behind the trimmed log (${trouble.message}); loading the state again`,
      );
      const old = this.gen;
      this.gen = await this.build();
      old.published.dispose();
      await old.store.close().catch(() => {});
      this.options.onCoordinator?.(this.gen.coordinator);
    } else {
      this.log.warn(`following the cluster log stopped (${describeNatsError(trouble)}); following again`);
      await delay(250);
    }
    this.startFollowing();
  }

  private leaderChanged(): void {
    for (const w of this.leaderWaiters.splice(0)) w();
    this.wake();
  }

  /** Moves between standby and leader as the lease and the log say, one step at a time. */
  private async run(): Promise<void> {
    const tick = Math.max(50, this.resources.leaderTtlMs / 8);
    while (!this.closed) {
      const woken = new Promise<void>((r) => (this.wake = r));
      try {
        if (this.role === 'leader' && (this.writeFailed || !this.leadership.leading)) await this.demote();
        if (this.role === 'standby' && this.followTrouble !== undefined) await this.recoverFollowing();
        if (this.role === 'standby' && this.leadership.leading && !this.closed) await this.promote();
      } catch (e) {
        this.log.error(`cluster node: ${describeError(e)}`);
        await delay(250);
      }
      await Promise.race([woken, delay(tick)]);
    }
  }

  private async promote(): Promise<void> {
    const started = performance.now();
    this.role = 'promoting';
    await this.stopFollowing();
    const { log, store } = this.gen;
    try {
      for (;;) {
        if (!this.leadership.leading || this.closed) throw new Error('the leadership lease lapsed during the take-over');
        await log.catchUp((record) => store.applyRecord(record));
        this.writeFailed = false;
        log.startWriting();
        await store.setWritable(true);
        const leader = this.leadership.leader!;
        try {
          await store.transact((w) => w.apply({ op: 'meta', key: LEADER_META, value: JSON.stringify(leader) })).durable;
          break;
        } catch (e) {
          await store.setWritable(false);
          // Refused (someone appended since the catch-up) or unconfirmed: read the log again.
          if (!isHarnessError(e) || (e.code !== ErrorCode.NotLeader && e.code !== ErrorCode.Unavailable)) throw e;
        }
      }
    } catch (e) {
      log.stopWriting();
      await store.setWritable(false);
      this.role = 'standby';
      this.startFollowing();
      this.log.warn(`could not take over the cluster: ${describeNatsError(e)}`);
      return;
    }
    this.term = new AbortController();
    this.role = 'leader';
    const ms = performance.now() - started;
    this.startLeaderTimers();
    this.leaderChanged();
    this.events.publish('cluster:leader', { cluster: this.names.cluster, leader: this.leadership.leader });
    this.log.info(`leading cluster ${this.names.cluster} from record ${store.sequence} (took over in ${ms.toFixed(0)} ms)`);
  }

  private async demote(): Promise<void> {
    const why = this.writeFailed ? 'the log refused a write' : 'its leadership lease lapsed';
    this.role = 'standby';
    this.stopLeaderTimers();
    this.term.abort();
    this.gen.log.stopWriting();
    await this.gen.store.setWritable(false);
    this.writeFailed = false;
    this.startFollowing();
    this.leaderChanged();
    this.log.warn(`no longer leading cluster ${this.names.cluster} (${why}); following the log from record ${this.gen.store.sequence}`);
  }

  private startLeaderTimers(): void {
    const { config, sweepIntervalMs } = this.options;
    const snapshotAfterBytes = this.options.snapshotAfterBytes ?? this.options.settings.snapshotAfterBytes ?? 16 * 1024 * 1024;
    let sweeping = false;
    const staleMs = config?.staleInstanceMs ?? DEFAULT_CONFIG.staleInstanceMs;
    this.timers.push(
      setInterval(() => {
        if (sweeping || this.role !== 'leader') return;
        sweeping = true;
        this.gen.coordinator
          .sweep()
          .then((r) => r.stale.length > 0 && this.log.warn(`instances gone stale, leases freed: ${r.stale.join(', ')}`))
          .catch((e) => !(isHarnessError(e) && e.code === ErrorCode.NotLeader) && this.log.error(`sweep failed: ${describeError(e)}`))
          .finally(() => (sweeping = false));
      }, sweepIntervalMs ?? Math.min(5000, staleMs / 4)),
      setInterval(() => {
        if (this.role !== 'leader' || this.snapshotting || this.gen.log.bytesSinceSnapshot < snapshotAfterBytes) return;
        this.snapshotting = this.snapshot().finally(() => (this.snapshotting = undefined));
      }, 1000),
    );
    for (const t of this.timers) t.unref();
  }

  private stopLeaderTimers(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
  }

  /** Writes a snapshot and trims the log (replicated-store.ts); a failure leaves the log as it is. */
  async snapshot(): Promise<void> {
    const { store, log } = this.gen;
    const started = performance.now();
    const bytes = log.bytesSinceSnapshot;
    log.bytesSinceSnapshot = 0;
    try {
      const s = await store.snapshot(this.snapshots, this.id, this.options.workers ?? workersAvailable());
      this.log.info(
        `snapshot of record ${s.seq} ${s.current ? 'stored' : 'superseded by a newer one'}: ${s.rows} rows, ` +
          `${(s.bytes / 1024 / 1024).toFixed(1)} MB in ${(performance.now() - started).toFixed(0)} ms; log trimmed to message ${s.trimmedTo}`,
      );
    } catch (e) {
      log.bytesSinceSnapshot += bytes;
      this.log.warn(`could not write a snapshot (${describeError(e)}); the log keeps every record`);
    }
  }

  /**
   * Answers `line` here if this node leads (a reply; for a notification nothing, or the event
   * telling its failure); undefined if it does not lead.
   */
  private async lead(line: string, signal?: AbortSignal): Promise<{ answer: Reply | EventLine | undefined } | undefined> {
    if (!this.leading) return undefined;
    const term = this.term.signal;
    // Withdrawn when the requester goes away or this node stops leading, whichever comes first.
    const combined = signal ? AbortSignal.any([signal, term]) : term;
    const { workspace, stateDir, runs, log } = this.options;
    const ctx: ServerContext = { coordinator: this.gen.coordinator, runs, workspace, stateDir, staging: this.staging, log, signal: combined };
    const answer = withClusterStatus(line, await handleLine(line, ctx), this);
    // A wait ended because this node stopped leading granted nothing: the next leader takes it.
    if (answer && 'status' in answer && answer.status === 'error' && answer.code === ErrorCode.Closed && term.aborted && !signal?.aborted) {
      return { answer: { ...answer, code: ErrorCode.NotLeader, message: 'this coordinator stopped leading while the request waited; nothing was applied' } };
    }
    return { answer };
  }

  private notLeaderReply(line: string): Reply {
    const id = peek(line)?.id;
    return { status: 'error', code: ErrorCode.NotLeader, message: `coordinator ${this.id} does not lead cluster ${this.names.cluster}`, ...(id === undefined ? {} : { id }) };
  }

  /**
   * One request line from this node's socket: answered here when it is per machine or this node
   * leads, else by the leader. What comes back is what `handleLine` gives: a reply, or for a
   * notification nothing (or the event telling its failure).
   */
  async dispatch(line: string, ctx: ServerContext): Promise<Reply | EventLine | undefined> {
    const head = peek(line);
    if (!head || LOCAL_COMMANDS.has(head.command)) return withClusterStatus(line, await handleLine(line, ctx), this);
    // Lock paths are kept as the client sent them while this node leads: it resolves them itself.
    const own = await this.lead(line, ctx.signal);
    if (own && !(own.answer && isNotLeader(own.answer))) return own.answer;
    return forwardLine(this.rpcClient, line, this.options.workspace, ctx.signal);
  }

  /** Every event of the cluster (the leader's coordinator events, every node's exec runs). */
  onEvent(listener: (name: string, data: unknown) => void): Disposable {
    return this.events.onAny(listener);
  }

  /** Stops: stops taking requests, a leader writes a last snapshot and lets its key go (another node takes over at once), closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake();
    await this.loop;
    this.rpcServer.close();
    this.stopLeaderTimers();
    await this.snapshotting;
    // A leader's last act: a snapshot of everything (the log trimmed to nothing), so whoever starts
    // next reads one image instead of the log; then it lets the key go.
    if (this.leading && this.gen.log.bytesSinceSnapshot > 0) await this.snapshot();
    this.gen.log.stopWriting();
    await this.gen.store.setWritable(false);
    await this.leadership.close();
    await this.stopFollowing();
    this.rpcClient.close();
    this.events.close();
    this.gen.published.dispose();
    await this.gen.store.close();
    await this.nc.drain().catch(() => {});
  }
}

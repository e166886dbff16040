// What a system measured by the peers section provides. Adding a system is one more entry in
// bench/peers.ts's PEER_SYSTEMS: the coordinator, BullMQ on Redis and NATS JetStream are three
// of them, and a coordinator cluster is a fourth.
//
// Two processes use an entry. The bench parent calls `start` (servers, state under a fresh
// directory) and `stop`; the load process, a child, gets the JSON endpoint `start` returned and
// calls `preload` once, then `connect` once per worker connection, before the clock starts.

import type { TaskInput } from '../../src/core/model';
import type { BenchOptions } from '../section';

/** How the load process reaches a started system: plain JSON, it travels on a command line. */
export type Endpoint = Record<string, string | number | boolean>;

export interface StartedSystem {
  endpoint: Endpoint;
  /** The server processes: their CPU time during the load is the "server CPU" figure. */
  pids: number[];
  /** Stops every process `start` started; their state is left for the caller to delete. */
  stop(): Promise<void>;
}

/** One worker connection in the load process. */
export interface PeerWorker {
  /** Takes the next task (leased, locked or delivered to this worker), or null when none is left. */
  claim(): Promise<ClaimedTask | null>;
  /** Completes a task `claim` returned; resolves once the system acknowledged it (durably where it can). */
  complete(task: ClaimedTask): Promise<void>;
  /**
   * Where the system offers it: completes a task and takes the next in one request (the
   * coordinator's task_complete with `next`, BullMQ's moveToCompleted with fetchNext). Null when
   * none was left.
   */
  completeAndClaim?(task: ClaimedTask): Promise<ClaimedTask | null>;
  close(): Promise<void>;
}

export interface ClaimedTask {
  /** The task's id from the plan (checked: every task completed exactly once). */
  id: string;
  /** What the system needs to complete it: a fencing token, a lock token, a message. */
  handle: unknown;
}

export interface PeerSystem {
  /** Key in the JSON report and on the load process's command line. */
  name: string;
  /** Row label, e.g. "BullMQ on Redis (AOF always)". */
  label: string;
  /** What an acknowledgement means for this system, for the notes under the tables. */
  durability: string;
  /** How the load process talks to it (unix socket, TCP loopback), for the notes. */
  transport: string;
  /**
   * How its workers complete a task and take the next in one request, when they can (their
   * `completeAndClaim`): the system then has rows of that mode too.
   */
  oneRequest?: string;
  /** Worker counts it is measured at, when not all of the section's (e.g. a cluster at 8 and 32). */
  workers?: number[];
  /** Why it cannot run on this machine (a server binary missing, ...), or undefined when it can. */
  unavailable(options: BenchOptions): string | undefined;
  /** Versions of what is measured (server, client library), for the notes. */
  versions(options: BenchOptions): string;
  /** Starts fresh servers with their state under `dir` (which exists and is empty). */
  start(dir: string, options: BenchOptions): Promise<StartedSystem>;
  /** In the load process: loads `tasks` into the started system. Not timed. */
  preload(endpoint: Endpoint, tasks: TaskInput[]): Promise<void>;
  /** In the load process: opens worker connection number `index`, ready to claim. */
  connect(endpoint: Endpoint, index: number): Promise<PeerWorker>;
}

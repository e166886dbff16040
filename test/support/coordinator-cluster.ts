// Coordinators of one cluster as real `harness serve --nats URL --cluster NAME` processes, each on
// a worktree and socket of its own (a host of its own, as far as they can tell), over a NATS
// deployment from nats-cluster.ts. Finds the leader by asking each coordinator (ping says who
// leads), kills and restarts them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HarnessClient } from '../../src/client/client';
import type { ResultOf } from '../../src/protocol/command';
import type { ClusterStatus } from '../../src/protocol/cluster';
import { Ping } from '../../src/protocol/meta';
import { childEnv, ServeProcess, tempDir, within } from './harness-process';
import { NatsCluster } from './nats-cluster';

export interface Member {
  dir: string;
  socket: string;
  serve: ServeProcess | undefined;
}

/** What a coordinator of a cluster answers to ping. */
export type ClusterPing = ResultOf<typeof Ping> & { cluster: ClusterStatus };

let clusters = 0;

export class CoordinatorCluster {
  /** Every `harness serve` started, killed ones included (their logs tell what happened). */
  readonly started: ServeProcess[] = [];

  private constructor(
    readonly nats: NatsCluster,
    readonly name: string,
    readonly members: Member[],
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /**
   * `count` coordinators of a fresh cluster (its own name, so its own stream and buckets).
   * `config` goes in each worktree's `.harness/config.json` as its `cluster` section.
   */
  static async start(nats: NatsCluster, count: number, options: { config?: Record<string, unknown>; env?: Record<string, string> } = {}): Promise<CoordinatorCluster> {
    const name = `c${process.pid}_${++clusters}`;
    const members = Array.from({ length: count }, () => {
      const dir = tempDir('hcl-');
      if (options.config) {
        fs.mkdirSync(path.join(dir, '.harness'), { mode: 0o700 });
        fs.writeFileSync(path.join(dir, '.harness', 'config.json'), JSON.stringify({ cluster: options.config }), { mode: 0o600 });
      }
      return { dir, socket: path.join(dir, 'h.sock'), serve: undefined };
    });
    const cluster = new CoordinatorCluster(nats, name, members, childEnv(options.env ?? {}));
    // One after the other: the first creates the stream and buckets and leads.
    for (let i = 0; i < count; i++) await cluster.startMember(i);
    await cluster.leader();
    return cluster;
  }

  /** The arguments of member `i`'s `harness serve`. */
  serveArgs(i: number): string[] {
    const m = this.members[i]!;
    return ['--worktree', m.dir, '--socket', m.socket, '--nats', this.nats.url, '--cluster', this.name];
  }

  async startMember(i: number): Promise<ServeProcess> {
    const serve = ServeProcess.spawn(this.serveArgs(i), this.env);
    this.started.push(serve);
    this.members[i]!.serve = serve;
    try {
      // Generous: a member restarted under load, after NATS servers were killed, reads the log
      // through JetStream consumers. Once in about seven CI runs 60 s was not enough, and the cause
      // is not found yet: what it logged by then goes into the error below.
      await within(serve.ready, 120_000, `harness serve ${i} of cluster ${this.name} to be ready`);
    } catch (e) {
      // What it logged by then (not when the wait began) says where it stuck.
      throw new Error(`${(e as Error).message}; it logged:\n${serve.stderr.slice(-4000)}`);
    }
    return serve;
  }

  /** What member `i` says about the cluster, or undefined when it does not answer. */
  async ping(i: number): Promise<ClusterPing | undefined> {
    const m = this.members[i]!;
    if (!m.serve || m.serve.child.exitCode !== null || m.serve.child.signalCode !== null) return undefined;
    let client: HarnessClient | undefined;
    try {
      client = await HarnessClient.connect(m.socket);
      const ping = await within(client.call(Ping), 5_000, 'ping');
      if (!ping.cluster) throw new Error(`coordinator ${i} is not in cluster mode`);
      return { ...ping, cluster: ping.cluster };
    } catch {
      return undefined;
    } finally {
      client?.close();
    }
  }

  /** The index of the member that leads (waits until one does and every live member agrees). */
  async leader(timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pings = await Promise.all(this.members.map((_, i) => this.ping(i)));
      const leading = pings.findIndex((p) => p?.cluster.role === 'leader');
      const live = pings.filter((p) => p !== undefined);
      if (leading >= 0 && live.every((p) => p!.cluster.leader?.node === pings[leading]!.cluster.node)) return leading;
      if (Date.now() > deadline) throw new Error(`no agreed leader in cluster ${this.name} within ${timeoutMs} ms: ${JSON.stringify(pings.map((p) => p?.cluster))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** A CLI environment that talks to member `i`'s socket. */
  cliEnv(i: number, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { ...this.env, HARNESS_SOCKET: this.members[i]!.socket, HARNESS_WORKER_ID_FILE: path.join(this.members[i]!.dir, 'worker-id'), ...extra };
  }

  /** The logs (stderr) of every coordinator this cluster ran. */
  logs(): string {
    return this.started.map((s) => s.stderr).join('\n');
  }

  async stopMember(i: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.members[i]!.serve?.stop(signal);
  }
}

let sharedNats: Promise<NatsCluster> | undefined;
let joined = 0;

/**
 * Makes `dir` a worktree whose `harness serve` (started as usual, without flags) joins a fresh
 * cluster as its standby: its `.harness/config.json` names the cluster, and the cluster's leader,
 * another coordinator on a worktree of its own, is already running. One nats-server serves every
 * such cluster of this test process.
 */
export async function joinTestCluster(dir: string): Promise<void> {
  sharedNats ??= NatsCluster.start(1);
  const nats = await sharedNats;
  const config = { cluster: { url: nats.url, name: `sock${process.pid}_${++joined}` } };
  const write = (worktree: string) => {
    fs.mkdirSync(path.join(worktree, '.harness'), { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(worktree, '.harness', 'config.json'), JSON.stringify(config), { mode: 0o600 });
  };
  const leaderDir = tempDir('hcl-');
  write(leaderDir);
  write(dir);
  const leader = ServeProcess.spawn(['--worktree', leaderDir, '--socket', path.join(leaderDir, 'h.sock')]);
  await within(leader.ready, 60_000, `the leader of test cluster ${config.cluster.name}\n${leader.stderr}`);
  for (const deadline = Date.now() + 30_000; ; ) {
    const client = await HarnessClient.connect(path.join(leaderDir, 'h.sock'));
    try {
      const ping = await client.call(Ping);
      if (ping.cluster?.role === 'leader') return;
    } finally {
      client.close();
    }
    if (Date.now() > deadline) throw new Error(`test cluster ${config.cluster.name}: the first coordinator did not lead within 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

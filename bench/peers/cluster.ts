// A coordinator cluster as a peers-section system: 3 nats-servers routed together (JetStream,
// replicas 3), 3 `harness serve` on them (cluster mode: `.harness/config.json` names the cluster),
// each on a worktree and socket of its own as on three hosts. Worker connection i talks to
// coordinator i % 3, so two thirds of the requests are forwarded to the leader over NATS, as
// workers spread over hosts would be. Also the take-over time: SIGKILL the leader, time until a
// write is acknowledged through another coordinator, ten times.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { HarnessClient } from '../../src/client/client';
import { Ping } from '../../src/protocol/meta';
import { StatePut } from '../../src/protocol/shared-state';
import { startServe, type ServeChild } from '../serve';
import type { BenchOptions } from '../section';
import { summarize, type Summary } from '../stats';
import { coordinatorSystem } from './coordinator';
import { findServer, firstLineOf, missingServer, packageVersion } from './installed';
import { startNatsCluster } from './nats-cluster';
import type { PeerSystem } from './system';

const natsServer = () => findServer('nats-server', 'HARNESS_BENCH_NATS_SERVER');
const COORDINATORS = 3;

interface Started {
  sockets: string[];
  serves: ServeChild[];
  pids: number[];
  worktrees: string[];
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

async function leaderOf(sockets: readonly string[], timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (let i = 0; i < sockets.length; i++) {
      try {
        const client = await HarnessClient.connect(sockets[i]!);
        try {
          const ping = await client.call(Ping);
          if (ping.cluster?.role === 'leader') return i;
        } finally {
          client.close();
        }
      } catch {
        // not up (yet, or any more)
      }
    }
    if (Date.now() > deadline) throw new Error(`no coordinator of the cluster leads after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The cluster: NATS first, then the coordinators one after the other (the first leads). */
async function startCluster(root: string, dir: string): Promise<Started & { natsPids: number[] }> {
  const nats = await startNatsCluster(natsServer()!, dir, 3);
  const worktrees = Array.from({ length: COORDINATORS }, (_, i) => path.join(dir, `host${i}`));
  const sockets = worktrees.map((w) => path.join(w, 's.sock'));
  const serves: ServeChild[] = [];
  const start = async (i: number) => {
    serves[i] = await startServe(root, worktrees[i]!, sockets[i]!);
  };
  try {
    for (const [i, w] of worktrees.entries()) {
      fs.mkdirSync(path.join(w, '.harness'), { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(w, '.harness', 'config.json'), JSON.stringify({ cluster: { url: nats.url, name: 'bench' } }), { mode: 0o600 });
      await start(i);
    }
    await leaderOf(sockets);
  } catch (e) {
    await Promise.all(serves.map((s) => s?.stop('SIGKILL')));
    await nats.stop();
    throw e;
  }
  const natsPids = nats.servers.map((s) => s.pid);
  return {
    sockets,
    serves,
    worktrees,
    natsPids,
    get pids() {
      return [...natsPids, ...serves.map((s) => s.pid)];
    },
    restart: start,
    async stop() {
      await Promise.all(serves.map((s) => s.stop('SIGTERM')));
      await nats.stop();
    },
  };
}

export const clusterSystem: PeerSystem = {
  name: 'cluster',
  label: 'coordinator cluster (3 × harness serve --nats, JetStream R3)',
  workers: [8, 32],
  durability:
    'cluster: "ok" once JetStream acknowledged the record (stored by a quorum of 2 of the 3 nats-servers, which do not fsync each write: it survives a killed server or coordinator, not a power cut of two machines)',
  transport: 'cluster: Unix socket to one of 3 coordinators (worker i to coordinator i mod 3), forwarded to the leader over NATS request-reply; its log on JetStream over TCP loopback',
  unavailable: () => (natsServer() ? undefined : missingServer('nats-server', 'HARNESS_BENCH_NATS_SERVER')),
  versions: (options) =>
    `cluster: nats-server ${firstLineOf(natsServer()!, ['--version'])?.replace(/^nats-server:?\s*/, '') ?? '?'} × 3, ` +
    `@nats-io/jetstream ${packageVersion(options.root, '@nats-io/jetstream')}, @nats-io/kv ${packageVersion(options.root, '@nats-io/kv')}`,

  async start(dir, options) {
    const cluster = await startCluster(options.root, dir);
    return { endpoint: { sockets: cluster.sockets.join(',') }, pids: cluster.pids, stop: () => cluster.stop() };
  },

  async preload(endpoint, tasks) {
    await coordinatorSystem.preload({ socket: String(endpoint.sockets).split(',')[0]! }, tasks);
  },

  connect(endpoint, index) {
    const sockets = String(endpoint.sockets).split(',');
    return coordinatorSystem.connect({ socket: sockets[index % sockets.length]! }, index);
  },
};

export interface FailoverResult {
  /** Per kill: ms from the SIGKILL of the leader to the first write acknowledged through another coordinator. */
  ms: number[];
  summary: Summary;
}

/**
 * Kills the leading coordinator `kills` times (restarting it as a standby each time) and times
 * the take-over: a client on another coordinator writes in a loop from the moment of the kill.
 */
export async function measureFailover(options: BenchOptions, dir: string, kills: number, log: (m: string) => void): Promise<FailoverResult> {
  const cluster = await startCluster(options.root, dir);
  const ms: number[] = [];
  try {
    for (let k = 0; k < kills; k++) {
      const leader = await leaderOf(cluster.sockets);
      const other = (leader + 1) % COORDINATORS;
      const client = await HarnessClient.connect(cluster.sockets[other]!);
      try {
        await client.call(StatePut, { key: 'failover', value: k });
        await cluster.serves[leader]!.stop('SIGKILL');
        const killed = performance.now();
        for (;;) {
          const reply = await client.send('state_put', { key: 'failover', value: k });
          if (reply.status === 'ok') break;
          if (performance.now() - killed > 60_000) throw new Error(`no write acknowledged within 60 s of the leader's death: ${JSON.stringify(reply)}`);
        }
        ms.push(performance.now() - killed);
        log(`failover ${k + 1}/${kills}: ${ms[ms.length - 1]!.toFixed(0)} ms`);
      } finally {
        client.close();
      }
      await cluster.restart(leader);
    }
  } finally {
    await cluster.stop();
  }
  return { ms, summary: summarize(ms) };
}

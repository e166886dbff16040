// A NATS JetStream cluster for one measurement: `size` nats-servers routed together on loopback
// ports, each with its store under `dir`. The config each server gets is `natsServerConfig`, which
// the cluster tests (test/support/nats-cluster.ts) share.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type ConnectionOptions } from '@nats-io/transport-node';
import { freePort, startDaemon, type Daemon } from './daemon';

export interface NatsNodeAddress {
  name: string;
  port: number;
  clusterPort: number;
}

/** The config file of one server of a cluster of `nodes` (routes to the others when there are some). */
export function natsServerConfig(node: NatsNodeAddress, nodes: readonly NatsNodeAddress[], storeDir: string, extra = ''): string {
  const routes = nodes.filter((n) => n !== node).map((n) => `"nats-route://127.0.0.1:${n.clusterPort}"`);
  return [
    `server_name: ${node.name}`,
    `listen: "127.0.0.1:${node.port}"`,
    `jetstream { store_dir: "${storeDir}" }`,
    ...(nodes.length > 1 ? [`cluster { name: "harness-test", listen: "127.0.0.1:${node.clusterPort}", routes: [${routes.join(', ')}] }`] : []),
    extra,
  ].join('\n');
}

/** `size` addresses on free loopback ports: n1, n2, ... */
export async function natsAddresses(size: number): Promise<NatsNodeAddress[]> {
  const ports = await Promise.all(Array.from({ length: size * 2 }, () => freePort()));
  return Array.from({ length: size }, (_, i) => ({ name: `n${i + 1}`, port: ports[i * 2]!, clusterPort: ports[i * 2 + 1]! }));
}

export interface StartedNatsCluster {
  /** Comma-separated client URLs. */
  url: string;
  servers: Daemon[];
  stop(): Promise<void>;
}

export async function startNatsCluster(binary: string, dir: string, size: number): Promise<StartedNatsCluster> {
  const nodes = await natsAddresses(size);
  const servers: Daemon[] = [];
  const stop = () => Promise.all(servers.map((s) => s.stop())).then(() => {});
  try {
    for (const node of nodes) {
      const config = path.join(dir, `${node.name}.conf`);
      fs.writeFileSync(config, natsServerConfig(node, nodes, path.join(dir, node.name)));
      servers.push(await startDaemon(`nats-server ${node.name}`, binary, ['-c', config], /Server is ready/));
    }
    await waitForJetStream(nodes.map((n) => `nats://127.0.0.1:${n.port}`), size);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(','), servers, stop };
}

/**
 * Waits until JetStream takes requests: on a cluster, until a stream of `replicas` replicas can be
 * created (its meta leader is elected). `client` carries credentials when the servers ask for some.
 */
export async function waitForJetStream(servers: string[], replicas: number, timeoutMs = 30_000, client: Partial<ConnectionOptions> = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const nc = await connect({ servers, maxReconnectAttempts: -1, ...client });
  try {
    for (;;) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2000 });
        await jsm.streams.add({ name: 'READY_PROBE', subjects: ['ready.probe'], num_replicas: replicas });
        await jsm.streams.delete('READY_PROBE');
        return;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`JetStream did not become ready within ${timeoutMs} ms: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    await nc.close();
  }
}

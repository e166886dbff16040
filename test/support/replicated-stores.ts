// The cluster's store (src/cluster/replicated-store.ts) as a Store-conformance factory: a
// ReplicatedStore over a JetStream log on a real nats-server, taking writes as a leader does. Its
// "directory" is the cluster name; closing writes a snapshot (and trims the log) first, so a
// reopen reads a snapshot plus what the trimmed log keeps.
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamLog } from '../../src/cluster/jetstream-log';
import { clusterNames } from '../../src/cluster/names';
import { nats } from '../../src/cluster/nats-loader';
import { provision } from '../../src/cluster/provision';
import { ReplicatedStore } from '../../src/cluster/replicated-store';
import { SnapshotStore } from '../../src/cluster/snapshots';
import { NatsCluster } from './nats-cluster';
import type { StoreFactory } from './stores';

let server: Promise<{ cluster: NatsCluster; nc: NatsConnection }> | undefined;
let opened = 0;

export const replicatedStoreFactory: StoreFactory = {
  name: 'ReplicatedStore (JetStream log; a snapshot at each close)',
  persistent: true,
  async open(dir) {
    server ??= NatsCluster.start(1).then(async (cluster) => ({ cluster, nc: await nats().connect({ servers: cluster.url.split(',') }) }));
    const { nc } = await server;
    const name = dir || `conf${process.pid}_${++opened}`;
    const names = clusterNames(name);
    const resources = await provision(nc, names, { leaderTtlMs: 3000 });
    const snapshots = new SnapshotStore(resources.metaKv, resources.snapshots);
    const log = new JetStreamLog({
      js: resources.js,
      jsm: resources.jsm,
      names,
      node: 'conformance',
      snapshots,
      maxMessageBytes: 64 * 1024,
      publishTimeoutMs: 5000,
      mayWrite: () => true,
      onWriteFailure: () => {},
      log: () => {},
    });
    const store = await ReplicatedStore.open(log);
    log.startWriting();
    await store.setWritable(true);
    const close = store.close.bind(store);
    store.close = async () => {
      await store.snapshot(snapshots, 'conformance', false);
      await close();
    };
    return { store, dir: name };
  },
};

/** Closes the connection and stops the server (a root `after` hook of the suite that used them). */
export async function closeReplicatedStores(): Promise<void> {
  if (!server) return;
  const { cluster, nc } = await server;
  server = undefined;
  await nc.close();
  await cluster.stop();
}

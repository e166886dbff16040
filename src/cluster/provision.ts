// What a cluster needs on NATS, created by whichever coordinator comes first and opened by the
// rest: the log stream, the leader bucket (entries with a time to live), the bucket pointing at
// the current snapshot, and the object store holding snapshots.
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { describeError, ErrorCode, HarnessError } from '../core/errors';
import type { ClusterNames } from './names';
import { nats } from './nats-loader';

export interface ClusterResources {
  js: JetStreamClient;
  jsm: JetStreamManager;
  leaderKv: KV;
  metaKv: KV;
  snapshots: ObjectStore;
  /** The leader key's time to live as the bucket has it (the first coordinator set it). */
  leaderTtlMs: number;
  replicas: number;
}

export async function provision(nc: NatsConnection, names: ClusterNames, options: { replicas?: number; leaderTtlMs: number }): Promise<ClusterResources> {
  const { jetstream, jetstreamManager, Kvm, Objm, RetentionPolicy, StorageType } = nats();
  const replicas = options.replicas ?? (nc.info?.cluster ? 3 : 1);
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      const hint = /insufficient resources|replicas/i.test(describeError(e))
        ? ` (${replicas} replicas need as many JetStream servers; set "replicas" in the cluster section of .harness/config.json)`
        : /jetstream not enabled|not enabled/i.test(describeError(e))
          ? ' (start nats-server with JetStream on: -js)'
          : '';
      throw new HarnessError(ErrorCode.Unavailable, `could not open ${what} of cluster ${names.cluster} on NATS: ${describeError(e)}${hint}`);
    }
  };
  const jsm = await step('JetStream', () => jetstreamManager(nc));
  const js = jetstream(nc);
  await step(`the log stream ${names.stream}`, async () => {
    try {
      await jsm.streams.info(names.stream);
    } catch {
      await jsm.streams
        .add({
          name: names.stream,
          subjects: [names.logSubject],
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          num_replicas: replicas,
        })
        .catch(async (e) => {
          // Another coordinator created it at the same moment.
          if (!/already in use|exists/i.test(describeError(e))) throw e;
        });
    }
  });
  const kvm = new Kvm(js);
  const leaderKv = await step(`the leader bucket ${names.leaderBucket}`, () => kvm.create(names.leaderBucket, { ttl: options.leaderTtlMs, history: 1, replicas }));
  const status = await leaderKv.status();
  const metaKv = await step(`the snapshot bucket ${names.metaBucket}`, () => kvm.create(names.metaBucket, { history: 1, replicas }));
  const snapshots = await step(`the snapshot store ${names.snapshotStore}`, () => new Objm(js).create(names.snapshotStore, { replicas }));
  return { js, jsm, leaderKv, metaKv, snapshots, leaderTtlMs: status.ttl || options.leaderTtlMs, replicas };
}

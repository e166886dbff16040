// What a cluster is called on NATS: its stream, buckets and subjects, all derived from the
// cluster name, so several clusters share one NATS deployment without seeing each other.
import { ErrorCode, HarnessError } from '../core/errors';

/** Letters, digits, `_` and `-`: valid in stream and bucket names and as one subject token. */
const NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function checkClusterName(name: string, where = 'the cluster name'): string {
  if (!NAME.test(name)) {
    throw new HarnessError(
      ErrorCode.InvalidArgument,
      `${where} must be 1 to 64 letters, digits, '_' or '-', got ${JSON.stringify(name.slice(0, 100))}`,
    );
  }
  return name;
}

export interface ClusterNames {
  cluster: string;
  /** The log: one record (or a batch of them) per message, in order. */
  stream: string;
  logSubject: string;
  /** Who leads: one key with a time to live, renewed by the leader. */
  leaderBucket: string;
  /** Which snapshot is current (no time to live). */
  metaBucket: string;
  /** Snapshot images, too large for a key-value entry. */
  snapshotStore: string;
  /** Requests to one coordinator, and the withdrawal of one it is still working on. */
  rpc(node: string): string;
  cancel(node: string): string;
  /** Coordinator events, one subject per event name: `<prefix>.task:claimed`. */
  events: string;
}

export function clusterNames(cluster: string): ClusterNames {
  checkClusterName(cluster);
  const base = `harness.${cluster}`;
  return {
    cluster,
    stream: `HARNESS_LOG_${cluster}`,
    logSubject: `${base}.log`,
    leaderBucket: `harness_lead_${cluster}`,
    metaBucket: `harness_meta_${cluster}`,
    snapshotStore: `harness_snap_${cluster}`,
    rpc: (node) => `${base}.node.${node}.rpc`,
    cancel: (node) => `${base}.node.${node}.cancel`,
    events: `${base}.events`,
  };
}

export const LEADER_KEY = 'leader';
export const SNAPSHOT_KEY = 'snapshot';

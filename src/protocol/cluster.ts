// Cluster mode (several coordinators on NATS JetStream, docs/cluster.md), as the protocol shows it:
// who leads, and what a coordinator of a cluster says about itself.
import { z } from 'zod';

/** The coordinator that takes writes, as its leader key names it. */
export const ClusterLeader = z.object({
  node: z.string().describe('Its id in the cluster'),
  host: z.string().describe('The host it runs on'),
  pid: z.number(),
  since: z.string().describe('When it took the lead'),
});
export type ClusterLeader = z.output<typeof ClusterLeader>;

/** A coordinator of a cluster: itself and who leads. */
export const ClusterStatus = z.object({
  cluster: z.string().describe('The cluster name'),
  node: z.string().describe('This coordinator'),
  role: z.enum(['standby', 'promoting', 'leader']).describe('leader: it takes writes; standby: it forwards them to the leader'),
  leader: ClusterLeader.nullable().describe('Who leads, as this coordinator last saw it (null: nobody right now)'),
  record: z.number().describe('The last record of the cluster log in its memory'),
});
export type ClusterStatus = z.output<typeof ClusterStatus>;

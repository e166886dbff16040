import { z } from 'zod';

/**
 * `cluster` in `.harness/config.json`: run this workspace's coordinator as one of a cluster on NATS
 * JetStream (docs/cluster.md). Flags (`--nats`, `--cluster`) and the environment (HARNESS_NATS_*)
 * come before it; a file holding a password or token must be the owner's alone.
 */
export const ClusterConfig = z.strictObject({
  url: z.string().min(1).optional().describe('NATS servers, comma-separated'),
  name: z.string().optional().describe('The cluster: letters, digits, _ and -'),
  user: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  token: z.string().min(1).optional(),
  nkey_file: z.string().min(1).optional(),
  creds_file: z.string().min(1).optional(),
  tls_ca_file: z.string().min(1).optional(),
  tls_cert_file: z.string().min(1).optional(),
  tls_key_file: z.string().min(1).optional(),
  replicas: z.union([z.literal(1), z.literal(3), z.literal(5)]).optional(),
  leader_ttl_seconds: z.number().min(1).max(600).optional(),
  snapshot_after_bytes: z.number().int().min(4096).optional(),
});
export type ClusterConfig = z.output<typeof ClusterConfig>;

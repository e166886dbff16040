// `harness --nats URL --cluster NAME <command>` (or HARNESS_NATS_URL and HARNESS_CLUSTER): the
// command talks to a cluster directly, through a gateway in this process (cluster/gateway.ts),
// instead of a coordinator's socket on this host. Not for `serve`, which takes the same flags to
// become a coordinator of the cluster itself.
import { startGateway, type Gateway } from '../cluster/gateway';
import { clusterSettings } from '../cluster/settings';
import { stderrLogger } from '../protocol/log';
import { UsageError, workspaceFromEnv, type Io } from './context';

/**
 * The gateway when flags or the environment name a cluster, else undefined. Only flags and the
 * environment: a config.json's cluster section belongs to this host's coordinator, which the
 * command then reaches through its socket as always.
 */
export async function directGateway(flags: { nats?: string; cluster?: string; socket?: string }, io: Io): Promise<Gateway | undefined> {
  // A socket named (--socket, or HARNESS_SOCKET: a VS Code terminal's own coordinator) wins over the environment's cluster.
  const env = flags.socket || io.env.HARNESS_SOCKET ? {} : io.env;
  const settings = clusterSettings({ ...(flags.nats ? { nats: flags.nats } : {}), ...(flags.cluster ? { cluster: flags.cluster } : {}) }, env, undefined, io.cwd);
  if (!settings) return undefined;
  if (flags.socket && (flags.nats || flags.cluster)) throw new UsageError('--socket and --nats/--cluster name two ways to the coordinator: give one');
  return startGateway(settings, { workspace: workspaceFromEnv(io), log: stderrLogger('harness', false) });
}

// `harness --nats URL --cluster NAME <command>` (or HARNESS_NATS_URL and HARNESS_CLUSTER): the
// command talks to a cluster directly, through a gateway in this process (cluster/gateway.ts),
// instead of a coordinator's socket on this host. Not for `serve`, which takes the same flags to
// become a coordinator of the cluster itself.
import { startGateway, type Gateway } from '../cluster/gateway';
import { clusterSettings, redact } from '../cluster/settings';
import { explainThrown } from '../protocol/error-words';
import { ErrorCode, isHarnessError } from '../protocol/errors';
import { stderrLogger } from '../protocol/log';
import { UsageError, workspaceFromEnv, type Io } from './context';

/**
 * The cluster settings of a command line (see clusterSettings); a bad flag or variable is a
 * usage error (exit 2), in the settings' own words, found before anything is opened.
 */
export function clusterSettingsOf(...args: Parameters<typeof clusterSettings>): ReturnType<typeof clusterSettings> {
  try {
    return clusterSettings(...args);
  } catch (e) {
    if (isHarnessError(e) && e.code === ErrorCode.InvalidArgument) throw new UsageError(e.message);
    throw e;
  }
}

/**
 * The gateway when flags or the environment name a cluster, else undefined. Only flags and the
 * environment: a config.json's cluster section belongs to this host's coordinator, which the
 * command then reaches through its socket as always.
 */
export async function directGateway(flags: { nats?: string; cluster?: string; socket?: string }, io: Io): Promise<Gateway | undefined> {
  // A socket named (--socket, or HARNESS_SOCKET: a VS Code terminal's own coordinator) wins over the environment's cluster.
  const env = flags.socket || io.env.HARNESS_SOCKET ? {} : io.env;
  const settings = clusterSettingsOf({ ...(flags.nats ? { nats: flags.nats } : {}), ...(flags.cluster ? { cluster: flags.cluster } : {}) }, env, undefined, io.cwd);
  if (!settings) return undefined;
  if (flags.socket && (flags.nats || flags.cluster)) throw new UsageError('--socket and --nats/--cluster name two ways to the coordinator: give one');
  return startGateway(settings, { workspace: workspaceFromEnv(io), log: stderrLogger('harness', false) });
}

/**
 * `--nats URL --cluster NAME` as flags for a command another program starts (the entry `harness
 * mcp config` writes: an agent on a host without a coordinator talks to the cluster directly).
 * Checked as the command itself would check them; an address with a user or password in it is
 * refused: an MCP client's file is often committed, and credentials belong in the agent's
 * environment.
 */
export function clusterArgs(flags: { nats?: string | undefined; cluster?: string | undefined }, io: Io, usage: string): string[] {
  const { nats, cluster } = flags;
  if (nats === undefined && cluster === undefined) return [];
  let settings;
  try {
    settings = clusterSettings({ ...(nats !== undefined ? { nats } : {}), ...(cluster !== undefined ? { cluster } : {}) }, {}, undefined, io.cwd);
  } catch (e) {
    throw new UsageError(explainThrown(e), usage);
  }
  if (!settings) return [];
  if (settings.servers.some((s) => /\/\/[^/@]*@/.test(s))) {
    throw new UsageError(
      `--nats ${nats === undefined ? '' : redact(nats)}: the address holds credentials, which a file of the agent's settings must not keep; ` +
        "give them in the agent's environment instead (HARNESS_NATS_USER and HARNESS_NATS_PASSWORD, HARNESS_NATS_TOKEN, HARNESS_NATS_NKEY or HARNESS_NATS_CREDS)",
      usage,
    );
  }
  return ['--nats', nats!, '--cluster', cluster!];
}

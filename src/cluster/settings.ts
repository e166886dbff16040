// How a coordinator or a client finds a cluster: NATS servers, the cluster's name, credentials and
// TLS, from flags, the environment (HARNESS_NATS_*), or the `cluster` section of config.json
// (src/config/cluster.ts), in that order of precedence. Secrets are never printed: `describe`
// gives the servers without any user or password in them. A file that holds a secret (a creds
// file, an nkey seed, a config file with a password or token) is refused when others may read it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ClusterConfig } from '../config/cluster';
import { readConfigFile } from '../config/file';
import { CONFIG_SECTIONS } from '../config/harness';
import { ErrorCode, HarnessError } from '../protocol/errors';
import { checkClusterName } from './names';

export interface ClusterSettings {
  servers: string[];
  cluster: string;
  user?: string;
  password?: string;
  token?: string;
  /** An nkey seed file (`SU...`). */
  nkeyFile?: string;
  /** A creds file (JWT and seed), as `nsc` writes them. */
  credsFile?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Copies of the log, snapshots and leader key on the NATS servers (1, 3 or 5); default: 3 on a NATS cluster, else 1. */
  replicas?: number;
  /** How long the leader key lives unrenewed: a dead leader is replaced after about this long. */
  leaderTtlMs: number;
  /** The leader writes a snapshot (and trims the log) once this many bytes were appended since the last. */
  snapshotAfterBytes?: number;
}

export interface ClusterFlags {
  nats?: string;
  cluster?: string;
}

const DEFAULT_LEADER_TTL_MS = 3000;

function bad(message: string): HarnessError {
  return new HarnessError(ErrorCode.InvalidArgument, message);
}

/** Refuses a secret-holding file others may read or that is missing. */
export function checkPrivateFile(file: string, what: string): void {
  let mode: number;
  try {
    mode = fs.statSync(file).mode;
  } catch (e) {
    throw bad(`${what} ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new HarnessError(
      ErrorCode.StateUnsafe,
      `${what} ${file} may be read by others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): it holds a secret; run \`chmod 600 ${file}\``,
      { file },
    );
  }
}

/**
 * The cluster settings from flags, environment and the `cluster` section of `stateDir`'s
 * config.json, or undefined when none names a NATS server (the coordinator then runs on its own,
 * on the file log). Relative file names are taken from `base` (the workspace).
 */
export function clusterSettings(flags: ClusterFlags, env: NodeJS.ProcessEnv, stateDir?: string, base = process.cwd()): ClusterSettings | undefined {
  const config = stateDir ? readConfigFile(stateDir, CONFIG_SECTIONS) : { file: undefined, config: {} };
  const c: ClusterConfig = config.config.cluster ?? {};
  const url = flags.nats ?? env.HARNESS_NATS_URL ?? c.url;
  const name = flags.cluster ?? env.HARNESS_CLUSTER ?? c.name;
  if (url === undefined && name === undefined) return undefined;
  if (!url) throw bad(`cluster ${JSON.stringify(name)} needs NATS servers: --nats URL (or HARNESS_NATS_URL)`);
  if (name === undefined) throw bad('--nats needs a cluster name: --cluster NAME (or HARNESS_CLUSTER)');
  checkClusterName(name);
  const servers = url.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of servers) {
    if (!/^(nats|tls):\/\/[^\s/]+$|^[^\s/:]+(:\d+)?$/.test(s)) throw bad(`not a NATS server address: ${JSON.stringify(redact(s))} (expected nats://HOST:PORT, tls://HOST:PORT or HOST:PORT)`);
  }
  if (config.file && (c.password !== undefined || c.token !== undefined)) checkPrivateFile(config.file, 'the config file');
  const settings: ClusterSettings = { servers, cluster: name, leaderTtlMs: (c.leader_ttl_seconds ?? 0) * 1000 || DEFAULT_LEADER_TTL_MS };
  const pick = (fromEnv: string | undefined, fromConfig: string | undefined) => fromEnv ?? fromConfig;
  const user = pick(env.HARNESS_NATS_USER, c.user);
  const password = pick(env.HARNESS_NATS_PASSWORD, c.password);
  const token = pick(env.HARNESS_NATS_TOKEN, c.token);
  const nkeyFile = pick(env.HARNESS_NATS_NKEY, c.nkey_file);
  const credsFile = pick(env.HARNESS_NATS_CREDS, c.creds_file);
  const kinds = [user !== undefined || password !== undefined, token !== undefined, nkeyFile !== undefined, credsFile !== undefined].filter(Boolean);
  if (kinds.length > 1) throw bad('NATS credentials: give one of user and password, a token, an nkey seed file or a creds file, not several');
  if ((user === undefined) !== (password === undefined)) throw bad('NATS credentials: a user needs a password (HARNESS_NATS_PASSWORD) and the other way round');
  if (user !== undefined) Object.assign(settings, { user, password });
  if (token !== undefined) settings.token = token;
  if (nkeyFile !== undefined) {
    settings.nkeyFile = path.resolve(base, nkeyFile);
    checkPrivateFile(settings.nkeyFile, 'the nkey seed file');
  }
  if (credsFile !== undefined) {
    settings.credsFile = path.resolve(base, credsFile);
    checkPrivateFile(settings.credsFile, 'the creds file');
  }
  const tls = {
    caFile: pick(env.HARNESS_NATS_CA, c.tls_ca_file),
    certFile: pick(env.HARNESS_NATS_CERT, c.tls_cert_file),
    keyFile: pick(env.HARNESS_NATS_KEY, c.tls_key_file),
  };
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) throw bad('TLS: a client certificate needs its key (HARNESS_NATS_CERT with HARNESS_NATS_KEY)');
  if (tls.caFile || tls.certFile) {
    settings.tls = Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined).map(([k, v]) => [k, path.resolve(base, v!)]));
    if (settings.tls.keyFile) checkPrivateFile(settings.tls.keyFile, 'the TLS key file');
  }
  if (c.replicas !== undefined) settings.replicas = c.replicas;
  if (c.snapshot_after_bytes !== undefined) settings.snapshotAfterBytes = c.snapshot_after_bytes;
  return settings;
}

/** A server address without the user or password it may carry, for logs and messages. */
export function redact(server: string): string {
  return server.replace(/\/\/[^@/\s]*@/g, '//***@');
}

/** The servers and cluster, as logs may show them. */
export function describeSettings(s: ClusterSettings): string {
  return `cluster ${s.cluster} on ${s.servers.map(redact).join(', ')}`;
}

import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HarnessClient } from '../client/client';
import { ResilientClient, type ResilientOptions } from '../client/resilient-client';
import { defaultSocketPath, enclosingWorkspace } from '../protocol/address';

/** A mistake in how harness was called: exit status 2, with the command's usage. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
  }
}

export interface GlobalOptions {
  socket?: string | undefined;
  worker?: string | undefined;
  format?: string | undefined;
}

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export const processIo: Io = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
};

/**
 * The workspace folder a command is about: HARNESS_WORKSPACE, else HARNESS_WORKTREE (its old,
 * deprecated name, which scripts still set), else the workspace the current directory is in (a
 * subfolder, an isolated worktree: see enclosingWorkspace), else the current directory.
 */
export function workspaceFromEnv(io: Io): string {
  return path.resolve(io.cwd, io.env.HARNESS_WORKSPACE || io.env.HARNESS_WORKTREE || enclosingWorkspace(path.resolve(io.cwd)));
}

/**
 * The workspace a command that takes `--workspace` is about: that option, else `--worktree` (its
 * old name, for scripts), else the environment (see workspaceFromEnv).
 */
export function workspaceOption(v: Record<string, unknown>, io: Io, usage: string): string {
  if (v.workspace !== undefined && v.worktree !== undefined) throw new UsageError('--worktree is the old name of --workspace: give one of them', usage);
  const given = (v.workspace ?? v.worktree) as string | undefined;
  const workspace = given !== undefined ? path.resolve(io.cwd, given) : workspaceFromEnv(io);
  // A misspelt folder must not become a new one: serve would create it and a .harness in it.
  const named =
    given !== undefined ? `--${v.workspace !== undefined ? 'workspace' : 'worktree'} ${given}` : io.env.HARNESS_WORKSPACE ? 'HARNESS_WORKSPACE' : io.env.HARNESS_WORKTREE ? 'HARNESS_WORKTREE' : 'the current directory';
  let stat;
  try {
    stat = fs.statSync(workspace);
  } catch {
    throw new UsageError(`${named}: no such folder: ${workspace}`, usage);
  }
  if (!stat.isDirectory()) throw new UsageError(`${named}: not a folder: ${workspace}`, usage);
  return workspace;
}

/** `--socket`, else HARNESS_SOCKET, else the default socket of the workspace (see workspaceFromEnv). */
export function resolveSocket(opts: GlobalOptions, io: Io): string {
  if (opts.socket) return opts.socket;
  if (io.env.HARNESS_SOCKET) return io.env.HARNESS_SOCKET;
  return defaultSocketPath(workspaceFromEnv(io));
}

export function workerIdFile(io: Io): string {
  if (io.env.HARNESS_WORKER_ID_FILE) return io.env.HARNESS_WORKER_ID_FILE;
  const base = io.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'agent-harness', 'worker-id');
}

/**
 * This worker's id: `--worker`, else HARNESS_WORKER_ID, else the id kept in the worker-id file,
 * created on first use. The same on every call.
 */
export function resolveWorkerId(opts: GlobalOptions, io: Io): string {
  if (opts.worker) return opts.worker;
  if (io.env.HARNESS_WORKER_ID) return io.env.HARNESS_WORKER_ID;
  const file = workerIdFile(io);
  const existing = readWorkerId(file);
  if (existing) return existing;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // Written whole under a temporary name, then put in place: a concurrent first call never reads
  // the file half-written, and an empty file (a crash mid-write) does not become an empty id.
  const tmp = `${file}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  fs.writeFileSync(tmp, `worker-${randomUUID().slice(0, 8)}\n`, { mode: 0o600 });
  try {
    fs.linkSync(tmp, file); // fails if another process created it first: then use theirs
  } catch {
    if (!readWorkerId(file)) fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  const id = readWorkerId(file);
  if (!id) throw new Error(`could not create the worker id file ${file}`);
  return id;
}

function readWorkerId(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined; // not created yet
  }
}

export async function connect(opts: GlobalOptions, io: Io): Promise<HarnessClient> {
  return HarnessClient.connect(resolveSocket(opts, io), { retryForMs: 2000 });
}

/**
 * A connection for a long-running command (`harness work`, `harness watch`) that outlives the
 * coordinator going away (a restart, a window reload): it reconnects, saying so on stderr at the
 * first attempt and every tenth.
 */
export function reconnectingClient(opts: GlobalOptions, io: Io, say: (line: string) => void, options?: ResilientOptions): ResilientClient {
  return new ResilientClient(
    resolveSocket(opts, io),
    (attempt, e) => {
      if (attempt === 1 || attempt % 10 === 0) say(`coordinator unreachable (${e.message.split(';')[0]}); reconnecting…`);
    },
    options,
  );
}

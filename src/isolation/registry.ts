import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tryPidLock } from '../core/pid-lock';
import { z } from 'zod';
import { formatIssues } from '../protocol/validate';
import { ErrorCode, IsolationError, IsolationErrorCode } from './errors';

/**
 * `.harness/isolation.json`: which worker has which directory, branch and port range. Small, read
 * and written whole (atomically: a temporary file renamed into place). Not coordinator state: it
 * can be deleted, and worktrees still on disk are adopted again (with new port ranges).
 */
export const RegistryEntry = z.object({
  worker: z.string(),
  mode: z.enum(['git', 'plain']),
  /** The worker's directory (a worktree's root in git mode). */
  path: z.string(),
  branch: z.string().nullable(),
  /** The commit the branch started from (git mode). */
  base: z.string().nullable(),
  /** Whether isolate created the branch (a rollback then deletes it); false when it reused one. */
  created_branch: z.boolean(),
  created_at: z.string(),
  ports: z.object({ base: z.number().int(), count: z.number().int() }).nullable(),
  /** Untracked files copied in from the workspace, relative to `path` (never counted as a worker's changes). */
  copied: z.array(z.string()),
  setup: z.object({
    state: z.enum(['none', 'running', 'ok']),
    pid: z.number().int().optional(),
    started_at: z.string().optional(),
    duration_ms: z.number().optional(),
  }),
});
export type RegistryEntry = z.infer<typeof RegistryEntry>;

const RegistryFile = z.object({ version: z.literal(1), workers: z.array(RegistryEntry) });
export type Registry = z.infer<typeof RegistryFile>;

/** The coordinator's state directory of a workspace when none is configured. */
export function defaultStateDir(workspace: string): string {
  return path.join(workspace, '.harness');
}

export function registryPath(stateDir: string): string {
  return path.join(stateDir, 'isolation.json');
}

/**
 * Creates the state directory with a `.gitignore` of `*` (as the coordinator's store does), so
 * nothing under it, worktrees included, is ever seen by git in the main worktree.
 */
export function prepareStateDir(stateDir: string): string {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  ensureIgnoreAll(stateDir);
  return stateDir;
}

/** Writes `<dir>/.gitignore` holding `*` unless the directory already has a .gitignore. */
export function ensureIgnoreAll(dir: string): void {
  const ignore = path.join(dir, '.gitignore');
  if (!fs.existsSync(ignore)) fs.writeFileSync(ignore, '# Agent Harness state: never commit it\n*\n', { mode: 0o600 });
}

export function readRegistry(stateDir: string): Registry {
  const file = registryPath(stateDir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, workers: [] };
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw corrupt(file, `not valid JSON (${(e as Error).message})`);
  }
  const result = RegistryFile.safeParse(json);
  if (!result.success) throw corrupt(file, formatIssues(result.error));
  return result.data;
}

function corrupt(file: string, why: string): IsolationError {
  return new IsolationError(
    ErrorCode.StateCorrupt,
    `${file} is damaged: ${why}. Delete it: worktrees still on disk are found again (their port ranges are assigned anew)`,
    { file },
  );
}

export function writeRegistry(stateDir: string, registry: Registry): void {
  const file = registryPath(stateDir);
  prepareStateDir(stateDir);
  const tmp = `${file}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(registry, null, 2) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

// ---- one writer at a time ----

const chains = new Map<string, Promise<unknown>>();
const LOCK_WAIT_MS = 60_000;

/**
 * Runs `fn` as the only isolation writer of the workspace: queued behind other calls in this
 * process, and holding `isolation.lock` in the state directory (a pid file, taken over when its
 * process is gone) against other processes. Kept to short steps: a setup command runs outside it.
 */
export function withIsolationLock<T>(stateDir: string, fn: () => Promise<T>): Promise<T> {
  const key = path.resolve(stateDir);
  const prev = chains.get(key) ?? Promise.resolve();
  const run = prev.catch(() => {}).then(async () => {
    const release = await acquireFileLock(stateDir);
    try {
      return await fn();
    } finally {
      release();
    }
  });
  const tail = run.catch(() => {});
  chains.set(key, tail);
  void tail.then(() => {
    if (chains.get(key) === tail) chains.delete(key);
  });
  return run;
}

async function acquireFileLock(stateDir: string): Promise<() => void> {
  prepareStateDir(stateDir);
  const file = path.join(stateDir, 'isolation.lock');
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    // This process queues its own callers above, so a lock holding our pid is a stale one.
    const attempt = tryPidLock(file);
    if (attempt.acquired) return () => attempt.release();
    if (Date.now() > deadline) {
      throw new IsolationError(
        IsolationErrorCode.Busy,
        `${file} is held by process ${attempt.owner} for over ${LOCK_WAIT_MS / 1000} s; if that process is not a harness, delete the file`,
        { pid: attempt.owner, file },
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export { isAlive } from '../core/pid-lock';

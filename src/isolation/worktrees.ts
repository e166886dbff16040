// Per-worker directories: a git worktree on its own branch (`harness/<worker>`) when the workspace
// is in a git repository, a plain directory otherwise; and bringing the workers' work back.
//
// A plain module (no coordinator, no socket) so the socket commands, the CLI through them and the
// VS Code extension in-process all share it. Every change to `.harness/isolation.json` and every
// git operation on the shared repository runs under the workspace's isolation lock; only a setup
// command (which can take minutes) runs outside it.
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import { RunError, runProcess, type RunResult } from '../exec';
import type {
  CleanupResult,
  IsolatedWorker,
  IsolateResult,
  IsolationListing,
  MergedWorker as MergedWorkerSchema,
  MergeResult,
  PortRange as PortRangeSchema,
  SetupReport as SetupReportSchema,
  StreamOutputsResult,
} from '../protocol/isolation';
import { defaultIsolationSettings, type IsolationSettings } from './config';
import { ErrorCode, IsolationError, IsolationErrorCode } from './errors';
import {
  currentBranch,
  git,
  gitMessage,
  gitOk,
  gitTopLevel,
  listWorktrees,
  revParse,
  runGit,
  statusLines,
  type WorktreeInfo,
} from './git';
import {
  ensureIgnoreAll,
  defaultStateDir,
  isAlive,
  prepareStateDir,
  readRegistry,
  withIsolationLock,
  writeRegistry,
  type Registry,
  type RegistryEntry,
} from './registry';

/** The file in each worker directory that a shell can source (`set -a; . ./.harness-env; set +a`). */
export const ENV_FILE = '.harness-env';
export const BRANCH_PREFIX = 'harness/';

// ---- worker ids ----

const WORKER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * A worker id names a branch (`harness/<id>`) and a directory, so it is held to what is safe for
 * both: 1-64 of letters, digits, `.`, `_`, `-`, starting with a letter or digit, no `..`, not
 * ending in `.` or `.lock`.
 */
export function validateWorkerId(id: unknown): string {
  if (typeof id !== 'string' || id === '') {
    throw new IsolationError(ErrorCode.InvalidArgument, 'a worker id is required (worker_id)');
  }
  if (!WORKER_ID.test(id) || id.includes('..') || id.endsWith('.') || id.endsWith('.lock')) {
    throw new IsolationError(
      ErrorCode.InvalidArgument,
      `invalid worker id ${JSON.stringify(id.slice(0, 100))}: it names a git branch and a directory, so use 1-64 letters, ` +
        `digits, ".", "_" or "-", starting with a letter or digit (no "..", not ending in "." or ".lock")`,
      { worker: id.slice(0, 100) },
    );
  }
  return id;
}

// ---- results: their shapes are the protocol's (src/protocol/isolation.ts) ----

export type { CleanupResult, IsolatedWorker, IsolateResult, IsolationListing, MergeResult, StreamOutputsResult };
export type PortRange = z.output<typeof PortRangeSchema>;
type SetupReport = z.output<typeof SetupReportSchema>;
type MergedWorker = z.output<typeof MergedWorkerSchema>;

// ---- context ----

/**
 * Where isolation keeps its registry and lock (the coordinator's state directory, default
 * `<workspace>/.harness`) and its settings (the `isolation` section of that directory's
 * config.json, read by the caller: the coordinator does; default: the defaults).
 */
export interface IsolationPlace {
  stateDir?: string | undefined;
  config?: IsolationSettings | undefined;
}

interface Ctx {
  workspace: string;
  stateDir: string;
  config: IsolationSettings;
  /** The top of the workspace's git checkout; undefined outside git. */
  top: string | undefined;
  /** The directory holding the worker directories. */
  dir: string;
}

function realDir(dir: string, what: string): string {
  try {
    const real = fs.realpathSync(path.resolve(dir));
    if (!fs.statSync(real).isDirectory()) throw new Error('not a directory');
    return real;
  } catch (e) {
    throw new IsolationError(ErrorCode.InvalidArgument, `${what} ${dir} is not a directory (${(e as Error).message})`);
  }
}

async function context(workspaceIn: string, place: IsolationPlace = {}): Promise<Ctx> {
  const workspace = realDir(workspaceIn, 'workspace');
  const stateDir = place.stateDir !== undefined ? path.resolve(workspace, place.stateDir) : defaultStateDir(workspace);
  const config = place.config ?? defaultIsolationSettings();
  const top = await gitTopLevel(workspace);
  const fallback = path.join(stateDir, top ? 'worktrees' : 'workers');
  let dir = config.directory ? path.resolve(workspace, config.directory) : fallback;
  try {
    dir = fs.realpathSync(dir);
  } catch {
    // made on first use
  }
  return { workspace, stateDir, config, top: top ? fs.realpathSync(top) : undefined, dir };
}

function inside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** The worker's equivalent of the workspace: the same subdirectory of its worktree. */
function workerCwd(ctx: Ctx, entry: RegistryEntry): string {
  if (entry.mode !== 'git' || !ctx.top) return entry.path;
  return path.join(entry.path, path.relative(ctx.top, ctx.workspace));
}

function short(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 10) : '?';
}

function listing(items: readonly string[], max = 10): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

// ---- registry helpers ----

/**
 * Adds worktrees that look like ours (`<dir>/<id>` on branch `harness/<id>`) but are missing from
 * the registry, e.g. after `.harness/isolation.json` was deleted. Returns whether it added any.
 */
async function adoptStray(ctx: Ctx, reg: Registry, worktrees: WorktreeInfo[]): Promise<boolean> {
  let changed = false;
  for (const wt of worktrees) {
    const id = path.basename(wt.path);
    if (path.dirname(wt.path) !== ctx.dir || wt.branch !== BRANCH_PREFIX + id || !WORKER_ID.test(id)) continue;
    if (reg.workers.some((e) => e.worker === id)) continue;
    reg.workers.push({
      worker: id,
      mode: 'git',
      path: wt.path,
      branch: wt.branch,
      base: null,
      created_branch: false,
      created_at: new Date().toISOString(),
      ports: null,
      copied: [],
      setup: { state: 'none' },
    });
    changed = true;
  }
  return changed;
}

async function loadRegistry(ctx: Ctx): Promise<{ reg: Registry; worktrees: WorktreeInfo[] }> {
  const reg = readRegistry(ctx.stateDir);
  const worktrees = ctx.top ? await listWorktrees(ctx.top) : [];
  if (ctx.top && (await adoptStray(ctx, reg, worktrees))) writeRegistry(ctx.stateDir, reg);
  return { reg, worktrees };
}

function selectWorkers(reg: Registry, ids: readonly string[] | undefined): RegistryEntry[] {
  if (!ids || ids.length === 0) return [...reg.workers];
  const out: RegistryEntry[] = [];
  for (const raw of ids) {
    const id = validateWorkerId(raw);
    const entry = reg.workers.find((e) => e.worker === id);
    if (!entry) {
      const known = reg.workers.map((e) => e.worker);
      throw new IsolationError(
        ErrorCode.NotFound,
        `unknown worker ${JSON.stringify(id)}: it has no isolated directory (${known.length ? `isolated workers: ${listing(known)}` : 'no worker is isolated'})`,
        { worker: id, known },
      );
    }
    if (!out.includes(entry)) out.push(entry);
  }
  return out;
}

function assignPorts(ctx: Ctx, reg: Registry, entry: RegistryEntry): boolean {
  const cfg = ctx.config.ports;
  if (!cfg || entry.ports) return false;
  const taken = reg.workers.filter((e) => e !== entry && e.ports).map((e) => e.ports!);
  for (let start = cfg.base; start + cfg.per_worker - 1 <= 65535; start += cfg.per_worker) {
    const end = start + cfg.per_worker; // exclusive
    if (taken.every((t) => end <= t.base || start >= t.base + t.count)) {
      entry.ports = { base: start, count: cfg.per_worker };
      return true;
    }
  }
  throw new IsolationError(
    IsolationErrorCode.PortsExhausted,
    `no free port range of ${cfg.per_worker} from ${cfg.base} up to 65535 for worker ${entry.worker}: ${taken.length} ranges are taken; ` +
      'clean up finished workers (harness isolate --cleanup) or lower isolation.ports.per_worker',
    { worker: entry.worker, taken: taken.length },
  );
}

/** The variables a worker's processes get: its id, the coordinator's workspace, its directory and ports. */
function workerEnv(ctx: Ctx, entry: RegistryEntry): Record<string, string> {
  const env: Record<string, string> = {
    HARNESS_WORKER_ID: entry.worker,
    HARNESS_WORKSPACE: ctx.workspace,
    HARNESS_WORKTREE: ctx.workspace, // the old name of HARNESS_WORKSPACE, for scripts that read it
    HARNESS_WORKER_DIR: workerCwd(ctx, entry),
  };
  if (entry.ports) {
    env.HARNESS_PORT_BASE = String(entry.ports.base);
    env.HARNESS_PORT_COUNT = String(entry.ports.count);
  }
  return env;
}

function shellValue(v: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]*$/.test(v) ? v : `'${v.replaceAll("'", `'\\''`)}'`;
}

function writeEnvFile(entry: RegistryEntry, env: Record<string, string>): string {
  const file = path.join(entry.path, ENV_FILE);
  const text =
    '# Written by harness isolate; load it with: set -a; . ./.harness-env; set +a\n' +
    Object.entries(env)
      .map(([k, v]) => `${k}=${shellValue(v)}\n`)
      .join('');
  let current: string | undefined;
  try {
    current = fs.readFileSync(file, 'utf8');
  } catch {
    // not written yet
  }
  if (current !== text) fs.writeFileSync(file, text);
  return file;
}

/** Keeps `.harness-env` out of every worktree's `git status` (info/exclude is shared by all of them). */
async function excludeEnvFile(top: string): Promise<void> {
  const common = path.resolve(top, (await git(top, ['rev-parse', '--git-common-dir'])).trim());
  const file = path.join(common, 'info', 'exclude');
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    // git init usually writes one; make it if not
  }
  const line = `/${ENV_FILE}`;
  if (text.split('\n').some((l) => l.trim() === line)) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(file, `${text === '' || text.endsWith('\n') ? '' : '\n'}# harness isolate: per-worker environment\n${line}\n`);
}

function copyIntoWorker(ctx: Ctx, cwd: string): { copied: string[]; not_copied: Array<{ path: string; reason: string }> } {
  const copied: string[] = [];
  const not_copied: Array<{ path: string; reason: string }> = [];
  for (const rel of ctx.config.copy) {
    const from = path.join(ctx.workspace, rel);
    const to = path.join(cwd, rel);
    if (!fs.existsSync(from)) {
      not_copied.push({ path: rel, reason: 'not in the workspace' });
      continue;
    }
    if (fs.existsSync(to)) {
      not_copied.push({ path: rel, reason: 'already in the checkout' });
      continue;
    }
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.cpSync(from, to, { recursive: true, errorOnExist: true, force: false, preserveTimestamps: true });
    copied.push(rel);
  }
  return { copied, not_copied };
}

// ---- isolate ----

export interface IsolateOptions extends IsolationPlace {
  /** What a new branch starts from (a branch, tag or commit); default HEAD of the main worktree. */
  base?: string | undefined;
}

const inflight = new Map<string, Promise<IsolateResult>>();

/**
 * Gives `workerId` its own directory and returns it. Idempotent: the same worker gets the same
 * directory (and port range) back with `created: false`; two workers never share one.
 */
export async function isolate(workspace: string, workerId: string, options: IsolateOptions = {}): Promise<IsolateResult> {
  const id = validateWorkerId(workerId);
  const key = `${path.resolve(workspace)}\0${id}`;
  const running = inflight.get(key);
  if (running) return { ...(await running), created: false, setup: null };
  const p = isolateNow(workspace, id, options);
  inflight.set(key, p);
  try {
    return await p;
  } finally {
    inflight.delete(key);
  }
}

/** For callers that start a worker process (the extension's "isolated" option): where and with what environment. */
export async function workerEnvironment(
  workspace: string,
  workerId: string,
  options: IsolateOptions = {},
): Promise<{ cwd: string; env: Record<string, string>; path: string; branch: string | null; created: boolean }> {
  const r = await isolate(workspace, workerId, options);
  return { cwd: r.cwd, env: r.env, path: r.path, branch: r.branch, created: r.created };
}

interface Prepared {
  entry: RegistryEntry;
  created: boolean;
  reused_branch: boolean;
  copied: string[];
  not_copied: Array<{ path: string; reason: string }>;
  note?: string;
}

async function isolateNow(workspace: string, id: string, options: IsolateOptions): Promise<IsolateResult> {
  const ctx = await context(workspace, options);
  const prepared = await withIsolationLock(ctx.stateDir, () => prepare(ctx, id, options));
  const { entry } = prepared;
  let setup: SetupReport | null = null;
  if (prepared.created && ctx.config.setup) {
    setup = await runSetup(ctx, entry);
    await withIsolationLock(ctx.stateDir, async () => {
      const reg = readRegistry(ctx.stateDir);
      const e = reg.workers.find((x) => x.worker === id);
      if (e) {
        e.setup = { state: 'ok', duration_ms: setup!.duration_ms };
        writeRegistry(ctx.stateDir, reg);
      }
    });
  }
  const env = workerEnv(ctx, entry);
  return {
    worker: id,
    mode: entry.mode,
    path: entry.path,
    cwd: workerCwd(ctx, entry),
    branch: entry.branch,
    base: entry.base,
    created: prepared.created,
    reused_branch: prepared.reused_branch,
    env,
    env_file: path.join(entry.path, ENV_FILE),
    ports: entry.ports,
    copied: prepared.copied,
    not_copied: prepared.not_copied,
    setup,
    ...(prepared.note ? { note: prepared.note } : {}),
  };
}

async function prepare(ctx: Ctx, id: string, options: IsolateOptions): Promise<Prepared> {
  const { reg, worktrees } = await loadRegistry(ctx);
  const twin = reg.workers.find((e) => e.worker !== id && e.worker.toLowerCase() === id.toLowerCase());
  if (twin) {
    throw new IsolationError(
      ErrorCode.AlreadyExists,
      `worker id ${JSON.stringify(id)} differs from the isolated worker ${JSON.stringify(twin.worker)} only in case; ` +
        'on a case-insensitive file system they would share a directory, so pick another id',
      { worker: id, other: twin.worker },
    );
  }
  let keptPorts: PortRange | null = null;
  const existing = reg.workers.find((e) => e.worker === id);
  if (existing) {
    if (existing.setup.state === 'running') {
      const pid = existing.setup.pid;
      if (pid !== undefined && pid !== process.pid && isAlive(pid)) {
        throw new IsolationError(
          IsolationErrorCode.Busy,
          `worker ${id}'s directory is being set up by process ${pid}; try again when its setup command has finished`,
          { worker: id, pid },
        );
      }
      // Its setup died with the process that ran it: start over.
      await removeWorkerDirectory(ctx, existing, worktrees, { deleteBranch: existing.created_branch });
      reg.workers.splice(reg.workers.indexOf(existing), 1);
      writeRegistry(ctx.stateDir, reg);
    } else if (intact(ctx, existing, worktrees)) {
      if (assignPorts(ctx, reg, existing)) writeRegistry(ctx.stateDir, reg);
      writeEnvFile(existing, workerEnv(ctx, existing));
      let note: string | undefined;
      if (options.base !== undefined && ctx.top) {
        const want = options.base.startsWith('-') ? undefined : await revParse(ctx.top, options.base);
        if (want !== existing.base) {
          note = `worker ${id} was already isolated (branch started from ${short(existing.base)}); --base ${options.base} was ignored`;
        }
      }
      return { entry: existing, created: false, reused_branch: false, copied: [], not_copied: [], ...(note ? { note } : {}) };
    } else {
      // Its directory was deleted by hand (or is no longer a worktree): make it again, on the
      // same branch and with the same ports.
      keptPorts = existing.ports;
      reg.workers.splice(reg.workers.indexOf(existing), 1);
      writeRegistry(ctx.stateDir, reg);
      if (ctx.top) await git(ctx.top, ['worktree', 'prune']);
    }
  }
  return ctx.top ? createWorktree(ctx, reg, id, options, keptPorts) : createPlain(ctx, reg, id, options, keptPorts);
}

function intact(ctx: Ctx, entry: RegistryEntry, worktrees: WorktreeInfo[]): boolean {
  if (!fs.existsSync(entry.path)) return false;
  if (entry.mode === 'plain') return !ctx.top;
  return worktrees.some((w) => w.path === entry.path && w.branch === entry.branch);
}

function newEntry(id: string, mode: 'git' | 'plain', dir: string, branch: string | null, base: string | null, createdBranch: boolean, ctx: Ctx, ports: PortRange | null): RegistryEntry {
  return {
    worker: id,
    mode,
    path: dir,
    branch,
    base,
    created_branch: createdBranch,
    created_at: new Date().toISOString(),
    ports,
    copied: [],
    setup: ctx.config.setup ? { state: 'running', pid: process.pid, started_at: new Date().toISOString() } : { state: 'none' },
  };
}

function refuseOccupied(dir: string, id: string): void {
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return; // does not exist: fine
  }
  if (names.length > 0) {
    throw new IsolationError(
      ErrorCode.AlreadyExists,
      `${dir} already exists and is not worker ${id}'s worktree; move it away (or delete it) and isolate again`,
      { worker: id, path: dir },
    );
  }
}

async function createWorktree(ctx: Ctx, reg: Registry, id: string, options: IsolateOptions, ports: PortRange | null): Promise<Prepared> {
  const top = ctx.top!;
  const branch = BRANCH_PREFIX + id;
  const dir = path.join(ctx.dir, id);
  fs.mkdirSync(ctx.dir, { recursive: true });
  if (inside(top, ctx.dir)) {
    if (inside(ctx.stateDir, ctx.dir)) prepareStateDir(ctx.stateDir);
    else ensureIgnoreAll(ctx.dir);
  }
  refuseOccupied(dir, id);

  const worktrees = await listWorktrees(top);
  const existingHead = await revParse(top, `refs/heads/${branch}`);
  let base: string;
  let reused = false;
  if (existingHead) {
    const holder = worktrees.find((w) => w.branch === branch);
    if (holder) {
      throw new IsolationError(
        IsolationErrorCode.BranchExists,
        `branch ${branch} is already checked out in ${holder.path}, which is not worker ${id}'s directory (${dir}); ` +
          `remove that worktree (git worktree remove ${holder.path}) or use another worker id`,
        { worker: id, branch, checked_out_in: holder.path },
      );
    }
    if (options.base !== undefined) {
      const want = await resolveBase(top, options.base);
      if (want !== existingHead) {
        throw new IsolationError(
          IsolationErrorCode.BranchExists,
          `branch ${branch} already exists at ${short(existingHead)}, not at --base ${options.base} (${short(want)}); ` +
            `isolate without --base to continue on it, or delete it first (git branch -D ${branch}) to start over from ${options.base}`,
          { worker: id, branch, head: existingHead, base: want },
        );
      }
    }
    // Named for this worker, checked out nowhere: the worker's earlier work. Reused, never reset.
    await git(top, ['worktree', 'add', dir, branch]);
    base = existingHead;
    reused = true;
  } else {
    base = await resolveBase(top, options.base);
    await git(top, ['worktree', 'add', '-b', branch, dir, base]);
  }
  const created = fs.realpathSync(dir);
  const entry = newEntry(id, 'git', created, branch, base, !reused, ctx, ports);
  try {
    await excludeEnvFile(top);
    const cwd = workerCwd(ctx, entry);
    const copies = copyIntoWorker(ctx, cwd);
    // Kept relative to the worktree's root, as git status reports paths.
    entry.copied = copies.copied.map((rel) => path.relative(entry.path, path.join(cwd, rel)).split(path.sep).join('/'));
    reg.workers.push(entry);
    assignPorts(ctx, reg, entry);
    writeEnvFile(entry, workerEnv(ctx, entry));
    writeRegistry(ctx.stateDir, reg);
    return { entry, created: true, reused_branch: reused, ...copies };
  } catch (e) {
    await removeWorkerDirectory(ctx, entry, await listWorktrees(top), { deleteBranch: !reused }).catch(() => {});
    throw e;
  }
}

async function resolveBase(top: string, base: string | undefined): Promise<string> {
  if (base !== undefined && (base === '' || base.startsWith('-'))) {
    throw new IsolationError(ErrorCode.InvalidArgument, `--base ${JSON.stringify(base)} is not a valid branch, tag or commit name`, { base });
  }
  const sha = await revParse(top, base ?? 'HEAD');
  if (sha) return sha;
  if (base === undefined) {
    throw new IsolationError(
      ErrorCode.NotFound,
      `the repository at ${top} has no commit yet; a worktree starts from a commit, so commit something first`,
    );
  }
  throw new IsolationError(ErrorCode.NotFound, `--base ${JSON.stringify(base)} is not a branch, tag or commit in ${top}`, { base });
}

async function createPlain(ctx: Ctx, reg: Registry, id: string, _options: IsolateOptions, ports: PortRange | null): Promise<Prepared> {
  const dir = path.join(ctx.dir, id);
  if (inside(ctx.stateDir, ctx.dir)) prepareStateDir(ctx.stateDir);
  const existed = fs.existsSync(dir);
  fs.mkdirSync(dir, { recursive: true });
  const entry = newEntry(id, 'plain', fs.realpathSync(dir), null, null, false, ctx, ports);
  // A directory left from before the registry knew it (e.g. it was deleted) is taken back as it is.
  if (existed) entry.setup = { state: 'none' };
  const copies = existed ? { copied: [], not_copied: [] } : copyIntoWorker(ctx, dir);
  entry.copied = copies.copied;
  reg.workers.push(entry);
  assignPorts(ctx, reg, entry);
  writeEnvFile(entry, workerEnv(ctx, entry));
  writeRegistry(ctx.stateDir, reg);
  return { entry, created: !existed, reused_branch: false, ...copies };
}

const TAIL = 4000;

async function runSetup(ctx: Ctx, entry: RegistryEntry): Promise<SetupReport> {
  const setup = ctx.config.setup!;
  const argv = typeof setup.command === 'string' ? [setup.command] : setup.command;
  const shown = typeof setup.command === 'string' ? setup.command : setup.command.join(' ');
  let result: RunResult | undefined;
  let spawnError: string | undefined;
  try {
    result = await runProcess({
      argv,
      shell: typeof setup.command === 'string',
      cwd: workerCwd(ctx, entry),
      env: workerEnv(ctx, entry),
      timeoutMs: setup.timeout_seconds * 1000,
    }).result;
  } catch (e) {
    spawnError = e instanceof RunError ? e.message : String(e);
  }
  if (result && result.returncode === 0 && !result.timed_out) {
    return {
      command: setup.command,
      returncode: 0,
      timed_out: false,
      duration_ms: result.duration_ms,
      stdout_tail: result.stdout_tail.slice(-TAIL),
      stderr_tail: result.stderr_tail.slice(-TAIL),
    };
  }
  // Failed: the new directory goes again, so the next isolate starts over instead of handing out
  // a half-prepared directory.
  await withIsolationLock(ctx.stateDir, async () => {
    const reg = readRegistry(ctx.stateDir);
    const worktrees = ctx.top ? await listWorktrees(ctx.top) : [];
    await removeWorkerDirectory(ctx, entry, worktrees, { deleteBranch: entry.created_branch });
    reg.workers = reg.workers.filter((e) => e.worker !== entry.worker);
    writeRegistry(ctx.stateDir, reg);
  });
  const how = spawnError
    ? spawnError
    : result!.timed_out
      ? `timed out after ${setup.timeout_seconds} s`
      : result!.signal_name
        ? `killed by ${result!.signal_name}`
        : `exit code ${result!.returncode}`;
  const lastLine = (result?.stderr_tail || result?.stdout_tail || '').trim().split('\n').pop() ?? '';
  throw new IsolationError(
    IsolationErrorCode.SetupFailed,
    `setup command "${shown}" failed in worker ${entry.worker}'s new directory (${how})${lastLine ? `: ${lastLine.slice(0, 300)}` : ''}; ` +
      `the directory was removed${entry.created_branch ? ' with its new branch' : ''}, so the next isolate starts over`,
    {
      worker: entry.worker,
      command: setup.command,
      returncode: result?.returncode ?? null,
      timed_out: result?.timed_out ?? false,
      stdout_tail: result?.stdout_tail.slice(-TAIL) ?? '',
      stderr_tail: result?.stderr_tail.slice(-TAIL) ?? spawnError ?? '',
    },
  );
}

/** Removes a worker's directory (and, when asked, its branch). */
async function removeWorkerDirectory(
  ctx: Ctx,
  entry: RegistryEntry,
  worktrees: WorktreeInfo[],
  { deleteBranch }: { deleteBranch: boolean },
): Promise<void> {
  if (entry.mode === 'git' && ctx.top) {
    if (worktrees.some((w) => w.path === entry.path)) {
      const r = await runGit(ctx.top, ['worktree', 'remove', '--force', entry.path]);
      if (r.code !== 0 && fs.existsSync(entry.path)) {
        throw new IsolationError(IsolationErrorCode.Git, `could not remove worktree ${entry.path}: ${gitMessage(r)}`, { worker: entry.worker });
      }
    }
    if (fs.existsSync(entry.path) && inside(ctx.dir, entry.path)) fs.rmSync(entry.path, { recursive: true, force: true });
    await runGit(ctx.top, ['worktree', 'prune']);
    if (deleteBranch && entry.branch && (await revParse(ctx.top, `refs/heads/${entry.branch}`))) {
      await git(ctx.top, ['branch', '-D', entry.branch]);
    }
  } else if (fs.existsSync(entry.path)) {
    fs.rmSync(entry.path, { recursive: true, force: true });
  }
}

// ---- list ----


export async function listIsolated(workspace: string, place: IsolationPlace = {}): Promise<IsolationListing> {
  const ctx = await context(workspace, place);
  return withIsolationLock(ctx.stateDir, async () => {
    const { reg } = await loadRegistry(ctx);
    const target = ctx.top ? ((await currentBranch(ctx.top)) ?? null) : null;
    const workers: IsolatedWorker[] = [];
    for (const e of reg.workers) {
      const head = ctx.top && e.branch ? ((await revParse(ctx.top, `refs/heads/${e.branch}`)) ?? null) : null;
      let unmerged: number | null = null;
      if (ctx.top && head && target) {
        unmerged = Number((await git(ctx.top, ['rev-list', '--count', `refs/heads/${target}..${head}`])).trim());
      }
      workers.push({
        worker: e.worker,
        mode: e.mode,
        path: e.path,
        cwd: workerCwd(ctx, e),
        branch: e.branch,
        base: e.base,
        head,
        exists: fs.existsSync(e.path),
        unmerged_commits: unmerged,
        ports: e.ports,
        env: workerEnv(ctx, e),
        setup: e.setup.state,
        created_at: e.created_at,
      });
    }
    return { mode: ctx.top ? 'git' : 'plain', directory: ctx.dir, target, workers };
  });
}

// ---- what a worker has not committed ----

/** Uncommitted changes in a worker's worktree (`XY path`), leaving out what harness put there. */
async function uncommitted(entry: RegistryEntry): Promise<string[]> {
  if (entry.mode !== 'git' || !fs.existsSync(entry.path)) return [];
  const ours = new Set([ENV_FILE, ...entry.copied]);
  return (await statusLines(entry.path, 'all')).filter((line) => {
    if (!line.startsWith('??')) return true;
    const file = line.slice(3).replace(/\/$/, '');
    return ![...ours].some((o) => file === o || file.startsWith(o.replace(/\/$/, '') + '/'));
  });
}

function filesUnder(root: string, skip: ReadonlySet<string>): string[] {
  const out: string[] = [];
  if (!fs.existsSync(root)) return out;
  for (const entry of fs.readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() && !entry.isSymbolicLink()) continue;
    const rel = path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
    if ([...skip].some((s) => rel === s || rel.startsWith(s + '/'))) continue;
    out.push(rel);
  }
  return out.sort();
}

// ---- merge ----

export interface MergeOptions extends IsolationPlace {
  /** The branch to merge into; default the branch checked out in the main worktree. */
  into?: string | undefined;
  /** Which workers, in this order; default every isolated worker, oldest first. */
  workers?: readonly string[] | undefined;
}

/**
 * Merges each worker's branch into the target, one at a time (`git merge --no-ff`). All or
 * nothing: at the first conflict (or any failed merge) the merge is aborted, merges this call
 * made before it are undone, and a MERGE_CONFLICT error names the worker and the files; the
 * target is left exactly as it was. Only committed work is merged.
 *
 * When the target is checked out in the main worktree the merges happen there (which must have
 * no uncommitted changes to tracked files); otherwise in a temporary worktree of the target, and
 * the branch is moved (compare-and-swap) only once every merge succeeded.
 *
 * Outside git there is nothing to merge: each worker's files are listed instead.
 */
export async function merge(workspace: string, options: MergeOptions = {}): Promise<MergeResult | StreamOutputsResult> {
  const ctx = await context(workspace, options);
  if (!ctx.top) {
    if (options.into !== undefined) {
      throw new IsolationError(
        IsolationErrorCode.NotAGitRepo,
        `${ctx.workspace} is not in a git repository, so there is no branch ${options.into} to merge into; ` +
          'without git, harness merge lists each worker\'s files (run it without --into)',
        { workspace: ctx.workspace },
      );
    }
    return withIsolationLock(ctx.stateDir, async () => {
      const { reg } = await loadRegistry(ctx);
      const outputs = selectWorkers(reg, options.workers).map((e) => ({
        worker: e.worker,
        path: e.path,
        files: filesUnder(e.path, new Set([ENV_FILE, ...e.copied])),
      }));
      return {
        git: false as const,
        message: `${ctx.workspace} is not in a git repository: there is nothing to merge in git terms; here are each worker's files to collect`,
        outputs,
      };
    });
  }
  return withIsolationLock(ctx.stateDir, () => mergeGit(ctx, options));
}

async function mergeGit(ctx: Ctx, options: MergeOptions): Promise<MergeResult> {
  const top = ctx.top!;
  const { reg, worktrees } = await loadRegistry(ctx);
  const selected = selectWorkers(reg, options.workers).filter((e) => e.mode === 'git' && e.branch);
  const mainBranch = await currentBranch(top);
  const target = options.into !== undefined ? options.into.replace(/^refs\/heads\//, '') : mainBranch;
  if (!target) {
    throw new IsolationError(
      IsolationErrorCode.DetachedHead,
      `the main worktree ${top} is on a detached HEAD, so there is no branch to merge into; check out a branch or pass --into BRANCH`,
    );
  }
  const before = await revParse(top, `refs/heads/${target}`);
  if (!before) throw new IsolationError(ErrorCode.NotFound, `there is no branch ${JSON.stringify(target)} to merge into`, { target });
  if (target.startsWith(BRANCH_PREFIX) && reg.workers.some((e) => e.branch === target)) {
    throw new IsolationError(ErrorCode.InvalidArgument, `${target} is a worker's branch; merge into the branch the work is meant for`, { target });
  }
  for (const e of selected) {
    if (!(await revParse(top, `refs/heads/${e.branch}`))) {
      throw new IsolationError(
        ErrorCode.NotFound,
        `worker ${e.worker}'s branch ${e.branch} no longer exists; nothing of it can be merged (harness isolate --cleanup --worker ${e.worker} --force forgets the worker)`,
        { worker: e.worker, branch: e.branch },
      );
    }
  }

  const inMain = target === mainBranch;
  let dir = top;
  let temp: string | undefined;
  if (inMain) {
    if (await revParse(top, 'MERGE_HEAD')) {
      throw new IsolationError(
        IsolationErrorCode.DirtyWorktree,
        `a merge is already in progress in ${top}; finish it (git commit) or abort it (git merge --abort) first`,
        { path: top },
      );
    }
    const dirty = await statusLines(top, 'no');
    if (dirty.length > 0) {
      throw new IsolationError(
        IsolationErrorCode.DirtyWorktree,
        `the main worktree ${top} has uncommitted changes to tracked files (${listing(dirty.map((l) => l.slice(3)))}); ` +
          'commit or stash them first, nothing was merged',
        { path: top, files: dirty.map((l) => l.slice(3)) },
      );
    }
  } else {
    const holder = worktrees.find((w) => w.branch === target);
    if (holder) {
      throw new IsolationError(
        ErrorCode.Conflict,
        `branch ${target} is checked out in ${holder.path}; merge there, or leave it checked out nowhere (or in the main worktree)`,
        { target, checked_out_in: holder.path },
      );
    }
    temp = path.join(prepareStateDir(ctx.stateDir), `merge-${process.pid}-${randomUUID().slice(0, 8)}`);
    await git(top, ['worktree', 'add', '--detach', temp, before]);
    dir = temp;
  }

  const merged: MergedWorker[] = [];
  const skipped: MergeResult['skipped'] = [];
  try {
    for (const e of selected) {
      const branch = e.branch!;
      const pending = await uncommitted(e);
      const ref = `refs/heads/${branch}`;
      if (await gitOk(dir, ['merge-base', '--is-ancestor', ref, 'HEAD'])) {
        skipped.push({ worker: e.worker, branch, reason: 'nothing new: already merged', uncommitted: pending });
        continue;
      }
      const commits = Number((await git(dir, ['rev-list', '--count', `HEAD..${ref}`])).trim());
      const r = await runGit(dir, ['merge', '--no-ff', '--no-edit', '-m', `Merge branch '${branch}' (harness worker ${e.worker}) into ${target}`, ref]);
      if (r.code === 0) {
        merged.push({ worker: e.worker, branch, commits, commit: (await revParse(dir, 'HEAD'))!, uncommitted: pending });
        continue;
      }
      const files = (await runGit(dir, ['diff', '--name-only', '--diff-filter=U', '-z'])).stdout.split('\0').filter(Boolean);
      await undo(dir, before, inMain);
      const undone = merged.map((m) => m.worker);
      const kept = `${target} is unchanged at ${short(before)}${undone.length ? ` (the merge${undone.length > 1 ? 's' : ''} of ${undone.join(', ')} made before it ${undone.length > 1 ? 'were' : 'was'} undone too)` : ''}`;
      if (files.length > 0) {
        throw new IsolationError(
          IsolationErrorCode.MergeConflict,
          `worker ${e.worker} (branch ${branch}) conflicts with ${target} in ${listing(files)}; nothing was merged: ${kept}. ` +
            `Merge the others without it (--worker), or resolve it by hand: git merge ${branch}`,
          { worker: e.worker, branch, files, target, target_head: before, undone },
        );
      }
      throw new IsolationError(
        IsolationErrorCode.MergeFailed,
        `git could not merge worker ${e.worker} (branch ${branch}) into ${target}: ${gitMessage(r)}; nothing was merged: ${kept}`,
        { worker: e.worker, branch, target, target_head: before, undone, git: gitMessage(r) },
      );
    }
    const after = (await revParse(dir, 'HEAD'))!;
    if (!inMain && after !== before) {
      const r = await runGit(top, ['update-ref', '-m', `harness merge: ${merged.map((m) => m.worker).join(', ')}`, `refs/heads/${target}`, after, before]);
      if (r.code !== 0) {
        throw new IsolationError(
          ErrorCode.Conflict,
          `branch ${target} moved while merging (${gitMessage(r)}); it was left as it is, run harness merge again`,
          { target },
        );
      }
    }
    return { git: true, target, merged_in: inMain ? 'main-worktree' : 'temporary-worktree', before, after, merged, skipped };
  } finally {
    if (temp) {
      await runGit(top, ['worktree', 'remove', '--force', temp]);
      fs.rmSync(temp, { recursive: true, force: true });
      await runGit(top, ['worktree', 'prune']);
    }
  }
}

/** Back to `before` after a failed merge: abort it, then undo this call's earlier merges. */
async function undo(dir: string, before: string, inMain: boolean): Promise<void> {
  if (await revParse(dir, 'MERGE_HEAD')) await git(dir, ['merge', '--abort']);
  if (!inMain) return; // a temporary worktree is thrown away; the target ref was never moved
  const head = await revParse(dir, 'HEAD');
  if (head !== before) {
    // --keep, not --hard: it refuses rather than overwrite a change someone made meanwhile.
    const r = await runGit(dir, ['reset', '--keep', before]);
    if (r.code !== 0) {
      throw new IsolationError(
        IsolationErrorCode.MergeFailed,
        `a merge failed and undoing this call's earlier merges failed too (${gitMessage(r)}); the branch is at ${short(head)}, ` +
          `it was at ${short(before)} before: git reset --keep ${before} restores it`,
        { before, head },
      );
    }
  }
}

// ---- cleanup ----

export interface CleanupOptions extends IsolationPlace {
  /** Which workers; default every isolated worker. */
  workers?: readonly string[] | undefined;
  /** Remove even with unmerged commits or uncommitted changes (they are lost). */
  force?: boolean | undefined;
  /** What "merged" means: an ancestor of this branch; default the main worktree's branch. */
  into?: string | undefined;
}

interface AtStake {
  entry: RegistryEntry;
  head: string | null;
  unmerged: string[];
  uncommitted: string[];
  outputs: string[];
  busy: boolean;
}

function describeStake(s: AtStake, target: string | null): string {
  const parts: string[] = [];
  if (s.busy) parts.push('its setup command is still running');
  if (s.unmerged.length) {
    parts.push(`${s.unmerged.length} commit${s.unmerged.length > 1 ? 's' : ''} on ${s.entry.branch} not in ${target} (${listing(s.unmerged, 5)})`);
  }
  if (s.uncommitted.length) parts.push(`uncommitted changes (${listing(s.uncommitted, 8)})`);
  if (s.outputs.length) parts.push(`files in its directory (${listing(s.outputs, 8)})`);
  return `${s.entry.worker}: ${parts.join('; ')}`;
}

/**
 * Removes workers' directories (and branches) whose work is merged: the branch is an ancestor of
 * the target and nothing is uncommitted. All or nothing: if any selected worker would lose work,
 * nothing is removed and the error lists what would be lost, unless `force`.
 */
export async function cleanup(workspace: string, options: CleanupOptions = {}): Promise<CleanupResult> {
  const ctx = await context(workspace, options);
  return withIsolationLock(ctx.stateDir, async () => {
    const { reg, worktrees } = await loadRegistry(ctx);
    const selected = selectWorkers(reg, options.workers);
    let target: string | null = null;
    if (ctx.top && selected.some((e) => e.mode === 'git')) {
      target = options.into !== undefined ? options.into.replace(/^refs\/heads\//, '') : ((await currentBranch(ctx.top)) ?? null);
      if (!target) {
        throw new IsolationError(
          IsolationErrorCode.DetachedHead,
          `the main worktree ${ctx.top} is on a detached HEAD, so "merged" has no branch to refer to; pass --into BRANCH`,
        );
      }
      if (!(await revParse(ctx.top, `refs/heads/${target}`))) {
        throw new IsolationError(ErrorCode.NotFound, `there is no branch ${JSON.stringify(target)} to check the workers against`, { target });
      }
    } else if (!ctx.top && options.into !== undefined) {
      throw new IsolationError(IsolationErrorCode.NotAGitRepo, `${ctx.workspace} is not in a git repository; --into has no meaning here`);
    }

    const stakes: AtStake[] = [];
    for (const e of selected) {
      const s: AtStake = { entry: e, head: null, unmerged: [], uncommitted: [], outputs: [], busy: false };
      s.busy = e.setup.state === 'running' && e.setup.pid !== undefined && isAlive(e.setup.pid);
      if (e.mode === 'git' && ctx.top && e.branch) {
        s.head = (await revParse(ctx.top, `refs/heads/${e.branch}`)) ?? null;
        if (s.head) {
          const log = await git(ctx.top, ['log', '--format=%h %s', `refs/heads/${target}..${s.head}`]);
          s.unmerged = log.split('\n').filter(Boolean);
        }
        s.uncommitted = await uncommitted(e);
      } else if (e.mode === 'plain') {
        s.outputs = filesUnder(e.path, new Set([ENV_FILE, ...e.copied]));
      }
      stakes.push(s);
    }

    const atRisk = stakes.filter((s) => s.busy || s.unmerged.length || s.uncommitted.length || s.outputs.length);
    if (atRisk.length > 0 && !options.force) {
      const safe = stakes.filter((s) => !atRisk.includes(s)).map((s) => s.entry.worker);
      const code = atRisk.some((s) => s.unmerged.length || s.outputs.length)
        ? IsolationErrorCode.UnmergedWork
        : atRisk.some((s) => s.uncommitted.length)
          ? IsolationErrorCode.DirtyWorktree
          : IsolationErrorCode.Busy;
      throw new IsolationError(
        code,
        `refusing to remove ${atRisk.length === 1 ? `worker ${atRisk[0]!.entry.worker}'s directory` : `${atRisk.length} workers' directories`}, ` +
          `that would lose: ${atRisk.map((s) => describeStake(s, target)).join(' | ')}. ` +
          `Merge first (harness merge), or pass --force to throw it away. Nothing was removed` +
          (safe.length ? `; removable now: ${safe.map((w) => `--worker ${w}`).join(' ')}` : ''),
        {
          target,
          refused: atRisk.map((s) => ({
            worker: s.entry.worker,
            branch: s.entry.branch,
            unmerged_commits: s.unmerged,
            uncommitted: s.uncommitted,
            files: s.outputs,
            setup_running: s.busy,
          })),
          removable: safe,
        },
      );
    }

    const removed: CleanupResult['removed'] = [];
    for (const s of stakes) {
      const e = s.entry;
      await removeWorkerDirectory(ctx, e, worktrees, { deleteBranch: e.mode === 'git' });
      reg.workers = reg.workers.filter((x) => x !== e);
      writeRegistry(ctx.stateDir, reg); // after each one: a failure later leaves the registry true
      const discarded = [
        ...(s.busy ? ['a running setup'] : []),
        ...s.unmerged.map((c) => `commit ${c}`),
        ...s.uncommitted.map((f) => `uncommitted ${f}`),
        ...s.outputs.map((f) => `file ${f}`),
      ];
      removed.push({ worker: e.worker, path: e.path, branch: e.branch, branch_head: s.head, forced: discarded.length > 0, discarded });
    }
    return { target, removed };
  });
}

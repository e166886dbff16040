import { spawn } from 'node:child_process';
import { IsolationError, IsolationErrorCode } from './errors';

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Variables that would point git somewhere other than the directory we run it in. */
const REPO_OVERRIDES = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_OBJECT_DIRECTORY', 'GIT_PREFIX'];

function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of REPO_OVERRIDES) delete env[k];
  // Messages in English (they end up in error replies), never a prompt or an editor: nobody is
  // at the keyboard of a coordinator.
  env.LC_ALL = 'C';
  env.GIT_TERMINAL_PROMPT = '0';
  env.GIT_MERGE_AUTOEDIT = 'no';
  env.GIT_EDITOR = 'true';
  return env;
}

// Generous: a checkout or a merge of a large repository (with hooks) can take a while.
const DEFAULT_TIMEOUT_MS = 600_000;

/** Runs `git args...` in `cwd`; resolves with its exit code and output, whatever the code. */
export function runGit(cwd: string, args: readonly string[], timeoutMs = DEFAULT_TIMEOUT_MS): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, env: gitEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: signal ? `${stderr}git ${args[0]} was killed (${signal}) after ${timeoutMs} ms` : stderr,
      });
    });
  });
}

/** The first meaningful lines git wrote, for an error message. */
export function gitMessage(r: GitResult): string {
  const text = (r.stderr.trim() || r.stdout.trim()).split('\n').filter((l) => l.trim() !== '');
  return text.slice(0, 6).join(' / ') || `exit code ${r.code}`;
}

/** Runs git and returns stdout; a non-zero exit is a GIT_ERROR naming the command and git's message. */
export async function git(cwd: string, args: readonly string[], timeoutMs?: number): Promise<string> {
  const r = await runGit(cwd, args, timeoutMs);
  if (r.code !== 0) {
    throw new IsolationError(IsolationErrorCode.Git, `git ${args.join(' ')} failed in ${cwd}: ${gitMessage(r)}`, {
      command: ['git', ...args],
      cwd,
      exit_code: r.code,
    });
  }
  return r.stdout;
}

/** True when `git args` exits 0 (for yes/no questions such as `merge-base --is-ancestor`). */
export async function gitOk(cwd: string, args: readonly string[]): Promise<boolean> {
  return (await runGit(cwd, args)).code === 0;
}

/** The top of the checkout containing `dir`, or undefined when it is not in a git repository (or git is missing). */
export async function gitTopLevel(dir: string): Promise<string | undefined> {
  let r: GitResult;
  try {
    r = await runGit(dir, ['rev-parse', '--show-toplevel']);
  } catch {
    return undefined; // no git binary: treated like no repository
  }
  return r.code === 0 ? r.stdout.trim() || undefined : undefined;
}

export async function revParse(cwd: string, ref: string): Promise<string | undefined> {
  const r = await runGit(cwd, ['rev-parse', '-q', '--verify', `${ref}^{commit}`]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** The branch checked out in `cwd`'s worktree, or undefined on a detached HEAD. */
export async function currentBranch(cwd: string): Promise<string | undefined> {
  const r = await runGit(cwd, ['symbolic-ref', '-q', '--short', 'HEAD']);
  return r.code === 0 ? r.stdout.trim() || undefined : undefined;
}

export interface WorktreeInfo {
  path: string;
  head: string | undefined;
  /** Short branch name, undefined when detached. */
  branch: string | undefined;
  bare: boolean;
  prunable: boolean;
}

export async function listWorktrees(cwd: string): Promise<WorktreeInfo[]> {
  // Not -z: that needs git 2.36. Records are separated by a blank line.
  const out = await git(cwd, ['worktree', 'list', '--porcelain']);
  const list: WorktreeInfo[] = [];
  let cur: WorktreeInfo | undefined;
  for (const field of out.split('\n')) {
    if (field === '') {
      if (cur) list.push(cur);
      cur = undefined;
      continue;
    }
    const sp = field.indexOf(' ');
    const key = sp === -1 ? field : field.slice(0, sp);
    const value = sp === -1 ? '' : field.slice(sp + 1);
    if (key === 'worktree') {
      if (cur) list.push(cur);
      cur = { path: value, head: undefined, branch: undefined, bare: false, prunable: false };
    } else if (cur) {
      if (key === 'HEAD') cur.head = value;
      else if (key === 'branch') cur.branch = value.replace(/^refs\/heads\//, '');
      else if (key === 'bare') cur.bare = true;
      else if (key === 'prunable') cur.prunable = true;
    }
  }
  if (cur) list.push(cur);
  return list;
}

/** `git status --porcelain` lines for the worktree at `cwd` (`XY path`). */
export async function statusLines(cwd: string, untracked: 'no' | 'all'): Promise<string[]> {
  const out = await git(cwd, ['status', '--porcelain=v1', '-z', `--untracked-files=${untracked}`]);
  const lines: string[] = [];
  const fields = out.split('\0');
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (f === '') continue;
    lines.push(f);
    if (f[0] === 'R' || f[0] === 'C') i++; // a rename's second field is its source
  }
  return lines;
}

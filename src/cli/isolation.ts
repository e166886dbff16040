import { Isolate, IsolateCleanup, IsolateList, Merge } from '../protocol/isolation';
import type { Values } from './args';
import { columns } from './table';
import { call, type CliCommand } from './commands';
import { resolveWorkerId, UsageError } from './context';

function ids(v: Values): string[] {
  const w = v.worker;
  return Array.isArray(w) ? w : typeof w === 'string' ? [w] : [];
}

function str(v: Values, key: string): string | undefined {
  const x = v[key];
  if (x === '') throw new UsageError(`--${key} needs a value`);
  return typeof x === 'string' ? x : undefined;
}

const ISOLATE_USAGE = [
  'harness isolate [--worker ID] [--base REF] | --list | --cleanup [--worker ID]... [--into BRANCH] [--force]',
  "Gives the worker (default: this one) its own directory: in a git repository a worktree on a new branch harness/<worker>",
  'from REF (default HEAD), under .harness/worktrees/; outside git a plain .harness/workers/<worker>/. The same worker gets',
  'the same directory back. An existing harness/<worker> branch checked out nowhere is reused (its commits are kept).',
  'Settings in .harness/config.json under "isolation": directory, copy, setup, ports (see docs/isolation.md).',
  '--list shows the isolated workers. --cleanup removes worktrees whose branch is merged into BRANCH (default: the main',
  "worktree's branch) and their branches; one with unmerged commits or uncommitted changes is refused unless --force.",
  '--format text prints just the directory: cd "$(harness isolate --format text)"',
].join('\n');

export const ISOLATE_COMMAND: CliCommand = {
  name: 'isolate',
  usage: ISOLATE_USAGE,
  summary: "give a worker its own directory (git worktree on harness/<worker>); --list, --cleanup",
  options: {
    worker: { type: 'string', multiple: true },
    base: { type: 'string' },
    list: { type: 'boolean' },
    cleanup: { type: 'boolean' },
    force: { type: 'boolean' },
    into: { type: 'string' },
  },
  run(v, _p, o, io) {
    const workers = ids(v);
    const base = str(v, 'base');
    const into = str(v, 'into');
    if (v.list) {
      if (v.cleanup || base !== undefined || v.force || into !== undefined || workers.length) {
        throw new UsageError('--list takes no other option', ISOLATE_USAGE);
      }
      return call(o, io, IsolateList, {}, (d) =>
        d.workers.length
          ? columns([
              ['WORKER', 'BRANCH', 'UNMERGED', 'PORTS', 'DIRECTORY'],
              ...d.workers.map((w) => [
                w.worker,
                w.branch ?? '-',
                w.branch ? String(w.unmerged_commits ?? 0) : '-',
                w.ports ? `${w.ports.base}-${w.ports.base + w.ports.count - 1}` : '-',
                `${w.path}${w.exists ? '' : ' (missing)'}`,
              ]),
            ])
          : 'no isolated workers\n',
      );
    }
    if (v.cleanup) {
      if (base !== undefined) throw new UsageError('--base does not go with --cleanup', ISOLATE_USAGE);
      return call(
        o,
        io,
        IsolateCleanup,
        { ...(workers.length ? { worker_ids: workers } : {}), ...(into !== undefined ? { into } : {}), force: v.force === true },
        (d) =>
          d.removed.length
            ? d.removed.map((r) => `removed ${r.worker}  ${r.path}${r.forced ? `  (forced: ${r.discarded.length} things discarded; branch was at ${r.branch_head})` : ''}\n`).join('')
            : 'nothing to clean up\n',
      );
    }
    if (v.force) throw new UsageError('--force goes with --cleanup', ISOLATE_USAGE);
    if (into !== undefined) throw new UsageError('--into goes with --cleanup (or harness merge)', ISOLATE_USAGE);
    if (workers.length > 1) throw new UsageError('isolate takes one --worker (--cleanup takes several)', ISOLATE_USAGE);
    const worker = workers[0] ?? resolveWorkerId({}, io);
    return call(o, io, Isolate, { worker_id: worker, ...(base !== undefined ? { base } : {}) }, (d) => `${d.cwd}\n`);
  },
};

const MERGE_USAGE = [
  'harness merge [--into BRANCH] [--worker ID]...',
  "Merges each worker's committed work (branch harness/<worker>, git merge --no-ff) into BRANCH, default the branch",
  'checked out in the main worktree, which must have no uncommitted changes to tracked files. All or nothing: the first',
  'conflict aborts, undoes the merges made before it, and reports the worker and the files; BRANCH is left unchanged.',
  'A BRANCH not checked out in the main worktree (nor in any other) is merged in a temporary worktree and moved only',
  "when every merge succeeded. Outside git there is nothing to merge: it lists each worker's files instead.",
].join('\n');

export const MERGE_COMMAND: CliCommand = {
  name: 'merge',
  usage: MERGE_USAGE,
  summary: "merge isolated workers' branches into a branch, one at a time, all or nothing",
  options: { worker: { type: 'string', multiple: true }, into: { type: 'string' } },
  run(v, _p, o, io) {
    const workers = ids(v);
    const into = str(v, 'into');
    return call(
      o,
      io,
      Merge,
      { ...(workers.length ? { worker_ids: workers } : {}), ...(into !== undefined ? { into } : {}) },
      (d) => {
        if (!d.git) {
          return `${d.message}\n${d.outputs.map((w) => `${w.worker}  ${w.path}\n${w.files.map((f) => `  ${f}\n`).join('')}`).join('')}`;
        }
        const lines = [
          ...d.merged.map((m) => `merged ${m.worker} (${m.commits} commit${m.commits === 1 ? '' : 's'}) into ${d.target}`),
          ...d.skipped.map((s) => `skipped ${s.worker}: ${s.reason}`),
          ...[...d.merged, ...d.skipped]
            .filter((m) => m.uncommitted.length)
            .map((m) => `note: ${m.worker} has uncommitted changes that were not merged (${m.uncommitted.length} files)`),
        ];
        return (lines.length ? lines.join('\n') : `nothing to merge into ${d.target}`) + `\n${d.target}: ${d.before.slice(0, 10)} -> ${d.after.slice(0, 10)}\n`;
      },
    );
  },
};

export const ISOLATION_CLI_COMMANDS: CliCommand[] = [ISOLATE_COMMAND, MERGE_COMMAND];

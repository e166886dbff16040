// Per-worker isolation: each worker its own directory (a git worktree on harness/<worker>, or a
// plain directory outside git), and merging the workers' branches back.
import { z } from 'zod';
import { command } from './command';

export const PortRange = z.object({ base: z.number(), count: z.number() });
export const IsolationMode = z.enum(['git', 'plain']).describe('git: a worktree on a branch; plain: a directory (no git repository)');

export const SetupReport = z.object({
  command: z.union([z.array(z.string()), z.string()]),
  returncode: z.number(),
  timed_out: z.boolean(),
  duration_ms: z.number(),
  stdout_tail: z.string(),
  stderr_tail: z.string(),
});

export const IsolateResult = z.object({
  worker: z.string(),
  mode: IsolationMode,
  path: z.string().describe("The worker's directory (a worktree's root)"),
  cwd: z.string().describe('Where the worker should run: path, or the same subdirectory of it the workspace is of the repository'),
  branch: z.string().nullable(),
  base: z.string().nullable().describe('The commit the branch started from'),
  created: z.boolean().describe('This call made the directory (false: the worker already had it)'),
  reused_branch: z.boolean().describe('An existing harness/<worker> branch was checked out again'),
  env: z.record(z.string(), z.string()).describe("What the worker's processes should have in their environment"),
  env_file: z.string(),
  ports: PortRange.nullable(),
  copied: z.array(z.string()).describe('Files copied in from the workspace by this call'),
  not_copied: z.array(z.object({ path: z.string(), reason: z.string() })),
  setup: SetupReport.nullable().describe("The setup command's outcome, when this call ran it"),
  note: z.string().optional(),
});
export type IsolateResult = z.output<typeof IsolateResult>;

export const IsolatedWorker = z.object({
  worker: z.string(),
  mode: IsolationMode,
  path: z.string(),
  cwd: z.string(),
  branch: z.string().nullable(),
  base: z.string().nullable(),
  head: z.string().nullable().describe("The branch's current commit"),
  exists: z.boolean().describe('Whether the directory is still on disk'),
  unmerged_commits: z.number().nullable().describe("Commits on the branch not yet in the main worktree's branch"),
  ports: PortRange.nullable(),
  env: z.record(z.string(), z.string()),
  setup: z.enum(['none', 'running', 'ok']),
  created_at: z.string(),
});
export type IsolatedWorker = z.output<typeof IsolatedWorker>;

export const IsolationListing = z.object({
  mode: IsolationMode,
  directory: z.string(),
  target: z.string().nullable().describe('The branch checked out in the main worktree (the default merge target)'),
  workers: z.array(IsolatedWorker),
});
export type IsolationListing = z.output<typeof IsolationListing>;

export const MergedWorker = z.object({
  worker: z.string(),
  branch: z.string(),
  commits: z.number().describe('Commits the merge brought in'),
  commit: z.string().describe('The merge commit'),
  uncommitted: z.array(z.string()).describe("Uncommitted files in the worker's directory: not merged (only commits are)"),
});

export const MergeResult = z.object({
  git: z.literal(true),
  target: z.string(),
  merged_in: z.enum(['main-worktree', 'temporary-worktree']),
  before: z.string(),
  after: z.string(),
  merged: z.array(MergedWorker),
  skipped: z.array(z.object({ worker: z.string(), branch: z.string(), reason: z.string(), uncommitted: z.array(z.string()) })),
});
export type MergeResult = z.output<typeof MergeResult>;

export const StreamOutputsResult = z.object({
  git: z.literal(false),
  message: z.string().describe('Says plainly that there is no git merge outside a repository'),
  outputs: z.array(z.object({ worker: z.string(), path: z.string(), files: z.array(z.string()) })),
});
export type StreamOutputsResult = z.output<typeof StreamOutputsResult>;

export const CleanupResult = z.object({
  target: z.string().nullable(),
  removed: z.array(
    z.object({
      worker: z.string(),
      path: z.string(),
      branch: z.string().nullable(),
      branch_head: z.string().nullable().describe("The branch's last commit: `git branch <branch> <sha>` brings a forced removal back"),
      forced: z.boolean(),
      discarded: z.array(z.string()).describe('What force threw away'),
    }),
  ),
});
export type CleanupResult = z.output<typeof CleanupResult>;

const IsolationWorker = z.string().min(1).max(200).describe('The worker');
/** Workers by `worker_ids` (a list) or `worker_id` (one); neither means all. */
const Selection = {
  worker_ids: z.array(IsolationWorker).max(1000).optional().describe('These workers (default: all)'),
  worker_id: IsolationWorker.optional().describe('This one worker'),
};
const Into = z.string().min(1).max(250).optional().describe("The branch (default: the main worktree's branch)");

export const Isolate = command({
  name: 'isolate',
  kind: 'mutation',
  summary: 'Give a worker its own directory (git worktree on harness/<worker>); the same worker gets the same one back.',
  params: z.strictObject({
    worker_id: IsolationWorker,
    base: z.string().min(1).max(250).optional().describe('What a new branch starts from (default HEAD)'),
  }),
  result: IsolateResult,
  fills: { worker: 'worker_id' },
});

export const IsolateList = command({
  name: 'isolate_list',
  kind: 'query',
  summary: 'The isolated workers: directory, branch, ports, unmerged commits.',
  params: z.strictObject({}),
  result: IsolationListing,
});

export const IsolateCleanup = command({
  name: 'isolate_cleanup',
  kind: 'mutation',
  summary: "Remove workers' directories and branches whose work is merged (force: even if not).",
  params: z.strictObject({ ...Selection, into: Into, force: z.boolean().optional().describe('Remove even unmerged or uncommitted work (it is lost)') }),
  result: CleanupResult,
});

export const Merge = command({
  name: 'merge',
  kind: 'mutation',
  summary: "Merge workers' branches into a branch, one at a time, all or nothing.",
  params: z.strictObject({ ...Selection, into: Into }),
  result: z.discriminatedUnion('git', [MergeResult, StreamOutputsResult]),
});

export const ISOLATION_COMMANDS = [Isolate, IsolateList, IsolateCleanup, Merge] as const;

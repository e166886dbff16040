// `harness plan import --github-issues FILE`: reads `gh issue list --json ...` output (a file,
// or `-` for stdin), maps labels with the workspace's `webhooks.labels`, and returns the plan.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Task } from '../core/model';
import { loadWebhookSettings } from '../webhooks/config';
import { githubIssuesPlan } from '../webhooks/github-plan';
import { connect, UsageError, type GlobalOptions, type Io } from './context';

export async function githubIssuesPlanFromFile(file: string, opts: GlobalOptions, io: Io, usage: string): Promise<{ tasks: unknown[] }> {
  let text: string;
  const name = file === '-' ? 'stdin' : path.resolve(io.cwd, file);
  try {
    text = fs.readFileSync(file === '-' ? 0 : name, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${name}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, usage);
  }
  let issues: unknown;
  try {
    issues = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${name} is not valid JSON (expected the output of gh issue list --json number,title,body,labels): ${(e as Error).message}`, usage);
  }
  // The label mapping belongs to the coordinator's workspace, and tasks already there may be
  // depended on: both come from the coordinator this plan goes to.
  const client = await connect(opts, io);
  let worktree: string;
  let existing: Set<string>;
  try {
    ({ worktree } = await client.request<{ worktree: string }>('ping', {}));
    existing = new Set((await client.request<{ tasks: Task[] }>('task_list', {})).tasks.map((t) => t.id));
  } finally {
    client.close();
  }
  const plan = githubIssuesPlan(issues, loadWebhookSettings(worktree)?.labels ?? {}, (id) => existing.has(id));
  for (const note of plan.notes) io.stderr(`harness: ${note}\n`);
  return { tasks: plan.tasks };
}

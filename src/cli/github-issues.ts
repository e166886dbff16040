// `harness plan import --github-issues FILE`: reads `gh issue list --json ...` output (a file,
// or `-` for stdin), maps labels with the coordinator's `webhooks.labels`, and returns the plan.
import { listAllTasks } from '../client/paging';
import type { Plan } from '../client/plan';
import { readHarnessConfig } from '../config/harness';
import type { Caller } from '../protocol/api';
import { Ping } from '../protocol/meta';
import { githubIssuesPlan as planOfIssues } from '../webhooks/github-plan';
import { readFileArg } from './args';
import { UsageError, type Io } from './context';

/** The issues file as JSON; a file that cannot be read or parsed is a usage error naming it. */
export function readGithubIssues(file: string, io: Io, usage: string): unknown {
  const { name, text } = readFileArg(file, '', io.cwd, usage);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${name} is not valid JSON (expected the output of gh issue list --json number,title,body,labels): ${(e as Error).message}`, usage);
  }
}

/**
 * The plan of the issues for the coordinator they go to: the label mapping is in its state
 * directory's config.json, and tasks already there may be depended on.
 */
export async function githubIssuesPlan(coordinator: Caller, issues: unknown, io: Io): Promise<Plan> {
  const { state_dir } = await coordinator.call(Ping);
  const existing = new Set((await listAllTasks(coordinator)).map((t) => t.id));
  const plan = planOfIssues(issues, readHarnessConfig(state_dir).webhooks?.labels ?? {}, (id) => existing.has(id));
  for (const note of plan.notes) io.stderr(`harness: ${note}\n`);
  return { tasks: plan.tasks };
}

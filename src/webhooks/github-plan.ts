// `harness plan import --github-issues FILE`: the output of
// `gh issue list --json number,title,body,labels[,url,state]` as a plan. A pure function: the
// CLI reads the file and the config, this decides the tasks.
import { z } from 'zod';
import { findCycle } from '../core/dag';
import { ErrorCode, HarnessError } from '../core/errors';
import type { Json, TaskInput } from '../core/model';
import { formatIssues } from '../core/validate';
import type { LabelEffect } from './config';
import { httpUrl, labelEffects } from './github-rules';
import { clip } from './template';

const GhLabel = z.union([z.string(), z.object({ name: z.string() })]);
const GhIssue = z.object({
  number: z.number().int().positive(),
  title: z.string(),
  body: z.string().nullable().default(''),
  labels: z.array(GhLabel).default([]),
  url: z.string().optional(),
  state: z.string().optional(),
});
export const GhIssueList = z.array(GhIssue).max(100_000);

/** `Depends on #3`, `blocked by #4, #5 and #6`, at the start of a line (a list bullet allowed). */
const DEPENDENCY_LINE = /^[ \t]*(?:[-*+][ \t]+)?(?:\*\*)?(?:depends[ \t]+on|blocked[ \t]+by)(?:\*\*)?[ \t]*:?[ \t]*(#\d+(?:[ \t]*(?:,|and|&)?[ \t]*#\d+)*)/gim;

/** The issue numbers a body's "depends on #N" / "blocked by #N" lines name. */
export function dependencyNumbers(body: string): number[] {
  const numbers = new Set<number>();
  for (const line of body.matchAll(DEPENDENCY_LINE)) {
    for (const ref of line[1]!.matchAll(/#(\d+)/g)) numbers.add(Number(ref[1]));
  }
  return [...numbers];
}

export const issueTaskId = (n: number): string => `gh-${n}`;

export interface IssuesPlan {
  tasks: Array<TaskInput & { id: string }>;
  /** Things a person should know: dependencies left out, closed issues skipped. */
  notes: string[];
}

/**
 * The plan for a list of issues. Open issues become tasks `gh-<number>`; closed ones (with
 * `state` in the list) do not, and a dependency on one is met. A dependency on an issue not in
 * the list is kept when `exists` says its task is already in the coordinator, else left out with
 * a note. A dependency cycle refuses the whole list (CYCLE, in issue numbers).
 */
export function githubIssuesPlan(input: unknown, labels: Readonly<Record<string, LabelEffect>> = {}, exists: (id: string) => boolean = () => false): IssuesPlan {
  const parsed = GhIssueList.safeParse(input);
  if (!parsed.success) {
    throw new HarnessError(ErrorCode.InvalidArgument, `not a gh issue list (gh issue list --json number,title,body,labels): ${formatIssues(parsed.error, 'issues')}`);
  }
  const notes: string[] = [];
  const seen = new Set<number>();
  for (const issue of parsed.data) {
    if (seen.has(issue.number)) throw new HarnessError(ErrorCode.AlreadyExists, `issue #${issue.number} is in the list twice`);
    seen.add(issue.number);
  }
  const closed = new Set(parsed.data.filter((i) => i.state !== undefined && i.state.toLowerCase() !== 'open').map((i) => i.number));
  const open = parsed.data.filter((i) => !closed.has(i.number));
  const listed = new Set(open.map((i) => i.number));
  if (closed.size > 0) notes.push(`${closed.size} closed issue(s) skipped`);
  const tasks = open.map((issue): TaskInput & { id: string } => {
    const names = issue.labels.map((l) => (typeof l === 'string' ? l : l.name));
    const body = issue.body ?? '';
    const dependencies = dependencyNumbers(body).flatMap((n) => {
      if (listed.has(n) || (!closed.has(n) && exists(issueTaskId(n)))) return [issueTaskId(n)];
      if (!closed.has(n)) notes.push(`#${issue.number} names #${n}, which is not in the list nor a task: it does not wait for it`);
      return [];
    });
    const effects = labelEffects(names, labels);
    const payload: Record<string, Json> = { source: 'github', number: issue.number, title: issue.title, body, labels: names };
    if (issue.url) payload.url = issue.url;
    return {
      id: issueTaskId(issue.number),
      description: clip(issue.title, 10_000),
      dependencies,
      ...(effects.priority !== undefined ? { priority: effects.priority } : {}),
      ...(effects.capabilities.length > 0 ? { capabilities: effects.capabilities } : {}),
      payload,
      source: { kind: 'github_issue', ...httpUrl(issue.url), title: clip(`#${issue.number}: ${issue.title}`, 500) },
    };
  });
  const cycle = findCycle(new Map(tasks.map((t) => [t.id, t.dependencies ?? []])));
  if (cycle) {
    const path = cycle.map((id) => `#${id.slice(3)}`).join(' -> ');
    throw new HarnessError(ErrorCode.Cycle, `the issues' dependencies form a cycle: ${path}; nothing was imported`, { cycle });
  }
  return { tasks, notes };
}

// Which GitHub deliveries become tasks, and what task: pure functions from (event, payload,
// rules) to task inputs, so every rule is testable without a server.
import { z } from 'zod';
import { ErrorCode, HarnessError } from '../core/errors';
import type { Json, TaskInput } from '../core/model';
import type { GitHubRule, LabelEffect, TaskTemplate, WebhookSettings } from './config';
import { clip, fill, fillId, fillJson, slug, unknownPlaceholders, type Vars } from './template';

// Only the fields rules use; everything else in a payload is ignored.
const Label = z.object({ name: z.string() });
const User = z.object({ login: z.string() });
const Issue = z.object({
  number: z.number().int().positive(),
  title: z.string(),
  body: z.string().nullable().optional(),
  html_url: z.string(),
  labels: z.array(Label).optional(),
  pull_request: z.unknown().optional(),
});
const Repository = z.object({ full_name: z.string() });
const IssuesEvent = z.object({ action: z.string(), issue: Issue, label: Label.optional(), repository: Repository, sender: User.optional() });
const Comment = z.object({ id: z.number().int(), body: z.string(), html_url: z.string(), user: User.optional() });
const IssueCommentEvent = z.object({ action: z.string(), issue: Issue, comment: Comment, repository: Repository, sender: User.optional() });
const PullRequest = z.object({ number: z.number().int().positive(), title: z.string(), body: z.string().nullable().optional(), html_url: z.string(), labels: z.array(Label).optional() });
const ReviewCommentEvent = z.object({ action: z.string(), pull_request: PullRequest, comment: Comment, repository: Repository, sender: User.optional() });

/** Placeholders every GitHub rule may use in its template. */
export const GITHUB_VARS = [
  'event', 'action', 'delivery', 'rule', 'repository', 'repo_slug', 'number', 'url', 'title', 'body',
  'sender', 'label', 'kind', 'comment', 'comment_id', 'comment_url', 'request',
] as const;

interface Subject {
  kind: 'issue' | 'pull_request';
  number: number;
  title: string;
  body: string;
  url: string;
  labels: string[];
}

export interface GitHubEventContext {
  event: string;
  delivery: string;
  payload: unknown;
}

export interface MatchedTask {
  rule: string;
  task: TaskInput & { id: string };
}

const DEFAULT_ID = { issue: 'gh-{repo_slug}-{number}-{rule}', comment: 'gh-{repo_slug}-{number}-{rule}-{comment_id}' };
const DEFAULT_DESCRIPTION = { issue: '{title} ({repository}#{number})', comment: '{request} ({repository}#{number}: {title})' };

/** The first word of a comment and the rest, when the first word is `trigger` (case-insensitive). */
export function triggerRequest(comment: string, trigger: string): string | undefined {
  const text = comment.trimStart();
  const word = /^\S+/.exec(text)?.[0];
  if (!word || word.toLowerCase() !== trigger.toLowerCase()) return undefined;
  return text.slice(word.length).trim();
}

/** Priority (the highest of the labels that set one) and capabilities (all of them) from labels. */
export function labelEffects(labels: readonly string[], map: Readonly<Record<string, LabelEffect>>): { priority?: number; capabilities: string[] } {
  let priority: number | undefined;
  const capabilities = new Set<string>();
  for (const label of labels) {
    const effect = Object.hasOwn(map, label) ? map[label] : undefined;
    if (!effect) continue;
    if (effect.priority !== undefined) priority = Math.max(priority ?? -Infinity, effect.priority);
    for (const c of effect.capabilities ?? []) capabilities.add(c);
  }
  return { ...(priority !== undefined ? { priority } : {}), capabilities: [...capabilities] };
}

/** The task a template makes from `vars`, with the subject's labels applied. */
export function taskFromTemplate(
  template: TaskTemplate,
  defaults: { id: string; description: string },
  vars: Vars,
  labels: { priority?: number; capabilities: string[] },
  payload: Record<string, Json>,
  source: NonNullable<TaskInput['source']>,
): TaskInput & { id: string } {
  const priority = template.priority ?? labels.priority;
  const capabilities = [...new Set([...(template.capabilities ?? []), ...labels.capabilities])];
  return {
    id: fillId(template.id ?? defaults.id, vars),
    description: clip(fill(template.description ?? defaults.description, vars), 10_000),
    ...(priority !== undefined ? { priority } : {}),
    ...(capabilities.length > 0 ? { capabilities } : {}),
    ...(template.timeout_seconds !== undefined ? { timeout_seconds: template.timeout_seconds } : {}),
    ...(template.max_attempts !== undefined ? { max_attempts: template.max_attempts } : {}),
    ...(template.group !== undefined ? { group: template.group } : {}),
    payload: { ...payload, ...(template.payload ? (fillJson(template.payload, vars) as Record<string, Json>) : {}) },
    source,
  };
}

function parsePayload<S extends z.ZodType>(schema: S, payload: unknown, event: string): z.output<S> {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new HarnessError(ErrorCode.InvalidArgument, `${event} payload: ${issue.path.join('.') || 'body'}: ${issue.message}`);
}

/** What a delivery is about, or undefined for an event no rule kind looks at. */
function subjectOf(ctx: GitHubEventContext): { action: string; subject: Subject; repository: string; sender: string; label?: string; comment?: z.output<typeof Comment> } | undefined {
  const fromIssue = (i: z.output<typeof Issue>): Subject => ({
    kind: i.pull_request ? 'pull_request' : 'issue',
    number: i.number,
    title: i.title,
    body: i.body ?? '',
    url: i.html_url,
    labels: (i.labels ?? []).map((l) => l.name),
  });
  switch (ctx.event) {
    case 'issues': {
      const p = parsePayload(IssuesEvent, ctx.payload, 'issues');
      return { action: p.action, subject: fromIssue(p.issue), repository: p.repository.full_name, sender: p.sender?.login ?? '', ...(p.label ? { label: p.label.name } : {}) };
    }
    case 'issue_comment': {
      const p = parsePayload(IssueCommentEvent, ctx.payload, 'issue_comment');
      return { action: p.action, subject: fromIssue(p.issue), repository: p.repository.full_name, sender: p.sender?.login ?? '', comment: p.comment };
    }
    case 'pull_request_review_comment': {
      const p = parsePayload(ReviewCommentEvent, ctx.payload, 'pull_request_review_comment');
      const pr = p.pull_request;
      const subject: Subject = { kind: 'pull_request', number: pr.number, title: pr.title, body: pr.body ?? '', url: pr.html_url, labels: (pr.labels ?? []).map((l) => l.name) };
      return { action: p.action, subject, repository: p.repository.full_name, sender: p.sender?.login ?? '', comment: p.comment };
    }
    default:
      return undefined;
  }
}

/** Whether `rule` wants this delivery; for a comment rule, with the text after the trigger word. */
function match(rule: GitHubRule, event: string, action: string, subject: Subject, label: string | undefined, comment: string | undefined): { request?: string } | undefined {
  switch (rule.on) {
    case 'issues.opened':
      return event === 'issues' && action === 'opened' && (rule.label === undefined || subject.labels.includes(rule.label)) ? {} : undefined;
    case 'issues.labeled':
      return event === 'issues' && action === 'labeled' && label === rule.label ? {} : undefined;
    case 'comment': {
      if (event === 'issues' || action !== 'created' || comment === undefined) return undefined;
      const request = triggerRequest(comment, rule.trigger);
      return request === undefined ? undefined : { request };
    }
  }
}

/**
 * The tasks a delivery makes: one per matching rule, each with an id that is the same for the
 * same (issue, rule) (and comment, for comment rules), so a second matching delivery finds its
 * task already there. Throws INVALID_ARGUMENT when a payload lacks a field a rule needs.
 */
export function githubTasks(ctx: GitHubEventContext, settings: Pick<WebhookSettings, 'labels'> & { rules: readonly GitHubRule[] }): MatchedTask[] {
  const about = subjectOf(ctx);
  if (!about) return [];
  const { action, subject, repository, sender, label, comment } = about;
  const out: MatchedTask[] = [];
  for (const rule of settings.rules) {
    const matched = match(rule, ctx.event, action, subject, label, comment?.body);
    if (!matched) continue;
    const { request } = matched;
    const isComment = rule.on === 'comment';
    const vars: Vars = {
      event: ctx.event,
      action,
      delivery: ctx.delivery,
      rule: rule.name,
      repository,
      repo_slug: slug(repository),
      number: subject.number,
      url: subject.url,
      title: subject.title,
      body: subject.body,
      sender,
      label: label ?? ('label' in rule ? rule.label : undefined),
      kind: subject.kind,
      comment: comment?.body,
      comment_id: comment?.id,
      comment_url: comment?.html_url,
      request,
    };
    const payload: Record<string, Json> = {
      source: 'github',
      event: ctx.event,
      action,
      delivery: ctx.delivery,
      rule: rule.name,
      repository,
      number: subject.number,
      kind: subject.kind,
      url: subject.url,
      title: subject.title,
      body: subject.body,
      labels: subject.labels,
      sender,
      ...(comment ? { comment: comment.body, comment_url: comment.html_url, request: request ?? '' } : {}),
    };
    const source = { kind: subject.kind === 'issue' ? 'github_issue' : 'github_pull_request', ...httpUrl(subject.url), title: clip(`${repository}#${subject.number}: ${subject.title}`, 500) };
    const kind = isComment ? 'comment' : 'issue';
    out.push({
      rule: rule.name,
      task: taskFromTemplate(rule.task, { id: DEFAULT_ID[kind], description: DEFAULT_DESCRIPTION[kind] }, vars, labelEffects(subject.labels, settings.labels), payload, source),
    });
  }
  return out;
}

/** `{url}` when `url` is http(s): a payload's URL goes into a link only then. */
export function httpUrl(url: string | undefined): { url?: string } {
  if (!url || url.length > 2000) return {};
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? { url } : {};
  } catch {
    return {};
  }
}

/** Template placeholders the GitHub rules name that no GitHub event fills: a config mistake. */
export function checkGitHubTemplates(rules: readonly GitHubRule[]): string[] {
  const known = (name: string) => (GITHUB_VARS as readonly string[]).includes(name);
  return rules.flatMap((rule) =>
    templateStrings(rule.task).flatMap((t) => unknownPlaceholders(t, known).map((name) => `rule ${rule.name}: unknown placeholder {${name}}`)),
  );
}

/** Every string of a template that placeholders may appear in. */
export function templateStrings(t: TaskTemplate): string[] {
  const strings: string[] = [];
  const walk = (v: Json) => {
    if (typeof v === 'string') strings.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  if (t.id) strings.push(t.id);
  if (t.description) strings.push(t.description);
  if (t.payload) walk(t.payload);
  return strings;
}

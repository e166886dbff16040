// GitHub webhook payloads and signed deliveries, shaped as GitHub sends them (only the fields
// harness reads, plus a few it ignores), for the webhook tests.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { signGitHub } from '../../src/webhooks/signatures';

/** Writes `<dir>/.harness/config.json` with this `webhooks` section. */
export function writeWebhookConfig(dir: string, webhooks: unknown): void {
  fs.mkdirSync(path.join(dir, '.harness'), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, '.harness', 'config.json'), JSON.stringify({ webhooks }, null, 2));
}

/** A GitHub endpoint (secret in GH_SECRET) with a label rule and a comment rule, and a Standard Webhooks sender `ci`. */
export const WEBHOOK_CONFIG = {
  github: {
    secret: { env: 'GH_SECRET' },
    rules: [
      { name: 'agent', on: 'issues.labeled', label: 'agent' },
      { name: 'fix', on: 'comment', trigger: '@agent' },
    ],
  },
  standard: { ci: { secret: { env: 'CI_SECRET' } } },
};

export const REPO = 'acme/widgets';

export function issue(number: number, title = `Issue ${number}`, labels: string[] = [], extra: Record<string, unknown> = {}) {
  return {
    number,
    title,
    body: `Body of ${number}`,
    html_url: `https://github.com/${REPO}/issues/${number}`,
    labels: labels.map((name) => ({ id: 1, name, color: 'ededed' })),
    state: 'open',
    ...extra,
  };
}

const common = { repository: { full_name: REPO, id: 99 }, sender: { login: 'octocat', id: 1 } };

export function labeledEvent(number: number, label = 'agent', title?: string): Record<string, unknown> {
  return { action: 'labeled', label: { name: label }, issue: issue(number, title, [label]), ...common };
}

export function openedEvent(number: number, labels: string[] = []): Record<string, unknown> {
  return { action: 'opened', issue: issue(number, undefined, labels), ...common };
}

export function commentEvent(number: number, body: string, commentId = 5000 + number, onPullRequest = false): Record<string, unknown> {
  const i = issue(number, undefined, [], onPullRequest ? { pull_request: { url: 'x' } } : {});
  return {
    action: 'created',
    issue: i,
    comment: { id: commentId, body, html_url: `${i.html_url}#issuecomment-${commentId}`, user: { login: 'octocat' } },
    ...common,
  };
}

/** The headers GitHub sends with a delivery, signed with `secret` (or the given signature). */
export function githubHeaders(body: string, secret: string, event: string, delivery: string, signature?: string | null): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-github-event': event,
    'x-github-delivery': delivery,
    'user-agent': 'GitHub-Hookshot/test',
  };
  if (signature !== null) headers['x-hub-signature-256'] = signature ?? signGitHub(body, secret);
  return headers;
}

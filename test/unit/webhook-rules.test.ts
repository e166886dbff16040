import * as assert from 'node:assert/strict';
import { TaskInput } from '../../src/core/model';
import { GitHubRule, WebhookSettings } from '../../src/webhooks/config';
import { checkGitHubTemplates, githubTasks, labelEffects, triggerRequest } from '../../src/webhooks/github-rules';
import { standardTask } from '../../src/webhooks/standard-rules';
import { fillId } from '../../src/webhooks/template';
import { commentEvent, labeledEvent, openedEvent } from '../support/github';

const rules = (list: unknown[]) => list.map((r) => GitHubRule.parse(r));
const labels = { urgent: { priority: 10 }, minor: { priority: -5 }, gpu: { capabilities: ['gpu'] }, linux: { capabilities: ['linux', 'gpu'] } };

describe('webhook rules', () => {
  const agentLabel = rules([{ name: 'agent', on: 'issues.labeled', label: 'agent' }]);

  it('turns an issue labelled with the rule label into one task with the issue as payload and source', () => {
    const [m, ...rest] = githubTasks({ event: 'issues', delivery: 'd1', payload: labeledEvent(12, 'agent', 'Fix the flaky test') }, { rules: agentLabel, labels: {} });
    assert.equal(rest.length, 0);
    assert.equal(m!.rule, 'agent');
    assert.equal(m!.task.id, 'gh-acme-widgets-12-agent');
    assert.equal(m!.task.description, 'Fix the flaky test (acme/widgets#12)');
    assert.deepEqual(m!.task.source, { kind: 'github_issue', url: 'https://github.com/acme/widgets/issues/12', title: 'acme/widgets#12: Fix the flaky test' });
    assert.deepEqual(
      { ...(m!.task.payload as object) },
      {
        source: 'github', event: 'issues', action: 'labeled', delivery: 'd1', rule: 'agent', repository: 'acme/widgets', number: 12,
        kind: 'issue', url: 'https://github.com/acme/widgets/issues/12', title: 'Fix the flaky test', body: 'Body of 12', labels: ['agent'], sender: 'octocat',
      },
    );
    assert.ok(TaskInput.safeParse(m!.task).success, 'a valid task input');
  });

  it('gives a second label event for the same issue the same task id (one task per issue and trigger)', () => {
    const a = githubTasks({ event: 'issues', delivery: 'd1', payload: labeledEvent(12) }, { rules: agentLabel, labels: {} });
    const b = githubTasks({ event: 'issues', delivery: 'd2', payload: labeledEvent(12) }, { rules: agentLabel, labels: {} });
    assert.equal(a[0]!.task.id, b[0]!.task.id);
  });

  it('wants nothing of another label, another action or another event', () => {
    const none = (event: string, payload: Record<string, unknown>) => githubTasks({ event, delivery: 'd', payload }, { rules: agentLabel, labels: {} });
    assert.deepEqual(none('issues', labeledEvent(1, 'bug')), []);
    assert.deepEqual(none('issues', { ...labeledEvent(1), action: 'unlabeled' }), []);
    assert.deepEqual(none('issues', openedEvent(1, ['agent'])), []);
    assert.deepEqual(none('push', { ref: 'refs/heads/main' }), []);
    assert.deepEqual(none('ping', { zen: 'Keep it logically awesome.' }), []);
  });

  it('takes an opened issue, with the rule label only when it carries it', () => {
    const opened = rules([{ name: 'new', on: 'issues.opened', label: 'agent' }]);
    assert.equal(githubTasks({ event: 'issues', delivery: 'd', payload: openedEvent(3, ['bug']) }, { rules: opened, labels: {} }).length, 0);
    const [m] = githubTasks({ event: 'issues', delivery: 'd', payload: openedEvent(3, ['agent', 'urgent', 'gpu']) }, { rules: opened, labels });
    assert.equal(m!.task.id, 'gh-acme-widgets-3-new');
    assert.equal(m!.task.priority, 10);
    assert.deepEqual(m!.task.capabilities, ['gpu']);
  });

  it('maps labels to the highest priority and all capabilities; the template wins on priority', () => {
    assert.deepEqual(labelEffects(['minor', 'urgent', 'gpu', 'linux', 'unknown'], labels), { priority: 10, capabilities: ['gpu', 'linux'] });
    assert.deepEqual(labelEffects(['constructor', '__proto__'], labels), { capabilities: [] });
    const withTemplate = rules([{ name: 'x', on: 'issues.opened', task: { priority: 1, capabilities: ['node'] } }]);
    const [m] = githubTasks({ event: 'issues', delivery: 'd', payload: openedEvent(4, ['urgent', 'gpu']) }, { rules: withTemplate, labels });
    assert.equal(m!.task.priority, 1);
    assert.deepEqual(m!.task.capabilities, ['node', 'gpu']);
  });

  describe('comments', () => {
    const fix = rules([{ name: 'fix', on: 'comment', trigger: '@agent' }]);

    it('finds the trigger as the first word, any case, and keeps the rest as the request', () => {
      assert.equal(triggerRequest('  @Agent fix the flaky test\nplease', '@agent'), 'fix the flaky test\nplease');
      assert.equal(triggerRequest('@agent', '@agent'), '');
      assert.equal(triggerRequest('@agentx do it', '@agent'), undefined);
      assert.equal(triggerRequest('hey @agent do it', '@agent'), undefined);
    });

    it('makes one task per comment, on an issue or a pull request', () => {
      const [m] = githubTasks({ event: 'issue_comment', delivery: 'd', payload: commentEvent(7, '@agent fix the flaky test', 901) }, { rules: fix, labels: {} });
      assert.equal(m!.task.id, 'gh-acme-widgets-7-fix-901');
      assert.equal(m!.task.description, 'fix the flaky test (acme/widgets#7: Issue 7)');
      assert.equal((m!.task.payload as Record<string, unknown>).request, 'fix the flaky test');
      const [pr] = githubTasks({ event: 'issue_comment', delivery: 'd', payload: commentEvent(8, '@agent rebase', 902, true) }, { rules: fix, labels: {} });
      assert.equal(pr!.task.source?.kind, 'github_pull_request');
      const edited = { ...commentEvent(7, '@agent again'), action: 'edited' };
      assert.deepEqual(githubTasks({ event: 'issue_comment', delivery: 'd', payload: edited }, { rules: fix, labels: {} }), []);
      assert.deepEqual(githubTasks({ event: 'issue_comment', delivery: 'd', payload: commentEvent(7, 'thanks @agent') }, { rules: fix, labels: {} }), []);
    });
  });

  describe('templates', () => {
    it('fills placeholders as text, and reduces them to id-safe characters in the id', () => {
      const r = rules([
        { name: 'tpl', on: 'issues.labeled', label: 'agent', task: { id: 'issue-{number}-{title}', description: 'Look at {url}: {title}', payload: { note: 'by {sender}', n: 3 } } },
      ]);
      const [m] = githubTasks({ event: 'issues', delivery: 'd', payload: labeledEvent(5, 'agent', '$(rm -rf ~); `id` "quoted"') }, { rules: r, labels: {} });
      assert.equal(m!.task.id, 'issue-5-rm-rf-id-quoted');
      assert.equal(m!.task.description, 'Look at https://github.com/acme/widgets/issues/5: $(rm -rf ~); `id` "quoted"');
      assert.equal((m!.task.payload as Record<string, unknown>).note, 'by octocat');
      assert.equal((m!.task.payload as Record<string, unknown>).title, '$(rm -rf ~); `id` "quoted"');
      assert.throws(() => fillId('{title}', { title: '$($)' }), /gives an empty id/);
    });

    it('names placeholders no event fills, per rule', () => {
      const r = rules([{ name: 'typo', on: 'issues.opened', task: { description: '{titel} by {sender}' } }]);
      assert.deepEqual(checkGitHubTemplates(r), ['rule typo: unknown placeholder {titel}']);
    });

    it('refuses a payload that lacks what the event needs, naming the field', () => {
      assert.throws(
        () => githubTasks({ event: 'issues', delivery: 'd', payload: { action: 'labeled', repository: { full_name: 'a/b' } } }, { rules: agentLabel, labels: {} }),
        /issues payload: issue: /,
      );
    });

    it('keeps a link only for http(s) URLs', () => {
      const payload = labeledEvent(6);
      (payload.issue as Record<string, unknown>).html_url = 'javascript:alert(1)';
      const [m] = githubTasks({ event: 'issues', delivery: 'd', payload }, { rules: agentLabel, labels: {} });
      assert.equal(m!.task.source?.url, undefined);
      assert.ok(TaskInput.safeParse(m!.task).success);
    });
  });

  it('turns a Standard Webhooks message into a task keyed by its message id', () => {
    const settings = WebhookSettings.parse({ standard: { ci: { secret: { env: 'X' }, task: { description: 'CI {type}: job {data.job}' } } } });
    const task = standardTask({ sender: 'ci', messageId: 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W', timestamp: 1, body: { type: 'build.failed', data: { job: 7, url: 'https://ci.example/7' } } }, settings.standard!.ci!.task);
    assert.equal(task.id, 'wh-ci-msg_2KWPBgLlAfxdpx2AI54pPJ85f4W');
    assert.equal(task.description, 'CI build.failed: job 7');
    assert.deepEqual(task.source, { kind: 'webhook', url: 'https://ci.example/7', title: 'ci: build.failed' });
    assert.deepEqual(task.payload, { source: 'webhook', sender: 'ci', message_id: 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W', type: 'build.failed', data: { job: 7, url: 'https://ci.example/7' } });
  });

  it('refuses a config whose rules are malformed, naming the field', () => {
    const bad = WebhookSettings.safeParse({ github: { secret: { env: 'X' }, rules: [{ name: 'a', on: 'issues.labeled' }] } });
    assert.equal(bad.success, false);
    assert.match(JSON.stringify(bad.error!.issues[0]!.path), /rules.*0.*label/);
    const dup = WebhookSettings.safeParse({ github: { secret: { env: 'X' }, rules: [{ name: 'a', on: 'issues.opened' }, { name: 'a', on: 'issues.opened' }] } });
    assert.match(dup.error!.issues[0]!.message, /unique/);
  });
});

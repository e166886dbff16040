import * as assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock';
import { Coordinator, DEFAULT_CONFIG } from '../../src/core/coordinator';
import { MemoryStore } from '../../src/core/memory-store';
import { dependencyNumbers, githubIssuesPlan } from '../../src/webhooks/github-plan';
import { PlanImport } from '../../src/protocol/tasks';
import { addMissing } from '../../src/webhooks/intake';
import { dispatcher } from '../support/dispatch';
import { rejects } from '../support/primitives';

const gh = (number: number, body = '', labels: string[] = [], extra: Record<string, unknown> = {}) => ({
  number,
  title: `Issue ${number}`,
  body,
  labels: labels.map((name) => ({ id: `L_${name}`, name, description: '', color: 'ededed' })),
  ...extra,
});

describe('GitHub issues as a plan', () => {
  it('reads "depends on" and "blocked by" lines, with lists of issues', () => {
    const body = ['Intro mentions #9 in passing.', 'Depends on #1', '- blocked by: #2, #3 and #4', '**Depends on** #5 & #6', 'This depends on #7 too'].join('\n');
    assert.deepEqual(dependencyNumbers(body), [1, 2, 3, 4, 5, 6]);
  });

  it('makes a task per open issue with its dependencies, labels, payload and link', () => {
    const plan = githubIssuesPlan(
      [
        gh(1, 'first', ['urgent'], { url: 'https://github.com/acme/widgets/issues/1' }),
        gh(2, 'Blocked by #1', ['gpu']),
        gh(3, 'depends on #2\ndepends on #1'),
      ],
      { urgent: { priority: 5 }, gpu: { capabilities: ['gpu'] } },
    );
    assert.deepEqual(plan.notes, []);
    assert.deepEqual(plan.tasks.map((t) => [t.id, t.dependencies, t.priority, t.capabilities]), [
      ['gh-1', [], 5, undefined],
      ['gh-2', ['gh-1'], undefined, ['gpu']],
      ['gh-3', ['gh-2', 'gh-1'], undefined, undefined],
    ]);
    assert.deepEqual(plan.tasks[0]!.source, { kind: 'github_issue', url: 'https://github.com/acme/widgets/issues/1', title: '#1: Issue 1' });
    assert.deepEqual(plan.tasks[1]!.source, { kind: 'github_issue', title: '#2: Issue 2' });
    assert.deepEqual(plan.tasks[1]!.payload, { source: 'github', number: 2, title: 'Issue 2', body: 'Blocked by #1', labels: ['gpu'] });
  });

  it('refuses a dependency cycle whole, naming the issues', () => {
    assert.throws(
      () => githubIssuesPlan([gh(1, 'depends on #3'), gh(2, 'depends on #1'), gh(3, 'blocked by #2'), gh(4)]),
      (e: Error & { code?: string }) => e.code === 'CYCLE' && /#1 -> #3 -> #2 -> #1/.test(e.message) && /nothing was imported/.test(e.message),
    );
    assert.throws(() => githubIssuesPlan([gh(5, 'depends on #5')]), /cycle: #5 -> #5/);
  });

  it('skips closed issues, counts a dependency on one as met, and keeps one on a task already there', () => {
    const plan = githubIssuesPlan([gh(1, '', [], { state: 'CLOSED' }), gh(2, 'depends on #1\ndepends on #7\ndepends on #8', [], { state: 'OPEN' })], {}, (id) => id === 'gh-7');
    assert.deepEqual(plan.tasks.map((t) => [t.id, t.dependencies]), [['gh-2', ['gh-7']]]);
    assert.deepEqual(plan.notes, ['1 closed issue(s) skipped', '#2 names #8, which is not in the list nor a task: it does not wait for it']);
  });

  it('refuses what is not a gh issue list, naming the field', () => {
    assert.throws(() => githubIssuesPlan({ issues: [] }), /not a gh issue list/);
    assert.throws(() => githubIssuesPlan([{ number: 'one', title: 'x' }]), /issues\[0\]\.number/);
    assert.throws(() => githubIssuesPlan([gh(1), gh(1)]), /#1 is in the list twice/);
  });

  it('imports atomically through the coordinator: the plan it makes is accepted as it is', async () => {
    const c = new Coordinator(new MemoryStore(), DEFAULT_CONFIG, new ManualClock());
    const { tasks } = githubIssuesPlan([gh(1, '', [], { url: 'https://github.com/a/b/issues/1' }), gh(2, 'depends on #1')]);
    await c.addTasks(tasks);
    assert.deepEqual(c.getTask('gh-1').source, { kind: 'github_issue', url: 'https://github.com/a/b/issues/1', title: '#1: Issue 1' });
    const refused = [{ id: 'x', source: { kind: 'github_issue', url: 'javascript:alert(1)' } }];
    await rejects(dispatcher(c).raw(PlanImport, { tasks: refused }), 'INVALID_ARGUMENT', 'http(s) URL');
    await rejects(addMissing(c, refused), 'INVALID_ARGUMENT', 'tasks[0].source.url: must be an http(s) URL');
    await c.close();
  });
});

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_CONFIG } from '../../src/core/coordinator';
import type { InstanceView, Task } from '../../src/core/model';
import { pieces } from '../../src/cli/run-stream';
import { CommandId, ViewId } from '../../src/ui/ids';
import { readSettings } from '../../src/ui/settings';
import { groupItem, groupTasks, instanceItem, progressText, statusBarText, taskItem } from '../../src/ui/view-models';

function task(id: string, over: Partial<Task> = {}): Task {
  return {
    id, description: `do ${id}`, dependencies: [], priority: 0, capabilities: [], timeout_seconds: 60, max_attempts: 3,
    attempts: 0, status: 'pending', claimed_by: null, fencing_token: 0, started_at: null, lease_expires_at: null,
    completed_at: null, duration_ms: null, result: null, error: null, created_at: '2026-01-01T00:00:00.000Z', payload: null,
    ...over,
  };
}

describe('tree view models', () => {
  it('groups tasks: ready vs blocked is derived from dependencies, higher priority first', () => {
    const groups = groupTasks([
      task('a', { status: 'completed' }),
      task('b', { dependencies: ['a'] }),
      task('c', { dependencies: ['b'], priority: 9 }),
      task('d', { priority: 5 }),
      task('e', { status: 'dead_letter', error: 'boom' }),
      task('f', { status: 'running', claimed_by: 'w1' }),
    ]);
    assert.deepEqual(groups.get('ready')!.map((t) => t.id), ['d', 'b']);
    assert.deepEqual(groups.get('blocked')!.map((t) => t.id), ['c']);
    assert.deepEqual(groups.get('running')!.map((t) => t.id), ['f']);
    assert.deepEqual(groups.get('dead_letter')!.map((t) => t.id), ['e']);
  });

  it('the groups a person acts on open expanded; the others start collapsed', () => {
    assert.equal(groupItem('running', 2).expanded, true);
    assert.equal(groupItem('dead_letter', 1).expanded, true);
    assert.equal(groupItem('completed', 9).expanded, false);
    assert.equal(groupItem('ready', 0).collapsible, false);
  });

  it('a running task shows its holder, lease time left and attempts', () => {
    const now = Date.parse('2026-01-01T00:00:00.000Z');
    const m = taskItem(task('r', { status: 'running', claimed_by: 'w7', attempts: 2, lease_expires_at: '2026-01-01T00:01:30.000Z', dependencies: ['x'] }), 'running', now);
    assert.match(m.description!, /@w7/);
    assert.match(m.description!, /lease 1m 30s/);
    assert.match(m.description!, /attempt 2\/3/);
    assert.match(m.tooltip, /Depends on: x/);
    assert.equal(m.contextValue, 'task.running');
    assert.equal(m.collapsible, true);
    const expired = taskItem(task('r', { status: 'running', claimed_by: 'w7', lease_expires_at: '2025-12-31T23:59:00.000Z' }), 'running', now);
    assert.match(expired.description!, /lease expired/);
  });

  it('a running task shows its progress and group; a finished one keeps its progress in the tooltip only', () => {
    const progress = { percent: 42, message: 'compiling the second half of everything there is to compile today', at: '2026-01-01T00:00:10.000Z' };
    const m = taskItem(task('s1', { status: 'running', claimed_by: 'w1', group: 'tests', progress }), 'running', 0);
    assert.match(m.description!, /^do s1 · 42% · compiling the second half of everything there is to compile… · @w1/);
    assert.match(m.description!, /group tests$/);
    assert.match(m.tooltip, /Group: tests/);
    assert.match(m.tooltip, /Progress: 42% — compiling the second half of everything there is to compile today/);
    const done = taskItem(task('s1', { status: 'completed', group: 'tests', progress }), 'completed', 0);
    assert.doesNotMatch(done.description!, /42%/);
    assert.match(done.description!, /group tests/);
    assert.match(done.tooltip, /Last progress: 42%/);
    assert.equal(progressText({ percent: 99.6, message: null, at: '' }), '100%');
    const plain = taskItem(task('p'), 'ready', 0);
    assert.doesNotMatch(plain.tooltip, /Group|rogress/);
  });

  it('a dead-lettered task carries its last error and the retry context value', () => {
    const m = taskItem(task('e', { status: 'dead_letter', error: 'exit code 3' }), 'dead_letter', 0);
    assert.equal(m.contextValue, 'task.dead_letter');
    assert.match(m.tooltip, /Last error: exit code 3/);
  });

  it('instances show their task, heartbeat age, and stale ones are marked', () => {
    const base: InstanceView = {
      worker_id: 'w1', name: 'agent one', capabilities: ['ts'], pid: 12, status: 'live', registered_at: '', last_seen: '',
      last_seen_age_ms: 4200, current_task: 't9',
    };
    const live = instanceItem(base);
    assert.equal(live.label, 'agent one (w1)');
    assert.match(live.description!, /on t9 · seen 4s ago/);
    const stale = instanceItem({ ...base, status: 'stale', current_task: null });
    assert.equal(stale.contextValue, 'instance.stale');
    assert.match(stale.description!, /^stale · idle/);
  });

  it('the status bar counts running, ready, dead-lettered and live workers', () => {
    const s = statusBarText({ counts: { pending: 4, running: 2, completed: 7, dead_letter: 1, cancelled: 0 }, ready: 3, instances: 2 });
    assert.equal(s.text, '$(pulse) 2 running · 3 ready · $(error) 1 · $(vm) 2');
    assert.match(s.tooltip, /1 dead-lettered/);
  });
});

describe('settings', () => {
  it('valid values pass; invalid ones fall back to the default with a warning naming the setting', () => {
    const values: Record<string, unknown> = { leaseTimeoutSeconds: 30, maxAttempts: 0, stateDirectory: '../elsewhere', instanceLimit: 'many' };
    const { settings, warnings } = readSettings((k) => values[k]);
    assert.equal(settings.leaseTimeoutSeconds, 30);
    assert.equal(settings.maxAttempts, 3);
    assert.equal(settings.stateDirectory, '.harness');
    assert.equal(settings.instanceLimit, 0);
    assert.equal(warnings.length, 3);
    assert.match(warnings.join('\n'), /agentHarness\.maxAttempts is invalid/);
    assert.match(warnings.join('\n'), /agentHarness\.stateDirectory is invalid .*inside the workspace/);
  });
});

describe('package.json contributions', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8'));

  it('contributes exactly the commands the code knows, and every view it registers', () => {
    const contributed = pkg.contributes.commands.map((c: { command: string }) => c.command).sort();
    assert.deepEqual(contributed, Object.values(CommandId).sort());
    const views = pkg.contributes.views[ViewId.container].map((v: { id: string }) => v.id);
    assert.deepEqual(views, [ViewId.tasks, ViewId.instances, ViewId.coordination]);
  });

  it('declares every setting the code reads, and limited support in untrusted workspaces', () => {
    const keys = Object.keys(pkg.contributes.configuration.properties).map((k) => k.replace('agentHarness.', '')).sort();
    const { settings } = readSettings(() => undefined);
    assert.deepEqual(keys, Object.keys(settings).sort());
    assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
  });

  it('one default for the live-instance limit: none, in the setting, the settings reader and harness serve', () => {
    assert.equal(pkg.contributes.configuration.properties['agentHarness.instanceLimit'].default, 0);
    assert.equal(readSettings(() => undefined).settings.instanceLimit, 0);
    assert.equal(DEFAULT_CONFIG.instanceLimit, 0, 'the coordinator default, which harness serve uses');
  });

  it('every view has a welcome text, and the Coordination rows have their actions', () => {
    const welcomed = new Set(pkg.contributes.viewsWelcome.map((w: { view: string }) => w.view));
    for (const v of [ViewId.tasks, ViewId.instances, ViewId.coordination]) assert.ok(welcomed.has(v), `${v} has no welcome`);
    const item = pkg.contributes.menus['view/item/context'] as Array<{ command: string; when: string }>;
    const whenOf = (c: string) => item.filter((i) => i.command === c).map((i) => i.when).join(' | ');
    assert.match(whenOf(CommandId.dropMessage), /view == agentHarness\.coordination && viewItem =~ \/\^coord\\\.message\//);
    assert.match(whenOf(CommandId.recordCheckpoint), /viewItem =~ \/\^coord\\\.group/);
    assert.match(whenOf(CommandId.waitForGroup), /viewItem == coord\.group\.open/);
  });

  it('menus refer only to contributed commands', () => {
    const known = new Set(Object.values(CommandId));
    const used = Object.values(pkg.contributes.menus).flatMap((items) => (items as Array<{ command: string }>).map((i) => i.command));
    assert.deepEqual(used.filter((c) => !known.has(c as never)), []);
  });
});

describe('run output pieces', () => {
  it('split output into pieces that fit a request line, keeping surrogate pairs whole', () => {
    assert.deepEqual(pieces('abcdefg', 3), ['abc', 'def', 'g']);
    assert.deepEqual(pieces('ab😀cd', 3), ['ab', '😀c', 'd']);
    assert.deepEqual(pieces('', 3), []);
    const big = 'x'.repeat(300 * 1024);
    const parts = pieces(big);
    assert.equal(parts.join(''), big);
    assert.ok(parts.every((p) => Buffer.byteLength(JSON.stringify(p)) < 1024 * 1024));
  });
});

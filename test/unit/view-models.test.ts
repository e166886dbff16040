import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { MAX_DURATION_SECONDS, MAX_WAIT_SECONDS } from '../../src/protocol/durations';
import { DEFAULT_CONFIG } from '../../src/core/coordinator';
import type { InstanceView, Task } from '../../src/core/model';
import { CommandId, ViewId } from '../../src/ui/ids';
import { readSettings, SETTINGS } from '../../src/ui/settings';
import { groupItem, instanceItem, moreItem, progressText, statusBarText, taskItem } from '../../src/ui/view-models';

function task(id: string, over: Partial<Task> = {}): Task {
  return {
    id, description: `do ${id}`, dependencies: [], priority: 0, capabilities: [], timeout_seconds: 60, max_attempts: 3,
    attempts: 0, status: 'pending', claimed_by: null, fencing_token: 0, started_at: null, lease_expires_at: null,
    completed_at: null, duration_ms: null, result: null, error: null, created_at: '2026-01-01T00:00:00.000Z', payload: null,
    ...over,
  };
}

describe('tree view models', () => {
  const now = Date.parse('2026-01-01T00:00:00.000Z');

  it('the groups that need a look or move on their own open expanded; the others start collapsed', () => {
    for (const g of ['dead_letter', 'failed', 'running', 'ready'] as const) assert.equal(groupItem(g, 2).expanded, true, g);
    for (const g of ['blocked', 'completed', 'cancelled'] as const) assert.equal(groupItem(g, 9).expanded, false, g);
    assert.equal(groupItem('ready', 0).collapsible, false);
    assert.equal(groupItem('failed', 1).label, 'Failed, will retry');
    assert.equal(groupItem('blocked', 12_345).description, '12,345');
  });

  it('a running row leads with its holder, progress and lease left; the description is in the tooltip', () => {
    const m = taskItem(task('r', { status: 'running', claimed_by: 'w7', attempts: 2, lease_expires_at: '2026-01-01T00:01:30.000Z', dependencies: ['x'] }), 'running', now);
    assert.equal(m.description, '@w7 · lease 1 min 30 s · attempt 2/3');
    assert.doesNotMatch(m.description!, /do r/, 'the static text is not in the row');
    assert.match(m.tooltip, /^r — running\ndo r\nHeld by w7\nLease ends 2026-01-01 \d\d:01:30/);
    assert.match(m.tooltip, /Depends on: x/);
    assert.equal(m.contextValue, 'task.running');
    assert.equal(m.collapsible, true);
    const expired = taskItem(task('r', { status: 'running', claimed_by: 'w7', lease_expires_at: '2025-12-31T23:59:00.000Z' }), 'running', now);
    assert.equal(expired.description, '@w7 · lease expired');
  });

  it('a running row shows its progress and group; a finished one keeps its progress in the tooltip only', () => {
    const progress = { percent: 42, message: 'compiling the second half of everything there is to compile today', at: '2025-12-31T23:59:50.000Z' };
    const m = taskItem(task('s1', { status: 'running', claimed_by: 'w1', group: 'tests', progress }), 'running', now);
    assert.equal(m.description, '@w1 · 42% · compiling the second half of everything… · tests');
    assert.match(m.tooltip, /Group: tests/);
    assert.match(m.tooltip, /Progress: 42% — compiling the second half of everything there is to compile today \(10 s ago, 2025-12-31 /);
    const done = taskItem(task('s1', { status: 'completed', claimed_by: 'w1', completed_at: '2025-12-31T23:56:00.000Z', group: 'tests', progress }), 'completed', now);
    assert.equal(done.description, '@w1 · 4 min ago · tests', 'who did it and when, in human time');
    assert.match(done.tooltip, /Last progress: 42%/);
    assert.match(done.tooltip, /Finished: 4 min ago \(2025-12-31 \d\d:56:00\)/, 'the exact time in the tooltip');
    assert.equal(progressText({ percent: 99.6, message: null, at: '' }), '100%');
    const plain = taskItem(task('p'), 'ready', now);
    assert.doesNotMatch(plain.tooltip, /Group|rogress/);
    assert.equal(plain.description, '');
  });

  it('a blocked row says what it waits for; a failed one when and why it failed', () => {
    const blocked = taskItem(task('b', { dependencies: ['a', 'c', 'd'], priority: 3 }), 'blocked', now, '', ['a', 'c', 'd']);
    assert.equal(blocked.description, 'waits for a, c +1 · p3');
    assert.match(blocked.tooltip, /Waiting for: a, c, d/);
    const failed = taskItem(task('f', { attempts: 1, error: 'exit code 2\nstack…' }), 'failed', now);
    assert.equal(failed.description, 'failed 1/3 · exit code 2');
    assert.equal(failed.contextValue, 'task.ready', 'the actions of a pending task');
    assert.equal(failed.icon, 'warning');
  });

  it('a dead-lettered task carries its last error and the retry context value', () => {
    const m = taskItem(task('e', { status: 'dead_letter', attempts: 3, error: 'exit code 3' }), 'dead_letter', now);
    assert.equal(m.contextValue, 'task.dead_letter');
    assert.equal(m.description, '3/3 attempts · exit code 3');
    assert.match(m.tooltip, /Last error: exit code 3/);
  });

  it('a worker is named once: its name, and its id only when the name does not hold it', () => {
    const base: InstanceView = {
      worker_id: 'w1', name: 'agent one', capabilities: ['ts'], pid: 12, status: 'live', registered_at: '', last_seen: '',
      last_seen_age_ms: 4200, current_task: 't9',
    };
    const live = instanceItem(base);
    assert.equal(live.label, 'agent one');
    assert.equal(live.description, 'on t9 · seen just now · w1');
    const named = instanceItem({ ...base, worker_id: 'agent-1', name: 'agent-1 (claude)', last_seen_age_ms: 12_000 });
    assert.equal(named.label, 'agent-1 (claude)');
    assert.equal(named.description, 'on t9 · seen 12 s ago', 'the id is in the name already');
    assert.equal(instanceItem({ ...base, name: 'w1' }).label, 'w1');
    const stale = instanceItem({ ...base, status: 'stale', current_task: null });
    assert.equal(stale.contextValue, 'instance.stale');
    assert.match(stale.description!, /^stale · idle/);
  });

  it('a big group ends in a "Show more" row that runs the show-more command for it', () => {
    const more = moreItem('blocked', 200, 99_800, 200, 'agentHarness.showMoreTasks');
    assert.equal(more.label, 'Show 200 more');
    assert.equal(more.description, '200 of 99,800 shown');
    assert.deepEqual(more.command, { id: 'agentHarness.showMoreTasks', title: 'Show More', args: ['blocked'] });
  });

  it('the status bar counts running, ready, dead-lettered and live workers', () => {
    const s = statusBarText({ counts: { pending: 4, running: 2, completed: 7, dead_letter: 1, cancelled: 0 }, ready: 3, instances: 2 });
    assert.equal(s.text, '$(pulse) 2 running · 3 ready · $(error) 1 · $(vm) 2');
    assert.match(s.tooltip, /1 dead-lettered/);
  });

  it('in cluster mode the status bar names the host that leads, and says when it is this window', () => {
    const counts = { counts: { pending: 0, running: 1, completed: 0, dead_letter: 0, cancelled: 0 }, ready: 0, instances: 1 };
    const leader = { node: 'hostb-12-x', host: 'hostb', pid: 12, since: '2026-01-01T00:00:00.000Z' };
    const standby = statusBarText({ ...counts, cluster: { cluster: 'app', node: 'hosta-1-y', role: 'standby', leader, record: 9 } });
    assert.equal(standby.text, '$(pulse) 1 running · 0 ready · $(vm) 1 · $(server) hostb');
    assert.match(standby.tooltip, /Cluster app: led by hostb \(pid 12\) since 2026-01-01T00:00:00.000Z; this window's coordinator is a standby\./);
    const leading = statusBarText({ ...counts, cluster: { cluster: 'app', node: 'hostb-12-x', role: 'leader', leader, record: 9 } });
    assert.match(leading.text, /\$\(server\) hostb \(this window\)$/);
    assert.match(statusBarText({ ...counts, cluster: { cluster: 'app', node: 'n', role: 'standby', leader: null, record: 0 } }).tooltip, /nobody leads right now/);
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

  it('the settings\' maxima in the manifest are the ones the settings reader enforces (the protocol\'s duration limits)', () => {
    const props = pkg.contributes.configuration.properties as Record<string, { type: string; maximum?: number }>;
    for (const [name, schema] of Object.entries(SETTINGS)) {
      const json = z.toJSONSchema(schema, { io: 'input' }) as { type?: string; maximum?: number };
      if (json.type !== 'number' && json.type !== 'integer') continue;
      assert.equal(props[`agentHarness.${name}`]!.maximum, json.maximum, `agentHarness.${name}: the manifest's maximum`);
    }
    assert.equal(props['agentHarness.leaseTimeoutSeconds']!.maximum, MAX_DURATION_SECONDS);
    assert.equal(props['agentHarness.staleInstanceSeconds']!.maximum, MAX_WAIT_SECONDS);
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

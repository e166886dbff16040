// What the views show of worker targets and cost: a target's row (count, min/max, state, cost,
// the output of a failing one), its workers' rows, the cost beside a task, the spent budget that
// holds a ready task back, Scale Target's input.
import * as assert from 'node:assert/strict';
import type { SlotView, TargetView } from '../../src/protocol/targets';
import type { Task } from '../../src/protocol/model';
import type { Budget } from '../../src/protocol/usage';
import { BudgetCache, heldBackText, parseScale, slotItem, targetItem, taskCost } from '../../src/ui/fleet-view-models';
import { taskItem } from '../../src/ui/view-models';

const NOW = Date.UTC(2026, 0, 1, 12);

const slot = (n: number, fields: Partial<SlotView> = {}): SlotView => ({
  slot: n, worker_id: `claude-${n}`, state: 'running', generation: n, pid: 100 + n, started_at: new Date(NOW - 60_000).toISOString(), restart_at: null,
  last_exit: null, instance: 'live', current_task: null, cost_usd: 0, ...fields,
});

const target = (fields: Partial<TargetView> = {}): TargetView => ({
  name: 'claude', command: ['claude', '-p', '{description}'], shell: false, capabilities: ['ts'], min: 1, max: 4, isolation: 'worktree', env_keys: [],
  idle_timeout_seconds: 300, usage: 'claude', usage_model: null, source: 'config', state: 'ok', failing_since: null, crashes: 0, last_exit: null,
  last_output: null, workers: [slot(1), slot(2)], cost_usd: 1.2345, budget: null, ...fields,
});

const budget = (fields: Partial<Budget>): Budget => ({ scope: 'group', name: 'docs', limit_usd: 5, spent_usd: 5.02, remaining_usd: 0, spent: true, spent_at: 'x', source: 'cli', ...fields });

describe('worker targets in the views', () => {
  it("a target's row: running of min–max, capabilities, cost; a failing one says why and offers Reset", () => {
    const ok = targetItem(target());
    assert.equal(ok.label, 'claude');
    assert.equal(ok.description, '2 of 1–4 · ts · $1.23');
    assert.equal(ok.contextValue, 'target.ok');
    assert.match(ok.tooltip, /from \.harness\/config\.json/);
    const failing = targetItem(target({ state: 'failing', failing_since: '2026-01-01T11:59:00.000Z', crashes: 5, last_exit: 'claude-2: exit code 3', last_output: 'Error: invalid API key', workers: [slot(1, { state: 'backoff', restart_at: null }), slot(2, { state: 'backoff', restart_at: null })] }));
    assert.equal(failing.description, 'failing · 0 of 1–4 · ts · $1.23');
    assert.equal(failing.contextValue, 'target.failing');
    assert.match(failing.tooltip, /5 crashes within 10 minutes \(last: claude-2: exit code 3\)\. Reset it/);
    assert.match(failing.tooltip, /Last output:\nError: invalid API key/);
  });

  it("a worker's row: target #slot, what it does, its cost; in backoff, when it restarts", () => {
    assert.deepEqual([slotItem('claude', slot(1, { current_task: 'fix-parser', cost_usd: 0.42 }), undefined, NOW)].map((i) => [i.label, i.description, i.contextValue]), [
      ['claude #1', 'on fix-parser · $0.42', 'worker.running'],
    ]);
    const backoff = slotItem('claude', slot(2, { state: 'backoff', restart_at: new Date(NOW + 4000).toISOString(), last_exit: 'killed by SIGSEGV' }), undefined, NOW);
    assert.equal(backoff.description, 'restarts in 4 s · killed by SIGSEGV');
    assert.equal(slotItem('claude', slot(3, { state: 'backoff', restart_at: null }), undefined, NOW).description, 'waits for a reset');
  });

  it('the cost beside a task, attempt by attempt in its tooltip; a spent budget on a ready row', () => {
    const task: Task = {
      id: 'docs-1', description: 'write the docs', dependencies: [], priority: 0, capabilities: [], timeout_seconds: 300, max_attempts: 3, attempts: 2,
      status: 'pending', claimed_by: null, fencing_token: 2, started_at: null, lease_expires_at: null, completed_at: null, duration_ms: null, result: null,
      error: null, created_at: new Date(NOW).toISOString(), payload: null, group: 'docs',
      usage: [
        { attempt: 1, worker_id: 'claude-1', target: 'claude', agent: 'claude-code', model: 'claude-sonnet-4-5', input_tokens: 100, output_tokens: 50, cache_read_tokens: 900, cache_write_tokens: 0, cost_usd: 0.4, cost_source: 'reported', prices_as_of: null, session_id: 's', source: 'claude-result', reported_at: 'x' },
        { attempt: 2, worker_id: 'codex-1', target: null, agent: 'codex', model: 'gpt-5-codex', input_tokens: 1000, output_tokens: 10, cache_read_tokens: 0, cache_write_tokens: 0, cost_usd: 0.0014, cost_source: 'price_table', prices_as_of: '2025-11-24', session_id: null, source: 'codex-turns', reported_at: 'x' },
      ],
    };
    assert.equal(taskCost(task)!.total, 0.4014);
    const budgets = new BudgetCache();
    assert.equal(budgets.applyEvent({ event: 'budget:spent', data: { budget: budget({}) }, ts: '' }), true);
    const row = taskItem(task, 'ready', NOW, '', [], heldBackText(budgets.heldBack(task)!));
    assert.equal(row.description, 'budget spent (group docs: $5.02 of $5.00) · docs · $0.40');
    assert.match(row.tooltip, /Attempt 1 by claude-1 \(claude\): \$0\.40, 1000 in, 50 out, claude-sonnet-4-5/);
    assert.match(row.tooltip, /Attempt 2 by codex-1: \$0\.0014 \(priced, table of 2025-11-24\)/);
    assert.equal(budgets.heldBack({ group: 'other' }), undefined);
    budgets.applyEvent({ event: 'budget:spent', data: { budget: budget({ scope: 'plan', name: null }) }, ts: '' });
    assert.equal(budgets.heldBack({ group: 'other' })?.scope, 'plan');
    assert.equal(budgets.applyEvent({ event: 'budget:removed', data: { scope: 'plan', name: null }, ts: '' }), true);
    assert.equal(budgets.heldBack({ group: 'other' }), undefined);
  });

  it('Scale Target takes a count or a range', () => {
    assert.deepEqual(parseScale('3'), { min: 3, max: 3 });
    assert.deepEqual(parseScale(' 1 - 6 '), { min: 1, max: 6 });
    assert.deepEqual(parseScale('0'), { min: 0, max: 0 });
    for (const bad of ['6-1', 'x', '', '1-101', '-1']) assert.equal(parseScale(bad), undefined, bad);
  });
});

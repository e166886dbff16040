// Usage and cost: what a report becomes on the attempt (counts, the models' sums, a cost priced
// from the dated table when none was reported), the readers of Claude Code's and Codex's JSON,
// totals per task, worker, target, group and plan, and budgets that stop claims once spent.
import * as assert from 'node:assert/strict';
import { claudeUsageReader, codexUsageReader, modelInCommand, usageReader } from '../../src/cli/agent-usage';
import { ManualClock } from '../../src/core/clock';
import { Coordinator, DEFAULT_CONFIG } from '../../src/core/coordinator';
import { MemoryStore } from '../../src/core/memory-store';
import { CODEX_DEFAULT_MODEL, PRICES_AS_OF, priceOf } from '../../src/core/prices';
import { attemptUsage } from '../../src/core/usage';
import type { Budget } from '../../src/protocol/usage';

const ctx = { attempt: 2, worker_id: 'w1', target: 'claude', now: '2026-01-01T00:00:00.000Z' };

/** A Claude Code result message as `claude -p --output-format json` prints it (abridged). */
export const CLAUDE_RESULT = {
  type: 'result',
  subtype: 'success',
  is_error: false,
  duration_ms: 41_230,
  num_turns: 7,
  result: 'Done: the parser handles empty input.',
  session_id: '0b6c3c1e-6f1e-4c37-9d4e-3f0a9f6a2d11',
  total_cost_usd: 0.1841,
  // The main conversation only: the subagent's tokens are missing here.
  usage: { input_tokens: 1200, output_tokens: 900, cache_read_input_tokens: 40_000, cache_creation_input_tokens: 3000 },
  modelUsage: {
    'claude-sonnet-4-5-20250929': { inputTokens: 1200, outputTokens: 900, cacheReadInputTokens: 40_000, cacheCreationInputTokens: 3000, webSearchRequests: 0, costUSD: 0.1, contextWindow: 200_000 },
    'claude-haiku-4-5-20251001': { inputTokens: 5000, outputTokens: 2000, cacheReadInputTokens: 0, cacheCreationInputTokens: 0, webSearchRequests: 0, costUSD: 0.0841, contextWindow: 200_000 },
  },
};

/** `codex exec --json` events of a two-turn run. */
export const CODEX_EVENTS = [
  { type: 'thread.started', thread_id: '0199a213-81c0-7800-8aa1-bbab2a035a53' },
  { type: 'turn.started' },
  { type: 'item.completed', item: { id: 'item_1', type: 'command_execution', command: 'bash -lc ls', exit_code: 0 } },
  { type: 'turn.completed', usage: { input_tokens: 24_763, cached_input_tokens: 24_448, output_tokens: 122 } },
  { type: 'turn.started' },
  { type: 'item.completed', item: { id: 'item_3', type: 'agent_message', text: 'Repo contains docs, sdk, and examples directories.' } },
  { type: 'turn.completed', usage: { input_tokens: 30_000, cached_input_tokens: 20_000, output_tokens: 500 } },
];

/** Feeds text in awkward pieces, as a pipe delivers it. */
function feed(reader: { push(t: string): void }, text: string, piece = 7): void {
  for (let i = 0; i < text.length; i += piece) reader.push(text.slice(i, i + piece));
}

describe('usage of an attempt', () => {
  it('keeps a reported cost, sums the models, and names the model that cost the most', () => {
    const u = attemptUsage(
      {
        agent: 'claude-code',
        cost_usd: 0.1841,
        session_id: 's1',
        source: 'claude-result',
        models: {
          'claude-sonnet-4-5': { input_tokens: 1200, output_tokens: 900, cache_read_tokens: 40_000, cache_write_tokens: 3000, cost_usd: 0.1 },
          'claude-haiku-4-5': { input_tokens: 5000, output_tokens: 2000, cost_usd: 0.0841 },
        },
      },
      ctx,
    );
    assert.deepEqual(
      { ...u, models: undefined },
      {
        attempt: 2,
        worker_id: 'w1',
        target: 'claude',
        agent: 'claude-code',
        model: 'claude-sonnet-4-5',
        input_tokens: 6200,
        output_tokens: 2900,
        cache_read_tokens: 40_000,
        cache_write_tokens: 3000,
        cost_usd: 0.1841,
        cost_source: 'reported',
        prices_as_of: null,
        session_id: 's1',
        source: 'claude-result',
        models: undefined,
        reported_at: ctx.now,
      },
    );
    assert.deepEqual(u.models!['claude-haiku-4-5'], { input_tokens: 5000, output_tokens: 2000, cache_read_tokens: 0, cache_write_tokens: 0, cost_usd: 0.0841 });
  });

  it('prices tokens without a cost from the dated table, cached input at its own rate, and says so', () => {
    const u = attemptUsage({ agent: 'codex', input_tokens: 10_315, cache_read_tokens: 44_448, output_tokens: 622 }, ctx);
    assert.equal(u.model, CODEX_DEFAULT_MODEL, 'Codex names no model: its default is assumed');
    // gpt-5-codex: $1.25 / M input, $0.125 / M cached input, $10 / M output.
    assert.equal(u.cost_usd, 0.02466975);
    assert.equal(u.cost_source, 'price_table');
    assert.equal(u.prices_as_of, PRICES_AS_OF);
    const unknown = attemptUsage({ model: 'someone-elses-model', input_tokens: 1000 }, ctx);
    assert.deepEqual([unknown.cost_usd, unknown.cost_source, unknown.prices_as_of], [null, 'unknown', null]);
    const configured = attemptUsage({ model: 'someone-elses-model', input_tokens: 1_000_000 }, { ...ctx, prices: { 'someone-elses-model': { input: 2, output: 4 } } });
    assert.deepEqual([configured.cost_usd, configured.cost_source], [2, 'price_table']);
  });

  it('finds a price by a dated or prefixed model name', () => {
    assert.equal(priceOf('claude-sonnet-4-5-20250929')?.output, 15);
    assert.equal(priceOf('openai/gpt-5-mini')?.input, 0.25);
    assert.equal(priceOf('gpt-5-2025-08-07')?.input, 1.25);
    assert.equal(priceOf('no-such-model'), undefined);
  });
});

describe("agents' JSON output", () => {
  it("Claude Code: the final result message's modelUsage (subagents included), cost and session", () => {
    for (const text of [JSON.stringify(CLAUDE_RESULT) + '\n', [{ type: 'system', subtype: 'init', model: 'x' }, { type: 'assistant', message: {} }, CLAUDE_RESULT].map((m) => JSON.stringify(m)).join('\n')]) {
      const reader = claudeUsageReader();
      feed(reader, 'some free text first\n' + text);
      const found = reader.end();
      assert.ok(found.usage, 'found');
      const u = attemptUsage(found.usage, ctx);
      assert.equal(u.cost_usd, 0.1841);
      assert.equal(u.session_id, CLAUDE_RESULT.session_id);
      assert.equal(u.agent, 'claude-code');
      assert.equal(u.input_tokens, 6200, "usage alone (1200) misses the subagent's 5000");
      assert.equal(u.output_tokens, 2900);
      assert.equal(u.model, 'claude-sonnet-4-5-20250929');
      assert.deepEqual(Object.keys(u.models!).sort(), ['claude-haiku-4-5-20251001', 'claude-sonnet-4-5-20250929']);
    }
  });

  it('Claude Code without modelUsage: the usage field; no result message: said why', () => {
    const { modelUsage: _m, ...older } = CLAUDE_RESULT;
    const reader = claudeUsageReader();
    reader.push(JSON.stringify(older));
    const u = reader.end().usage!;
    assert.deepEqual([u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens, u.cost_usd], [1200, 900, 40_000, 3000, 0.1841]);
    const none = claudeUsageReader();
    none.push('plain text output\n');
    assert.match((none.end() as { missing: string }).missing, /no Claude Code result message.*--output-format json/);
  });

  it('Codex: turn.completed events summed, cached input apart, the thread as session, the model from the command', () => {
    const reader = usageReader('codex', ['codex', 'exec', '--json', '-m', 'gpt-5-mini', 'fix it']);
    feed(reader, CODEX_EVENTS.map((e) => JSON.stringify(e)).join('\n') + '\nwarning: not JSON\n{"broken": ');
    const u = reader.end().usage!;
    assert.deepEqual(u, {
      agent: 'codex',
      source: 'codex-turns',
      model: 'gpt-5-mini',
      session_id: '0199a213-81c0-7800-8aa1-bbab2a035a53',
      input_tokens: 54_763 - 44_448,
      cache_read_tokens: 44_448,
      output_tokens: 622,
    });
    assert.equal(modelInCommand(['codex', '--model=o3']), 'o3');
    assert.equal(modelInCommand(['codex', 'exec']), undefined);
    const empty = codexUsageReader(undefined);
    empty.push('{"type":"turn.started"}\n');
    assert.match((empty.end() as { missing: string }).missing, /no Codex turn\.completed/);
  });

  it('an out-of-range figure is refused, not reported', () => {
    const reader = claudeUsageReader();
    reader.push(JSON.stringify({ type: 'result', total_cost_usd: 5e9 }));
    assert.match((reader.end() as { missing: string }).missing, /out of range/);
  });
});

describe('usage totals and budgets (coordinator)', () => {
  let clock: ManualClock;
  let c: Coordinator;
  const spent: Budget[] = [];

  beforeEach(async () => {
    clock = new ManualClock();
    c = new Coordinator(new MemoryStore(), { ...DEFAULT_CONFIG, retryBackoff: null }, clock);
    spent.length = 0;
    c.events.on('budget:spent', (e) => spent.push(e.budget));
  });
  afterEach(() => c.close());

  const work = async (worker: string, cost: number, how: 'complete' | 'fail' = 'complete') => {
    const { task } = await c.claim({ worker_id: worker });
    assert.ok(task, `${worker} got a task`);
    const usage = { cost_usd: cost, input_tokens: 100, output_tokens: 10 };
    if (how === 'complete') await c.complete({ worker_id: worker, task_id: task.id, usage });
    else await c.fail({ worker_id: worker, task_id: task.id, error: 'no', usage });
    return task.id;
  };

  it('keeps each attempt with its worker and target, and totals per task, worker, target, group and plan', async () => {
    await c.fleet.add({ name: 'claude', command: ['x'], min: 0, max: 2 }, { source: 'cli' });
    await c.fleet.claimSlot('claude', 1, 'host');
    await c.addTasks([{ id: 'a', group: 'g' }, { id: 'b', group: 'g' }, { id: 'c' }]);
    await work('claude-1', 0.5, 'fail'); // a, attempt 1
    await work('claude-1', 0.25); // a again (highest priority, oldest), attempt 2
    await work('someone', 1);
    const a = c.getTask('a');
    assert.deepEqual(a.usage!.map((u) => [u.attempt, u.worker_id, u.target, u.cost_usd]), [
      [1, 'claude-1', 'claude', 0.5],
      [2, 'claude-1', 'claude', 0.25],
    ]);
    const by = (what: 'task' | 'worker' | 'target' | 'group') => c.usageSummary({ by: what }).rows.map((r) => [r.key, r.cost_usd, r.attempts]);
    assert.deepEqual(by('task'), [['b', 1, 1], ['a', 0.75, 2]]);
    assert.deepEqual(by('worker'), [['someone', 1, 1], ['claude-1', 0.75, 2]]);
    assert.deepEqual(by('target'), [['claude', 0.75, 2]]);
    assert.deepEqual(by('group'), [['g', 1.75, 3]]);
    const total = c.usageSummary({}).total;
    assert.deepEqual([total.cost_usd, total.attempts, total.input_tokens, total.output_tokens], [1.75, 3, 300, 30]);
    assert.equal(c.fleet.get('claude').cost_usd, 0.75);
    assert.equal(c.fleet.get('claude').workers[0]!.cost_usd, 0.75);
  });

  it('a spent group budget holds back its tasks (they stay pending, the claim says why), once, with an event', async () => {
    await c.addTasks([{ id: 'd1', group: 'docs', priority: 5 }, { id: 'd2', group: 'docs', priority: 5 }, { id: 'x' }]);
    await c.budgets.set('group', 'docs', 1);
    await work('w', 0.6); // d1
    assert.equal(spent.length, 0);
    await work('w', 0.6); // d2: $1.20 of $1
    assert.deepEqual(spent.map((b) => [b.scope, b.name, b.spent_usd, b.limit_usd, b.spent]), [['group', 'docs', 1.2, 1, true]]);
    await c.addTasks([{ id: 'd3', group: 'docs', priority: 9 }]);
    const claim = await c.claim({ worker_id: 'w' });
    assert.equal(claim.task?.id, 'x', 'the spent group is skipped, other work goes on');
    await c.complete({ worker_id: 'w', task_id: 'x' });
    const none = await c.claim({ worker_id: 'w' });
    assert.deepEqual([none.task, none.held_back], [null, ['group docs']]);
    assert.equal(c.getTask('d3').status, 'pending');
    // Raised above what was spent: claimable again, and spent again only once more.
    await c.budgets.set('group', 'docs', 5);
    assert.equal((await c.claim({ worker_id: 'w' })).task?.id, 'd3');
    assert.equal(spent.length, 1);
  });

  it('a spent plan budget stops every claim; a spent target budget stops its workers only', async () => {
    await c.fleet.add({ name: 'codex', command: ['x'], min: 0, max: 1, budget_usd: 0.5 }, { source: 'cli' });
    await c.fleet.claimSlot('codex', 1, 'host');
    await c.addTasks(Array.from({ length: 6 }, (_, i) => ({ id: `t${i}` })));
    await work('codex-1', 0.5);
    assert.deepEqual(spent.map((b) => [b.scope, b.name]), [['target', 'codex']]);
    assert.deepEqual((await c.claim({ worker_id: 'codex-1' })).held_back, ['target codex']);
    await work('human', 0.1);
    await c.budgets.set('plan', null, 0.7);
    await work('human', 0.1); // $0.70 of $0.70: spent
    assert.deepEqual(spent.at(-1)!.scope, 'plan');
    const claim = await c.claim({ worker_id: 'human' });
    assert.deepEqual([claim.task, claim.held_back], [null, ['the plan']]);
    assert.deepEqual(c.budgets.list().map((b) => [b.scope, b.spent]), [['plan', true], ['target', true]]);
    await c.budgets.remove('plan', null);
    assert.ok((await c.claim({ worker_id: 'human' })).task);
  });
});

// Worker targets with real processes: `harness serve` supervising `harness work` children around
// real commands. A crashing command is restarted with backoff until the breaker trips; 50 tasks at
// once scale a target to its max and no further, and down again when idle; a killed coordinator's
// successor adopts the running workers; two coordinators racing for one folder do not double a
// target; a stand-in agent's Claude- and Codex-style JSON is attributed to the right task,
// attempt and worker; a budget stops claims at its limit. Every wait is on an event or a state.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HarnessClient } from '../../src/client/client';
import { processAlive } from '../../src/exec';
import type { EventLine } from '../../src/protocol/messages';
import { InstanceList } from '../../src/protocol/instances';
import { Subscribe } from '../../src/protocol/meta';
import { TargetList, type TargetView } from '../../src/protocol/targets';
import { RunList } from '../../src/protocol/runs';
import { PlanImport, TaskClaim, TaskGet, TaskList } from '../../src/protocol/tasks';
import { UsageSummary } from '../../src/protocol/usage';
import { childEnv, cleanupAll, ensureCliBuilt, pollUntil, ROOT, runCli, ServeProcess, tempDir, within } from '../support/harness-process';

const STAND_IN = path.join(ROOT, 'test', 'support', 'stand-in-agent.js');

/** Every event a subscribed connection receives, and a way to wait for one (or a count of them). */
class Events {
  readonly lines: EventLine[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(client: HarnessClient) {
    client.onEvent((e) => {
      this.lines.push(e);
      // Workers are detached: a test that kills their coordinator must still end them.
      if (e.event === 'target:changed') for (const w of (e.data as { target: TargetView }).target.workers) if (w.pid) workerPids.add(w.pid);
      for (const w of [...this.waiters]) w();
    });
  }

  of(name: string, where: (data: any) => boolean = () => true): Array<EventLine & { data: any }> {
    return this.lines.filter((e) => e.event === name && where(e.data));
  }

  /** Resolves once `ready()` holds over the events received so far. */
  until<T>(ready: () => T | undefined | false, what: string, ms = 30_000): Promise<T> {
    const now = ready();
    if (now) return Promise.resolve(now);
    return within(
      new Promise<T>((resolve) => {
        const check = () => {
          const v = ready();
          if (!v) return;
          this.waiters.delete(check);
          resolve(v);
        };
        this.waiters.add(check);
      }),
      ms,
      `${what}\nevents so far: ${this.lines.map((e) => e.event).join(' ')}`,
    );
  }
}

interface Host {
  dir: string;
  socket: string;
  serve: ServeProcess;
  client: HarnessClient;
  events: Events;
  env: NodeJS.ProcessEnv;
}

/** Pids of every worker process the tests' coordinators started: killed after each test. */
const workerPids = new Set<number>();
/** Coordinators of the current test: stopped cleanly after it (which stops their workers). */
const serves = new Set<ServeProcess>();

async function connect(socket: string): Promise<{ client: HarnessClient; events: Events }> {
  const client = await HarnessClient.connect(socket, { retryForMs: 5000 });
  const events = new Events(client);
  await client.call(Subscribe, {});
  return { client, events };
}

/** A workspace with `config` as .harness/config.json (targets, budgets). */
function workspace(config: object): { dir: string; socket: string } {
  const dir = fs.realpathSync(tempDir('hfl-'));
  fs.mkdirSync(path.join(dir, '.harness'), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, '.harness', 'config.json'), JSON.stringify(config, null, 2));
  return { dir, socket: path.join(dir, 'h.sock') };
}

async function host(dir: string, socket: string): Promise<Host> {
  const serve = await ServeProcess.start(dir, socket);
  serves.add(serve);
  const { client, events } = await connect(socket);
  return { dir, socket, serve, client, events, env: childEnv({ HARNESS_SOCKET: socket, HARNESS_WORKER_ID: 'test-person' }) };
}

async function targets(h: { client: HarnessClient }): Promise<TargetView[]> {
  const { targets } = await h.client.call(TargetList, {});
  for (const t of targets) for (const w of t.workers) if (w.pid) workerPids.add(w.pid);
  return targets;
}

const started = (events: Events, target: string) => events.of('target:changed', (d) => d.target.name === target && /^starting /.test(d.reason));

describe('worker targets with real processes', function () {
  this.timeout(120_000);
  before(() => ensureCliBuilt());
  afterEach(async () => {
    await Promise.all([...serves].map((s) => s.stop('SIGTERM').catch(() => {})));
    serves.clear();
    await cleanupAll();
    for (const pid of workerPids) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    workerPids.clear();
  });

  it('a target of 2 whose command crashes is restarted with backoff (1 s, then 2 s) and trips the breaker at the fifth crash', async () => {
    const { dir, socket } = workspace({
      targets: { crashy: { command: [process.execPath, '-e', "console.log('segfaulting now'); process.kill(process.pid, 'SIGSEGV')"], min: 2, max: 2 } },
    });
    const h = await host(dir, socket);
    await h.client.call(PlanImport, { tasks: Array.from({ length: 12 }, (_, i) => ({ id: `c${i}`, max_attempts: 10 })) });
    const failing = await h.events.until(() => h.events.of('target:failing')[0], 'the target to trip its breaker');
    const exits = h.events.of('worker:exited');
    assert.ok(exits.length >= 5, `${exits.length} crashes`);
    assert.ok(exits.every((e) => e.data.abnormal), 'every exit was a crash');
    assert.match(exits[0]!.data.exit, /exit code 3/, 'harness work --exit-on-crash exits 3 when its command is killed by a signal');
    const view = failing.data.target as TargetView;
    assert.equal(view.state, 'failing');
    assert.ok(view.crashes >= 5);
    assert.match(view.last_output ?? '', /killed by SIGSEGV/);
    // Per slot: restarted only once its backoff was over, the backoff doubling.
    for (const slot of [1, 2]) {
      const mine = exits.filter((e) => e.data.slot === slot);
      const starts = started(h.events, 'crashy').filter((e) => e.data.reason === `starting crashy-${slot}`);
      const waits = mine.filter((e) => e.data.restart_at).map((e) => Date.parse(e.data.restart_at) - Date.parse(e.ts));
      assert.ok(waits.length >= 1, `slot ${slot} was restarted`);
      const expected = [1000, 2000, 4000];
      waits.forEach((w, i) => assert.ok(Math.abs(w - expected[i]!) < 150, `slot ${slot} backoff ${i + 1}: ${w} ms, expected about ${expected[i]}`));
      for (const [i, exit] of mine.entries()) {
        const next = starts[i + 1];
        if (exit.data.restart_at && next) assert.ok(Date.parse(next.ts) >= Date.parse(exit.data.restart_at) - 5, `slot ${slot} restarted at ${next.ts}, not before ${exit.data.restart_at}`);
      }
    }
    // Failing: every slot waits for a person; no worker runs.
    const settled = await pollUntil(async () => {
      const [t] = await targets(h);
      return t!.workers.every((w) => w.state === 'backoff' && w.restart_at === null) ? t : undefined;
    }, 20_000, 'both slots to wait for a reset');
    assert.equal(settled.workers.length, 2);
    const startsBefore = started(h.events, 'crashy').length;
    const text = await runCli(['target', 'list', '--format', 'text'], h.env);
    assert.match(text.stdout, /crashy {2}FAILING since/);
    // A person resets it: started again at once.
    assert.equal((await runCli(['target', 'reset', 'crashy'], h.env)).code, 0);
    await h.events.until(() => started(h.events, 'crashy').length >= startsBefore + 2, 'both slots to start again after the reset');
  });

  it('50 tasks arriving at once scale a target to its max and no further, and back to min once idle', async () => {
    const release = path.join(tempDir('hrel-'), 'release');
    const { dir, socket } = workspace({
      targets: {
        ts: {
          command: ['sh', '-c', 'while [ ! -e "$0" ]; do sleep 0.05; done', release],
          capabilities: ['ts'],
          min: 1,
          max: 4,
          idle_timeout_seconds: 1,
        },
      },
    });
    const h = await host(dir, socket);
    const registered = (w: string) => h.events.of('instance:registered', (d) => d.instance.worker_id === w).length > 0;
    await h.events.until(() => registered('ts-1'), 'the first worker (min 1) to register');
    await h.client.call(PlanImport, { tasks: Array.from({ length: 50 }, (_, i) => ({ id: `t${i}`, capabilities: ['ts'] })) });
    await h.events.until(() => ['ts-1', 'ts-2', 'ts-3', 'ts-4'].every(registered), 'four workers');
    await h.events.until(() => h.events.of('task:claimed').length >= 4, 'four tasks running');
    const running = (await h.client.call(TaskList, { status: 'running' })).tasks;
    assert.deepEqual(running.map((t) => t.claimed_by).sort(), ['ts-1', 'ts-2', 'ts-3', 'ts-4']);
    fs.writeFileSync(release, '');
    await h.events.until(() => h.events.of('task:completed').length === 50, 'all 50 tasks to complete', 60_000);
    // Each worker process is a run with its output: four in all, never a fifth.
    const runs = (await h.client.call(RunList, {})).runs.filter((r) => r.run_id.startsWith('worker-'));
    assert.deepEqual(runs.map((r) => r.worker_id).sort(), ['ts-1', 'ts-2', 'ts-3', 'ts-4']);
    assert.equal(h.events.of('target:changed', (d) => /ts-5/.test(d.reason)).length, 0);
    assert.deepEqual(
      [...new Set(h.events.of('task:completed').map((e) => e.data.task.claimed_by))].sort(),
      ['ts-1', 'ts-2', 'ts-3', 'ts-4'],
    );
    // Idle for a second: down to min, the workers leaving cleanly.
    await h.events.until(() => h.events.of('worker:exited').length === 3, 'three workers stopped');
    assert.ok(h.events.of('worker:exited').every((e) => !e.data.abnormal && e.data.exit === 'exit code 0'));
    assert.ok(h.events.of('instance:deregistered').length >= 3, 'each released its claim on the registry');
    const [t] = await targets(h);
    assert.equal(t!.workers.length, 1, 'min: one worker stays');
  });

  it('killing the coordinator and starting it again adopts the running workers: same processes, count unchanged', async () => {
    const { dir, socket } = workspace({ targets: { keep: { command: ['true'], min: 2, max: 2 } } });
    const first = await host(dir, socket);
    await first.events.until(() => first.events.of('instance:registered').length >= 2, 'two workers');
    const before = (await targets(first))[0]!.workers.map((w) => [w.worker_id, w.pid, w.generation]);
    assert.equal(before.length, 2);
    first.client.close();
    await first.serve.stop('SIGKILL');
    for (const [, pid] of before) assert.ok(processAlive(pid as number), `worker ${pid} outlives its coordinator`);

    const second = await host(dir, socket);
    await pollUntil(async () => (/adopted worker keep-1/.test(second.serve.stderr) && /adopted worker keep-2/.test(second.serve.stderr) ? true : undefined), 20_000, 'both workers adopted');
    const after = (await targets(second))[0]!.workers.map((w) => [w.worker_id, w.pid, w.generation]);
    assert.deepEqual(after, before, 'the same two processes, not new ones');
    assert.equal(started(second.events, 'keep').length, 0, 'nothing started');
    // The adopted workers still work: they reconnected to the new coordinator.
    await second.client.call(PlanImport, { tasks: [{ id: 'after-restart' }] });
    const done = await second.events.until(() => second.events.of('task:completed')[0], 'an adopted worker to complete a task');
    assert.match(done.data.task.claimed_by, /^keep-[12]$/);
    // A clean stop ends them.
    second.client.close();
    assert.equal((await second.serve.stop('SIGTERM')).code, 0);
    for (const [, pid] of before) assert.ok(!processAlive(pid as number), `worker ${pid} was stopped with its coordinator`);
  });

  it('two coordinators racing for one folder (two windows) do not double a target, then or after a restart', async () => {
    const { dir, socket } = workspace({ targets: { pair: { command: ['true'], min: 2, max: 2 } } });
    const race = () => {
      const pair = [ServeProcess.spawn(['--worktree', dir, '--socket', socket], childEnv()), ServeProcess.spawn(['--worktree', dir, '--socket', socket], childEnv())];
      for (const s of pair) serves.add(s);
      return pair;
    };
    const [a, b] = race();
    const winner = await Promise.any([a!.ready.then(() => a!), b!.ready.then(() => b!)]);
    const loser = winner === a ? b! : a!;
    const lost = await within(loser.exited, 20_000, 'the second coordinator to give up');
    assert.equal(lost.code, 1);
    assert.match(loser.stdout, /STATE_LOCKED/);
    const { client, events } = await connect(socket);
    await events.until(() => events.of('instance:registered').length >= 2 || undefined, 'two workers');
    const h = { client };
    const count = async () => (await targets(h))[0]!.workers.length;
    assert.equal(await count(), 2);
    assert.equal((await client.call(InstanceList, {})).instances.filter((i) => i.status === 'live').length, 2);
    const pids = (await targets(h))[0]!.workers.map((w) => w.pid);
    client.close();
    await winner.stop('SIGKILL');
    // Both windows come back at once: one serves and adopts, the other gives up.
    const [c, d] = race();
    const next = await Promise.any([c!.ready.then(() => c!), d!.ready.then(() => d!)]);
    await within((next === c ? d! : c!).exited, 20_000, 'the other to give up');
    const again = await connect(socket);
    await pollUntil(async () => ((await targets({ client: again.client }))[0]!.workers.every((w) => w.state === 'running') ? true : undefined), 20_000, 'adopted');
    assert.deepEqual((await targets({ client: again.client }))[0]!.workers.map((w) => w.pid), pids);
    assert.equal(started(again.events, 'pair').length, 0);
    again.client.close();
  });

  it("a stand-in agent's Claude-style and Codex-style JSON is attributed to the right task, attempt, worker and target", async () => {
    const marks = tempDir('hmark-');
    const { dir, socket } = workspace({
      targets: {
        claude: { command: [process.execPath, STAND_IN, 'claude', '--cost', '0.25', '--fail-first', marks], capabilities: ['claude'], min: 1, usage: 'claude' },
        codex: { command: [process.execPath, STAND_IN, 'codex', '--tokens', '100000', '-m', 'gpt-5-mini'], capabilities: ['codex'], min: 1, usage: 'codex' },
      },
    });
    const h = await host(dir, socket);
    await h.client.call(PlanImport, {
      tasks: [
        { id: 'review', capabilities: ['claude'], retry_backoff: { strategy: 'fixed', delay_seconds: 0 } },
        { id: 'refactor', capabilities: ['codex'] },
      ],
    });
    await h.events.until(() => h.events.of('task:completed').length === 2, 'both tasks to complete');
    const review = (await h.client.call(TaskGet, { task_id: 'review' })).task;
    assert.deepEqual(
      review.usage!.map((u) => [u.attempt, u.worker_id, u.target, u.agent, u.cost_usd, u.cost_source, u.session_id, u.source]),
      [
        [1, 'claude-1', 'claude', 'claude-code', 0.25, 'reported', 'session-review-first', 'claude-result'],
        [2, 'claude-1', 'claude', 'claude-code', 0.25, 'reported', 'session-review-again', 'claude-result'],
      ],
    );
    assert.equal(review.usage![0]!.input_tokens, 1250, "modelUsage's sum: the subagent's tokens counted");
    assert.equal(review.usage![0]!.model, 'claude-sonnet-4-5-20250929');
    const refactor = (await h.client.call(TaskGet, { task_id: 'refactor' })).task;
    const [u] = refactor.usage!;
    assert.deepEqual([u!.attempt, u!.worker_id, u!.target, u!.model, u!.input_tokens, u!.cache_read_tokens, u!.output_tokens], [1, 'codex-1', 'codex', 'gpt-5-mini', 50_000, 50_000, 10_000]);
    // gpt-5-mini: $0.25 / M input, $0.025 / M cached, $2 / M output.
    assert.equal(u!.cost_usd, 0.03375);
    assert.equal(u!.cost_source, 'price_table');
    const byTarget = await h.client.call(UsageSummary, { by: 'target' });
    assert.deepEqual(byTarget.rows.map((r) => [r.key, r.cost_usd, r.attempts]), [['claude', 0.5, 2], ['codex', 0.03375, 1]]);
    assert.equal(byTarget.total.cost_usd, 0.53375);
    const text = await runCli(['usage', '--by', 'worker', '--format', 'text'], h.env);
    assert.match(text.stdout, /claude-1\s+\$0\.50\s+2 attempt/);
    const [claude] = await targets(h);
    assert.equal(claude!.workers[0]!.cost_usd, 0.5);
  });

  it('a budget stops claims at its limit: the rest stay pending, saying why, and an event says so', async () => {
    const { dir, socket } = workspace({
      targets: { docs: { command: [process.execPath, STAND_IN, 'claude', '--cost', '0.2'], min: 1, max: 1, usage: 'claude' } },
      budgets: { groups: { docs: 0.3 } },
    });
    const h = await host(dir, socket);
    await h.client.call(PlanImport, { tasks: Array.from({ length: 5 }, (_, i) => ({ id: `d${i}`, group: 'docs' })) });
    const spent = await h.events.until(() => h.events.of('budget:spent')[0], 'the budget to be spent');
    assert.deepEqual([spent.data.budget.scope, spent.data.budget.name, spent.data.budget.limit_usd, spent.data.budget.spent], ['group', 'docs', 0.3, true]);
    assert.equal(h.events.of('task:completed').length, 2, '$0.20 + $0.20 reach $0.30: two tasks ran');
    const pending = (await h.client.call(TaskList, { status: 'pending' })).tasks.map((t) => t.id);
    assert.deepEqual(pending, ['d2', 'd3', 'd4']);
    const claim = await h.client.call(TaskClaim, { worker_id: 'someone-else' });
    assert.deepEqual([claim.task, claim.held_back], [null, ['group docs']]);
    const usage = await runCli(['usage', '--format', 'text'], h.env);
    assert.match(usage.stdout, /group docs: \$0\.40 of \$0\.30 — SPENT, no new claims/);
    // Raised: the worker takes the rest.
    assert.equal((await runCli(['budget', 'set', '--group', 'docs', '5'], h.env)).code, 0);
    await h.events.until(() => h.events.of('task:completed').length === 5, 'the rest once the budget was raised');
  });
});

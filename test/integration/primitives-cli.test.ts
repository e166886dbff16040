// Shared state, resource pools and mailboxes through the real CLI and socket of a real
// `harness serve`: concurrent compare-and-set increments, pool-gated task claims, at-least-once
// messages that survive a restart.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RawConnection, runCli, ServeProcess, type Daemon, useDaemon } from '../support/harness-process';

/** Reads a JSON number (or null) on stdin, prints it plus one; awk starts far faster than node. */
const PLUS_ONE = ['awk', '{ print $1 + 1 }'];

/** A task that logs when it starts and ends, running for a while in between. */
const TIMED = `
const fs = require('fs');
const [log, id] = process.argv.slice(1);
fs.appendFileSync(log, JSON.stringify({ id, at: Date.now(), edge: 'start' }) + '\\n');
setTimeout(() => fs.appendFileSync(log, JSON.stringify({ id, at: Date.now(), edge: 'end' }) + '\\n'), 1500);`;

/** The most intervals open at once, from start/end edges. */
function maxOverlap(edges: Array<{ at: number; edge: string }>): number {
  let open = 0;
  let most = 0;
  for (const e of [...edges].sort((a, b) => a.at - b.at || (a.edge === 'end' ? -1 : 1))) {
    open += e.edge === 'start' ? 1 : -1;
    most = Math.max(most, open);
  }
  return most;
}

describe('shared state, pools and mailboxes through the harness CLI (real processes)', function () {
  this.timeout(120_000);
  let d: Daemon;
  let c: RawConnection;
  useDaemon((daemon, connection) => ((d = daemon), (c = connection)));

  const cli = (args: string[], worker = 'w') => runCli(args, { ...d.env, HARNESS_WORKER_ID: worker }, d.dir);

  it('100 concurrent increments (10 processes × 10 `state update`) end at exactly 100, keeping at most 10 versions', async () => {
    let attempts = 0;
    await Promise.all(
      Array.from({ length: 10 }, async (_, p) => {
        for (let i = 0; i < 10; i++) {
          const r = await cli(['state', 'update', 'counter', '--', ...PLUS_ONE], `p${p}`);
          assert.equal(r.code, 0, r.stdout + r.stderr);
          attempts += r.json.data.attempts;
        }
      }),
    );
    const got = await cli(['state', 'get', 'counter']);
    assert.equal(got.json.data.value, 100);
    assert.equal(got.json.data.version, 100);
    const history = await cli(['state', 'history', 'counter']);
    assert.deepEqual(
      history.json.data.versions.map((v: { version: number }) => v.version),
      [100, 99, 98, 97, 96, 95, 94, 93, 92, 91],
    );
    assert.ok(attempts > 100, `the updates did contend (${attempts} attempts for 100 increments)`);
  });

  it('state put with --if-version: a stale version is a CONFLICT carrying the current one', async () => {
    assert.equal((await cli(['state', 'put', 'cfg', '{"v":1}', '--if-version', '0'])).code, 0);
    const stale = await cli(['state', 'put', 'cfg', '{"v":2}', '--if-version', '0']);
    assert.equal(stale.code, 1);
    assert.equal(stale.json.code, 'CONFLICT');
    assert.equal(stale.json.details.current_version, 1);
    assert.equal((await cli(['state', 'put', 'cfg', '{"v":2}', '--if-version', '1'])).json.data.version, 2);
    assert.deepEqual((await cli(['state', 'list', 'cf'])).json.data.entries.map((e: { key: string }) => e.key), ['cfg']);
  });

  it('with 4 cpu cores two tasks needing 2 each run at once; the third waits and runs when one finishes', async () => {
    const plan = path.join(d.dir, 'plan.json');
    const tasks = ['a', 'b', 'c'].map((id) => ({ id, resources: { cpu_cores: 2 } }));
    fs.writeFileSync(plan, JSON.stringify({ resources: { cpu_cores: 4 }, tasks }));
    const imported = await cli(['plan', 'import', plan]);
    assert.equal(imported.code, 0, imported.stderr);
    const log = path.join(d.dir, 'edges.log');
    const workers = await Promise.all(
      ['w1', 'w2', 'w3'].map((w) =>
        cli(['work', '--max-tasks', '1', '--idle-exit', '30', '--', process.execPath, '-e', TIMED, log, '{id}'], w),
      ),
    );
    workers.forEach((r) => assert.equal(r.code, 0, r.stderr));
    const edges = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; at: number; edge: string });
    assert.equal(edges.filter((e) => e.edge === 'end').length, 3, 'all three ran');
    assert.equal(maxOverlap(edges), 2, 'two at once, never three');
    const starts = edges.filter((e) => e.edge === 'start').sort((x, y) => x.at - y.at);
    const firstEnd = Math.min(...edges.filter((e) => e.edge === 'end').map((e) => e.at));
    assert.ok(starts[1]!.at < firstEnd, 'the first two overlapped');
    assert.ok(starts[2]!.at >= firstEnd, 'the third started only after one had finished');
    assert.equal((await c.ok({ command: 'pool_list' })).pools[0].used, 0);
  });

  it('never over-commits a pool under many concurrent claims', async () => {
    const tasks = Array.from({ length: 30 }, (_, i) => ({ id: `t${i}`, resources: { cpu: 1 + (i % 3) }, priority: i % 4 }));
    await c.ok({ command: 'plan_import', resources: { cpu: 5 }, tasks });
    const conns = await Promise.all(Array.from({ length: 12 }, () => d.connect()));
    for (let round = 0; round < 30 && (await c.ok({ command: 'status' })).counts.completed < 30; round++) {
      const claims = await Promise.all(conns.map((conn, i) => conn.ok({ command: 'task_claim', worker_id: `w${i}` })));
      const running = (await c.ok({ command: 'task_list', status: 'running' })).tasks as Array<{ resources: { cpu: number } }>;
      const held = running.reduce((sum, t) => sum + t.resources.cpu, 0);
      assert.ok(held <= 5, `round ${round}: ${held} of 5 cpu held`);
      assert.equal((await c.ok({ command: 'pool_list' })).pools[0].used, held);
      for (const [i, cl] of claims.entries()) {
        if (cl.task) await conns[i]!.ok({ command: 'task_complete', worker_id: `w${i}`, task_id: cl.task.id });
      }
    }
    assert.equal((await c.ok({ command: 'status' })).counts.completed, 30);
  });

  it('with-resources: two holds of 3 of 4 cores run one after the other; an impossible one is refused', async () => {
    assert.equal((await cli(['pool', 'set', 'cores', '4'])).code, 0);
    const busy = `const fs=require('fs');try{fs.writeFileSync('busy','',{flag:'wx'})}catch{process.exit(99)};setTimeout(()=>fs.unlinkSync('busy'),300)`;
    const runs = await Promise.all(
      ['x', 'y'].map((w) => cli(['with-resources', 'cores=3', '--wait', '30', '--', process.execPath, '-e', busy], w)),
    );
    runs.forEach((r) => assert.equal(r.code, 0, r.stdout + r.stderr));
    const big = await cli(['with-resources', 'cores=5', '--', 'true']);
    assert.equal(big.json.code, 'OVER_CAPACITY');
    const unknown = await cli(['with-resources', 'gpu=1', '--', 'true']);
    assert.equal(unknown.json.code, 'UNKNOWN_POOL');
    assert.equal((await c.ok({ command: 'pool_list' })).pools[0].used, 0);
  });

  it('messages: topics fan out, recv --wait is woken, unacknowledged mail survives a restart', async () => {
    for (const w of ['a', 'b']) assert.equal((await cli(['msg', 'subscribe', 'builds'], w)).code, 0);
    const waiting = cli(['msg', 'recv', '--wait', '20'], 'a');
    const sent = await cli(['msg', 'send', '--to', 'topic:builds', '{"ok":true}'], 'lead');
    assert.deepEqual(sent.json.data.recipients, ['a', 'b']);
    const got = (await waiting).json.data.messages;
    assert.deepEqual(got.map((m: { body: unknown; from: string }) => [m.body, m.from]), [[{ ok: true }, 'lead']]);
    assert.equal((await cli(['msg', 'ack', got[0].id], 'a')).code, 0);
    assert.deepEqual((await cli(['msg', 'recv'], 'a')).json.data.messages, []);
    assert.equal((await cli(['msg', 'send', '--to', 'ghost', 'hello'])).code, 0);

    c.close();
    await d.serve.stop();
    d.serve = await ServeProcess.start(d.dir, d.socket);
    const pending = (await cli(['msg', 'list'])).json.data.messages.map((m: { recipient: string; body: unknown }) => [m.recipient, m.body]);
    assert.deepEqual(pending, [
      ['b', { ok: true }],
      ['ghost', 'hello'],
    ]);
    assert.equal((await cli(['msg', 'recv'], 'b')).json.data.messages.length, 1, 'b still gets it: at least once');
    const c2 = await RawConnection.connect(d.socket);
    assert.deepEqual((await c2.ok({ command: 'message_list' })).topics, { builds: ['a', 'b'] });
    c2.close();
  });
});

// `harness serve` as a real process, driven over its socket with raw NDJSON lines and through
// the `harness` CLI as a subprocess. No mocks, no sleeps: waits are on output or bounded polls.
// Daemon lifecycle (restart, stale socket, permissions, a second serve) is in server-lifecycle.test.ts.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  childEnv,
  pollUntil,
  RawConnection,
  runCli,
  tempDir,
  type Daemon,
  useDaemon,
} from '../support/harness-process';

describe('harness serve over its socket and the harness CLI (real processes)', function () {
  this.timeout(60_000);
  let d: Daemon;
  let c: RawConnection;
  useDaemon((daemon, connection) => ((d = daemon), (c = connection)));

  const claim = (conn: RawConnection, worker_id: string) => conn.ok({ command: 'task_claim', worker_id });

  describe('leases', () => {
    it('a re-claim by the holder is idempotent (is_retry) and renews the lease', async () => {
      await c.ok({ command: 'task_add', task: { id: 't1', timeout_seconds: 60 } });
      const first = await claim(c, 'w1');
      assert.equal(first.task.id, 't1');
      assert.deepEqual([first.is_retry, first.is_reclaim, first.task.attempts, first.task.fencing_token], [false, false, 1, 1]);

      // started_at has millisecond resolution: re-claim until it has visibly moved on.
      const again = await pollUntil(
        async () => {
          const r = await claim(c, 'w1');
          return r.task.started_at > first.task.started_at ? r : undefined;
        },
        5_000,
        'a re-claim with a later started_at',
        5,
      );
      assert.equal(again.task.id, 't1');
      assert.deepEqual([again.is_retry, again.is_reclaim, again.task.attempts, again.task.fencing_token], [true, false, 1, 1]);
      assert.ok(again.task.lease_expires_at > first.task.lease_expires_at, 'the lease runs from the re-claim');
      assert.equal((await claim(c, 'w2')).task, null, 'nobody else gets a task that is held');
    });

    it('an expired lease is reclaimed by another worker; the old holder and a stale token are refused', async () => {
      await c.ok({ command: 'task_add', task: { id: 't1', timeout_seconds: 1 } });
      const first = await claim(c, 'w1');
      assert.deepEqual([first.task.claimed_by, first.task.fencing_token], ['w1', 1]);

      // The daemon runs on the real clock: poll w2's claims until the 1 s lease has run out.
      const re = await pollUntil(
        async () => {
          const r = await claim(c, 'w2');
          return r.task ? r : undefined;
        },
        10_000,
        'w2 to reclaim the expired lease',
      );
      assert.equal(re.task.id, 't1');
      assert.deepEqual([re.is_reclaim, re.is_retry], [true, false]);
      assert.deepEqual([re.task.claimed_by, re.task.attempts, re.task.fencing_token], ['w2', 2, 2]);

      for (const command of ['task_complete', 'task_heartbeat', 'task_release']) {
        const late = await c.request({ command, worker_id: 'w1', task_id: 't1', id: command });
        assert.equal(late.status, 'error', command);
        assert.equal(late.code, 'NOT_CLAIMED_BY');
        assert.match(late.message, /not claimed by w1 \(held by w2\)/);
        assert.equal(late.id, command);
      }
      const stale = await c.request({ command: 'task_complete', worker_id: 'w2', task_id: 't1', fencing_token: 1 });
      assert.equal(stale.code, 'STALE_FENCING_TOKEN');
      assert.match(stale.message, /fencing token 1 is stale \(current 2\)/);

      const done = await c.ok({ command: 'task_complete', worker_id: 'w2', task_id: 't1', fencing_token: 2, result: { ok: true } });
      assert.deepEqual([done.task.status, done.task.claimed_by, done.task.result], ['completed', 'w2', { ok: true }]);
    });

    it('only the holder may complete a task', async () => {
      await c.ok({ command: 'task_add', task_id: 't1', description: 'flat fields' });
      const notYet = await c.request({ command: 'task_complete', worker_id: 'w1', task_id: 't1' });
      assert.equal(notYet.code, 'NOT_CLAIMED_BY');
      assert.match(notYet.message, /not claimed by w1 \(it is pending\)/);

      await claim(c, 'w1');
      const other = await c.request({ command: 'task_complete', worker_id: 'w2', task_id: 't1' });
      assert.equal(other.code, 'NOT_CLAIMED_BY');
      assert.match(other.message, /not claimed by w2 \(held by w1\)/);
      const still = await c.ok({ command: 'task_get', task_id: 't1' });
      assert.deepEqual([still.task.status, still.task.claimed_by], ['running', 'w1']);

      await c.ok({ command: 'task_complete', worker_id: 'w1', task_id: 't1' });
      const twice = await c.request({ command: 'task_complete', worker_id: 'w1', task_id: 't1' });
      assert.match(twice.message, /not claimed by w1 \(it is completed\)/);
    });
  });

  describe('claims', () => {
    it('40 connections claiming from 200 tasks at once: every task handed out exactly once', async () => {
      const ids = Array.from({ length: 200 }, (_, i) => `t${String(i).padStart(3, '0')}`);
      await c.ok({ command: 'plan_import', tasks: ids.map((id) => ({ id })) });
      const conns = await Promise.all(Array.from({ length: 40 }, () => d.connect()));
      const perWorker = await Promise.all(
        conns.map(async (conn, i) => {
          const mine: string[] = [];
          for (;;) {
            const r = await claim(conn, `w${i}`);
            if (!r.task) return mine;
            assert.equal(r.is_retry, false, `w${i} was handed ${r.task.id} again`);
            mine.push(r.task.id);
            await conn.ok({ command: 'task_complete', worker_id: `w${i}`, task_id: r.task.id, fencing_token: r.task.fencing_token });
          }
        }),
      );
      const all = perWorker.flat();
      assert.equal(all.length, 200, 'claims handed out');
      assert.deepEqual([...all].sort(), ids);
      assert.ok(perWorker.filter((m) => m.length > 0).length > 1, 'the work was spread over several connections');
      const { tasks } = await c.ok({ command: 'task_list', status: 'completed' });
      assert.equal(tasks.length, 200);
      assert.ok(tasks.every((t: { attempts: number }) => t.attempts === 1));
    });

    it('a task is claimable only once all its dependencies are completed', async () => {
      await c.ok({
        command: 'plan_import',
        tasks: [{ id: 'build' }, { id: 'test', dependencies: ['build'] }, { id: 'deploy', dependencies: ['build', 'test'], priority: 9 }],
      });
      assert.equal((await claim(c, 'w1')).task.id, 'build');
      assert.equal((await claim(c, 'w2')).task, null, 'test waits for build');
      await c.ok({ command: 'task_complete', worker_id: 'w1', task_id: 'build' });
      assert.equal((await claim(c, 'w2')).task.id, 'test', 'deploy still waits for test, despite its priority');
      assert.equal((await claim(c, 'w3')).task, null);
      await c.ok({ command: 'task_complete', worker_id: 'w2', task_id: 'test' });
      assert.equal((await claim(c, 'w3')).task.id, 'deploy');
    });
  });

  describe('bad input on the raw socket', () => {
    const pingAfter = async (label: string) => {
      const pong = await c.request({ command: 'ping', id: `after ${label}` });
      assert.equal(pong.status, 'ok', `ping after ${label}`);
      assert.equal(pong.id, `after ${label}`);
      assert.equal(pong.data.pong, true);
    };

    const cases: Array<{ label: string; line: unknown; message: RegExp; id?: string | number }> = [
      { label: 'malformed JSON', line: '{"command": "ping",', message: /^malformed JSON/ },
      { label: 'a JSON array', line: '[{"command":"ping"}]', message: /^invalid request: .*expected object, received array/ },
      { label: 'a JSON string', line: '"ping"', message: /^invalid request: .*expected object/ },
      { label: 'command not a string', line: { command: 42, id: 'n' }, message: /^invalid request: command: .*expected string/, id: 'n' },
      { label: 'unknown command', line: { command: 'frobnicate', id: 7 }, message: /^unknown command "frobnicate"/, id: 7 },
      { label: 'task_claim without worker_id', line: { command: 'task_claim', id: 'c1' }, message: /invalid task_claim: worker_id/, id: 'c1' },
      {
        label: 'priority as a string',
        line: { command: 'task_add', id: 'p1', task: { id: 'x', priority: 'high' } },
        message: /priority: .*expected number/,
        id: 'p1',
      },
      {
        label: 'task_id as a number',
        line: { command: 'task_complete', id: 'tc', worker_id: 'w1', task_id: 5 },
        message: /invalid task_complete: task_id/,
        id: 'tc',
      },
      { label: 'an unknown status', line: { command: 'task_list', id: 'tl', status: 'bogus' }, message: /invalid task_list: status/, id: 'tl' },
      { label: 'plan_import without tasks', line: { command: 'plan_import', id: 'pi' }, message: /invalid plan_import: tasks/, id: 'pi' },
    ];
    for (const { label, line, message, id } of cases) {
      it(`${label}: an error reply naming it, and the connection stays usable`, async () => {
        const reply = await c.request(line);
        assert.equal(reply.status, 'error', JSON.stringify(reply));
        assert.equal(reply.code, 'INVALID_ARGUMENT');
        assert.match(reply.message, message);
        if (id === undefined) assert.ok(!('id' in reply), 'no id to echo');
        else assert.equal(reply.id, id, 'the request id is echoed');
        await pingAfter(label);
      });
    }

    /** A ping line of exactly `bytes` bytes of UTF-8 (before its newline), padded with `fill`. */
    const pingOfBytes = (bytes: number, fill: string, id: string): string => {
      const head = `{"command":"ping","id":"${id}","pad":"`;
      const room = bytes - Buffer.byteLength(head) - 2;
      const unit = Buffer.byteLength(fill);
      const line = head + fill.repeat(Math.floor(room / unit)) + 'a'.repeat(room % unit) + '"}';
      assert.equal(Buffer.byteLength(line), bytes);
      return line;
    };

    it('a line over 1 MiB is refused (ASCII or multi-byte), and the connection stays usable', async () => {
      const MiB = 1024 * 1024;
      c.write(pingOfBytes(MiB, 'x', 'at-limit'));
      const atLimit = await c.next();
      assert.deepEqual([atLimit.id, atLimit.status], ['at-limit', 'ok'], 'exactly 1 MiB is allowed');

      c.write({ command: 'task_add', id: 'big', task: { id: 'big', description: 'x'.repeat(MiB) } });
      const ascii = await c.next();
      assert.equal(ascii.status, 'error');
      assert.match(ascii.message, /message too long: a line may be at most 1048576 bytes/);
      await pingAfter('an oversized ASCII line');

      // Just over 1 MiB of UTF-8, but only ~512 k UTF-16 characters: the limit is in bytes.
      c.write(pingOfBytes(MiB + 10, 'é', 'wide'));
      const wide = await c.next();
      assert.equal(wide.status, 'error', `a line of 1 MiB + 10 bytes of UTF-8 is refused, got ${JSON.stringify(wide).slice(0, 200)}`);
      assert.match(wide.message, /message too long/);
      await pingAfter('an oversized multi-byte line');
      assert.deepEqual((await c.ok({ command: 'task_list' })).tasks, [], 'nothing from the refused lines was stored');
    });

    it('pipelined requests on one connection are answered in order, ids echoed', async () => {
      const n = 150;
      const requests = Array.from({ length: n }, (_, i) =>
        i % 3 === 0
          ? { command: 'ping', id: i }
          : i % 3 === 1
            ? { command: 'task_get', task_id: `missing-${i}`, id: `s${i}` }
            : { command: 'task_add', task: { id: `p${i}` }, id: i },
      );
      c.socket.write(requests.map((r) => JSON.stringify(r) + '\n').join(''));
      for (let i = 0; i < n; i++) {
        const reply = await c.next();
        assert.equal(reply.id, requests[i]!.id, `reply ${i} out of order`);
        assert.equal(reply.status, i % 3 === 1 ? 'error' : 'ok');
        if (i % 3 === 2) assert.equal(reply.data.task.id, `p${i}`);
      }
      assert.equal((await c.ok({ command: 'task_list' })).tasks.length, n / 3);
    });
  });

  describe('subscribe', () => {
    it('a subscriber receives event lines for claims and completions', async () => {
      const filtered = await d.connect();
      const all = await d.connect();
      const sub = await filtered.request({ command: 'subscribe', events: ['task:claimed', 'task:completed'], id: 'sub' });
      assert.deepEqual([sub.status, sub.id, sub.data], ['ok', 'sub', { subscribed: true }]);
      await all.ok({ command: 'subscribe' });

      await c.ok({ command: 'task_add', task: { id: 'e1' } });
      await claim(c, 'w1');
      await c.ok({ command: 'task_complete', worker_id: 'w1', task_id: 'e1', result: 42 });

      const claimed = await filtered.next();
      assert.equal(claimed.event, 'task:claimed');
      assert.deepEqual([claimed.data.task.id, claimed.data.worker_id, claimed.data.is_retry], ['e1', 'w1', false]);
      assert.ok(!Number.isNaN(Date.parse(claimed.ts)));
      const completed = await filtered.next();
      assert.equal(completed.event, 'task:completed');
      assert.deepEqual([completed.data.task.id, completed.data.task.result], ['e1', 42]);

      const seen = [await all.next(), await all.next(), await all.next()].map((e) => e.event);
      assert.deepEqual(seen, ['task:added', 'task:claimed', 'task:completed']);
    });
  });

  describe('the harness CLI', () => {
    it('task claim and task complete: exit codes, one JSON document on stdout', async () => {
      assert.equal((await runCli(['task', 'add', '--id', 'c1', '--description', 'via the CLI'], d.env)).code, 0);
      const claimed = await runCli(['task', 'claim'], d.env);
      assert.equal(claimed.code, 0, claimed.stderr);
      const worker = fs.readFileSync(path.join(d.dir, 'worker-id'), 'utf8').trim();
      assert.deepEqual([claimed.json.status, claimed.json.data.task.id, claimed.json.data.task.claimed_by], ['ok', 'c1', worker]);
      assert.equal(claimed.json.data.is_retry, false);
      assert.equal((await runCli(['task', 'claim'], d.env)).json.data.is_retry, true, 'the same worker on the next call');

      const stale = await runCli(['task', 'complete', '--id', 'c1', '--token', '99'], d.env);
      assert.equal(stale.code, 1);
      assert.equal(stale.json.code, 'STALE_FENCING_TOKEN');

      const done = await runCli(['task', 'complete', '--id', 'c1', '--result', '{"lines": 3}'], d.env);
      assert.equal(done.code, 0, done.stderr);
      assert.deepEqual([done.json.data.task.status, done.json.data.task.result], ['completed', { lines: 3 }]);

      const again = await runCli(['task', 'complete', '--id', 'c1'], d.env);
      assert.equal(again.code, 1);
      assert.deepEqual([again.json.status, again.json.code], ['error', 'NOT_CLAIMED_BY']);
      assert.match(again.json.message, /not claimed by/);
      assert.match(again.stderr, /not claimed by/);

      const empty = await runCli(['task', 'claim'], d.env);
      assert.deepEqual([empty.code, empty.json.data.task], [0, null]);
    });

    it('plan import rejects a cycle and stores nothing', async () => {
      const plan = path.join(d.dir, 'plan.json');
      const tasks = [{ id: 'a', dependencies: ['c'] }, { id: 'b', dependencies: ['a'] }, { id: 'c', dependencies: ['b'] }, { id: 'free' }];
      fs.writeFileSync(plan, JSON.stringify({ tasks }));
      const r = await runCli(['plan', 'import', plan], d.env);
      assert.equal(r.code, 1);
      assert.deepEqual([r.json.status, r.json.code], ['error', 'CYCLE']);
      assert.match(r.json.message, /cycle/);
      assert.match(r.stderr, /cycle/);
      const list = await runCli(['task', 'list'], d.env);
      assert.deepEqual(list.json.data.tasks, [], 'all or nothing');
    });

    it('plan import reads YAML (path relative to the cwd)', async () => {
      fs.writeFileSync(
        path.join(d.dir, 'plan.yaml'),
        ['tasks:', '  - id: fetch', '    description: fetch sources', '    priority: 5', '  - id: compile', '    dependencies: [fetch]', '    timeout_seconds: 30', '    payload: {cmd: make}', ''].join('\n'),
      );
      const r = await runCli(['plan', 'import', 'plan.yaml'], d.env, d.dir);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json.data, { count: 2, task_ids: ['fetch', 'compile'] });
      const { tasks } = (await runCli(['task', 'list'], d.env)).json.data;
      const compile = tasks.find((t: { id: string }) => t.id === 'compile');
      assert.deepEqual([compile.dependencies, compile.timeout_seconds, compile.payload], [['fetch'], 30, { cmd: 'make' }]);
      assert.equal(tasks.find((t: { id: string }) => t.id === 'fetch').priority, 5);
    });

    it('worker-id is created in HARNESS_WORKER_ID_FILE and stable across calls, even concurrent first calls', async () => {
      const file = path.join(d.dir, 'nested', 'dir', 'worker-id');
      const env = childEnv({ HARNESS_WORKER_ID_FILE: file });
      const first = await Promise.all(Array.from({ length: 8 }, () => runCli(['worker-id'], env)));
      const later = await runCli(['worker-id'], env);
      const ids = [...first, later].map((r) => {
        assert.equal(r.code, 0, r.stderr);
        return r.stdout.trim();
      });
      assert.match(ids[0]!, /^\S+$/);
      assert.deepEqual(new Set(ids), new Set([ids[0]]), `one id for every call: ${ids.join(' ')}`);
      assert.equal(fs.readFileSync(file, 'utf8').trim(), ids[0]);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.equal((await runCli(['worker-id'], { ...env, HARNESS_WORKER_ID: 'explicit' })).stdout.trim(), 'explicit');
    });

    it('an empty worker-id file (a crash mid-write) is replaced, not used as an empty id', async () => {
      const file = path.join(d.dir, 'empty-worker-id');
      fs.writeFileSync(file, '');
      const env = childEnv({ HARNESS_WORKER_ID_FILE: file });
      const r = await runCli(['worker-id'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout.trim(), /^worker-\S+$/);
      assert.equal(fs.readFileSync(file, 'utf8').trim(), r.stdout.trim());
      assert.deepEqual(fs.readdirSync(d.dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left behind');
    });

    describe('usage errors', () => {
      const usage = async (args: string[], message: RegExp, usageLine: string) => {
        const r = await runCli(args, d.env);
        assert.equal(r.code, 2, `exit code of harness ${args.join(' ')}`);
        assert.deepEqual([r.json.status, r.json.code], ['error', 'USAGE']);
        assert.match(r.json.message, message);
        assert.match(r.stderr, message);
        assert.ok(r.stderr.includes(`usage: ${usageLine}`), r.stderr);
      };

      it('an unknown flag', () => usage(['task', 'claim', '--bogus'], /unknown option --bogus; this command takes --capability/, 'harness task claim'));
      it('--result that is not JSON', () =>
        usage(['task', 'complete', '--id', 'c1', '--result', '{oops'], /--result must be JSON, got "\{oops"/, 'harness task complete --id ID'));
      it('a missing --id', () => usage(['task', 'complete'], /--id is required/, 'harness task complete --id ID'));
      it('an unknown command', async () => {
        const r = await runCli(['task', 'frobnicate'], d.env);
        assert.equal(r.code, 2);
        assert.match(r.json.message, /unknown command "task frobnicate"; task takes: claim, complete/);
      });

      it('no coordinator listening: exit 1 after retrying, saying how to start one', async () => {
        const env = childEnv({ HARNESS_SOCKET: path.join(tempDir(), 'none.sock'), HARNESS_WORKER_ID: 'w1' });
        const started = Date.now();
        const r = await runCli(['task', 'claim'], env);
        assert.equal(r.code, 1);
        assert.ok(Date.now() - started >= 1_000, 'it retried for a while first');
        assert.equal(r.json.status, 'error');
        assert.match(r.json.message, /no coordinator is listening on .*none\.sock.*start one with `harness serve --workspace <dir>`/);
        assert.match(r.stderr, /harness serve/);
      });
    });
  });
});

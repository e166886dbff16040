// Protocol fuzzing against a live `harness serve`: random and mutated lines (broken JSON, wrong
// types, huge values, deep nesting, unknown and prototype-named commands, invalid UTF-8, blank
// lines, half-written lines, abrupt disconnects, mutations of valid requests), pipelined on fresh
// connections, written in random pieces. The server must never crash, must answer every complete
// line exactly once and in order (a line with an id gets it back), keep its memory bounded, and
// leave the state exactly as it was: only invalid or read-only requests are sent (a line the
// filter cannot prove harmless is broken on purpose before it goes out).
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import fc from 'fast-check';
import { HarnessClient } from '../../src/client/client';
import { COMMAND_NAMES, findCommand } from '../../src/protocol/catalog';
import type { AnyCommand } from '../../src/protocol/command';
import { InstanceDeregister, InstanceHeartbeat, InstanceList } from '../../src/protocol/instances';
import { MAX_LINE_BYTES, paramsOf, RequestEnvelope } from '../../src/protocol/messages';
import { TaskCancel, TaskFail, TaskHeartbeat, TaskRelease, TaskRetry } from '../../src/protocol/tasks';
import { cleanupAll, ensureCliBuilt, ServeProcess, tempDir, within } from '../support/harness-process';
import { FULL, rssMb, scale, seedFromEnv } from '../support/reliability';
import { InstanceRegister } from '../../src/protocol/instances';
import { Ping } from '../../src/protocol/meta';
import { RunFinish, RunList, RunOutput, RunStart } from '../../src/protocol/runs';
import { PlanImport, Status, TaskClaim, TaskComplete, TaskList } from '../../src/protocol/tasks';

const MESSAGES = scale(40_000, 300_000);
const MAX_BATCH = 60;
const RSS_GROWTH_LIMIT_MB = 150;

/** Commands that never change state. Everything else is sent only when provably invalid. */
const READ_ONLY = new Set(['ping', 'task_get', 'task_list', 'status', 'instance_list', 'run_list', 'run_log', 'subscribe', 'lock_list', 'state_get', 'state_list']);

/** Could these parameters pass the command's schema (the dispatcher's one check)? */
const valid = (command: AnyCommand, params: Record<string, unknown>) => command.params.safeParse(params).success;
const holdsR1 = (p: Record<string, unknown>) => p.worker_id === 'holder' && p.task_id === 'r1';
/**
 * Mutating commands whose valid requests are refused anyway, whatever their values: only the
 * seeded running task r1, held by "holder", can be heartbeaten, released, completed or failed (the
 * state never changes, so this stays true). Any other mutation that passes its schema might succeed.
 */
const REFUSED_ANYWAY: Record<string, (p: Record<string, unknown>) => boolean> = {
  task_heartbeat: (p) => !holdsR1(p),
  task_release: (p) => !holdsR1(p),
  task_complete: (p) => !holdsR1(p),
  task_fail: (p) => !holdsR1(p),
};
// The set above is judged against these commands' schemas; keep them in the catalog.
for (const c of [TaskHeartbeat, TaskRelease, TaskFail, TaskRetry, TaskCancel, InstanceHeartbeat, InstanceDeregister]) assert.ok(findCommand(c.name));

/**
 * What the server makes of a line: whether it answers, and with which id; a notification (no
 * reply) that is refused is told as one `notification:failed` event instead (`notice`).
 */
function expectation(line: Buffer): { reply: boolean; notice?: boolean; id?: string | number; harmless: boolean } {
  if (line.length > MAX_LINE_BYTES) return { reply: true, harmless: true };
  const text = line.toString('utf8');
  if (text.trim() === '') return { reply: false, harmless: true };
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { reply: true, harmless: true };
  }
  let id: string | number | undefined;
  if (msg && typeof msg === 'object' && !Array.isArray(msg)) {
    const raw = (msg as { id?: unknown }).id;
    if (typeof raw === 'string' || typeof raw === 'number') id = raw;
  }
  const envelope = RequestEnvelope.safeParse(msg);
  if (!envelope.success) return { reply: true, id, harmless: true };
  const command = findCommand(envelope.data.command);
  if (!command || READ_ONLY.has(command.name)) return { reply: true, id, harmless: true };
  let mayChange = true;
  try {
    // Judged on what the dispatcher gets: the envelope's output (which, e.g., drops "__proto__" keys).
    const params = paramsOf(envelope.data);
    mayChange = valid(command, params) && !(REFUSED_ANYWAY[command.name]?.(params) ?? false);
  } catch {
    // e.g. too deep for the schema here: it might not be for the server, so count it as a change
  }
  if (command.kind === 'notification') return { reply: false, notice: true, harmless: !mayChange };
  return { reply: true, id, harmless: !mayChange };
}

// ---- generators ----

const FIELDS = [
  'command', 'id', 'worker_id', 'task_id', 'fencing_token', 'result', 'error', 'retry', 'task', 'tasks', 'status', 'events',
  'run_id', 'stream', 'data', 'argv', 'cwd', 'capabilities', 'name', 'pid', 'path', 'ttl_seconds', 'token', 'key', 'value',
  'resources', '__proto__', 'constructor',
];
const commandNames = [...COMMAND_NAMES];
const weird = fc.constantFrom(
  '', ' ', '\u0000', '\u2028', '\ud800', '../../../etc/passwd', '/etc/passwd', 'a'.repeat(201), '__proto__', 'constructor',
  'toString', 'hasOwnProperty', 'NaN', '-0', '1e400', 'holder', 'p1', 'r1', 'run-fixed', 'x\ny',
);
const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -0, 1e308, -1e308, 2 ** 53, -(2 ** 53), 0.1, 1e-320));
const value: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 4 }), weight: 5 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 3 },
  { arbitrary: weird, weight: 3 },
  { arbitrary: number, weight: 2 },
  { arbitrary: fc.constantFrom(null, true, false, [], {}), weight: 2 },
  { arbitrary: fc.integer({ min: 10_000, max: 300_000 }).map((n) => 'y'.repeat(n)), weight: 1 },
);
/** Requests shaped like the real ones, with random field values. */
const shaped = fc
  .record({
    command: fc.oneof({ arbitrary: fc.constantFrom(...commandNames), weight: 8 }, { arbitrary: fc.oneof(weird, fc.string({ maxLength: 30 })), weight: 2 }),
    fields: fc.dictionary(fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 8 })), value, { maxKeys: 5 }),
  })
  .map(({ command, fields }) => JSON.stringify({ ...fields, command }));
/** Valid requests, then damaged as text: cut, a byte changed, a character inserted. */
const templates = fc.constantFrom(
  { command: 'task_complete', worker_id: 'holder', task_id: 'r1', fencing_token: 1, result: { ok: true } },
  { command: 'task_claim', worker_id: 'fuzz-worker' },
  { command: 'task_add', task_id: 'new-task', description: 'x' },
  { command: 'plan_import', tasks: [{ id: 'new-a' }, { id: 'new-b', dependencies: ['new-a'] }] },
  { command: 'task_cancel', task_id: 'p1' },
  { command: 'instance_register', worker_id: 'fuzz-instance' },
  { command: 'run_start', argv: ['true'] },
  { command: 'task_get', task_id: 'p1', id: 7 },
  { command: 'task_list', status: 'pending', id: 'list' },
  { command: 'status' },
  { command: 'subscribe', events: ['task:added'] },
);
const mutated = fc
  .record({ t: templates, cut: fc.nat(), pos: fc.nat(), ch: fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }), how: fc.nat({ max: 3 }) })
  .map(({ t, cut, pos, ch, how }) => {
    const s = JSON.stringify(t);
    if (how === 0) return s.slice(0, cut % s.length);
    if (how === 1) return s.slice(0, pos % s.length) + ch + s.slice(pos % s.length);
    if (how === 2) return s.slice(0, pos % s.length) + s.slice((pos % s.length) + 1);
    return s.replace(/"[a-z_]+":/, `"${ch}":`);
  });
/** Valid requests with one field's value replaced by something of another type. */
const retyped = fc.record({ t: templates, v: value, k: fc.nat() }).map(({ t, v, k }) => {
  const keys = Object.keys(t).filter((x) => x !== 'command');
  const copy: Record<string, unknown> = { ...t };
  if (keys.length > 0) copy[keys[k % keys.length]!] = v;
  return JSON.stringify(copy);
});
const deep = fc.record({ depth: fc.integer({ min: 100, max: 200_000 }), kind: fc.nat({ max: 2 }) }).map(({ depth, kind }) => {
  const nest = kind === 1 ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + ']'.repeat(depth);
  return kind === 2 ? nest : `{"command":"task_complete","worker_id":"holder","task_id":"nope","result":${nest}}`;
});
const huge = fc.integer({ min: MAX_LINE_BYTES - 100, max: MAX_LINE_BYTES + 200_000 }).map((n) => `{"command":"ping","pad":"${'z'.repeat(n)}"}`);

const line: fc.Arbitrary<Buffer> = fc.oneof(
  { arbitrary: shaped.map((s) => Buffer.from(s)), weight: 300 },
  { arbitrary: mutated.map((s) => Buffer.from(s)), weight: 250 },
  { arbitrary: retyped.map((s) => Buffer.from(s)), weight: 150 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')), weight: 80 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 80 }).map((s) => Buffer.from(s)), weight: 80 },
  { arbitrary: fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)), weight: 60 },
  { arbitrary: fc.constantFrom(' ', '\t', '\r', '', '   \u00a0', '{}', '[]', 'null', '"ping"', '{"command":""}', '{"command":"ping","id":null}').map((s) => Buffer.from(s)), weight: 50 },
  { arbitrary: deep.map((s) => Buffer.from(s)), weight: 3 },
  { arbitrary: huge.map((s) => Buffer.from(s)), weight: 1 },
).map((b) => {
  // A line never holds its own newline (that would be two lines); make the harmless-or-broken rule hold.
  let out = b.includes(0x0a) ? Buffer.from(b.toString('latin1').replace(/\n/g, ' '), 'latin1') : b;
  if (!expectation(out).harmless) out = Buffer.concat([out, Buffer.from('#not-json')]);
  return out;
});

const batch = fc.record({
  lines: fc.array(line, { minLength: 1, maxLength: MAX_BATCH, size: 'max' }),
  /** normal: read every reply; cut: end with half a line and hang up; drop: hang up without reading. */
  end: fc.oneof({ arbitrary: fc.constant('normal' as const), weight: 17 }, { arbitrary: fc.constant('cut' as const), weight: 2 }, { arbitrary: fc.constant('drop' as const), weight: 1 }),
  pieces: fc.array(fc.nat(), { maxLength: 6 }),
});

// ---- the connection side ----

let sentinelSeq = 0;

/** Writes the lines (in random pieces) and a sentinel ping; resolves with every reply line up to the sentinel's. */
async function exchange(socketPath: string, lines: Buffer[], end: 'normal' | 'cut' | 'drop', pieces: number[]): Promise<unknown[] | undefined> {
  const sentinel = `sentinel-${++sentinelSeq}`;
  const payload = Buffer.concat([
    ...lines.flatMap((l) => [l, Buffer.from('\n')]),
    end === 'cut' ? Buffer.from('{"command":"ping","id":"half-writ') : Buffer.from(`{"command":"ping","id":"${sentinel}"}\n`),
  ]);
  const socket = net.connect(socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const cuts = [...new Set(pieces.map((p) => p % payload.length))].sort((a, b) => a - b);
  let at = 0;
  for (const c of [...cuts, payload.length]) {
    if (c > at) socket.write(payload.subarray(at, c));
    at = c;
  }
  if (end !== 'normal') {
    socket.destroy();
    return undefined;
  }
  return within(
    new Promise<unknown[]>((resolve, reject) => {
      const replies: unknown[] = [];
      let buffer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) !== -1) {
          const text = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          let reply: { id?: unknown };
          try {
            reply = JSON.parse(text) as { id?: unknown };
          } catch {
            return reject(new Error(`the server sent a line that is not JSON: ${text.slice(0, 200)}`));
          }
          replies.push(reply);
          if (reply.id === sentinel) {
            socket.destroy();
            return resolve(replies);
          }
        }
      });
      socket.on('error', reject);
      socket.on('close', () => reject(new Error(`the server closed the connection before the sentinel's reply (${replies.length} replies)`)));
    }),
    30_000,
    'the sentinel reply',
  );
}

async function stateOf(client: HarnessClient): Promise<unknown> {
  const [tasks, instances, runs, status] = await Promise.all([
    client.call(TaskList),
    client.call(InstanceList),
    client.call(RunList),
    client.call(Status),
  ]);
  // Ages move with the clock; everything else must not move at all.
  const steady = instances.instances.map(({ last_seen_age_ms: _a, ...rest }) => rest);
  return { tasks, instances: steady, runs, status };
}

describe('reliability: protocol fuzzing', function () {
  this.timeout(scale(240_000, 1_200_000));
  afterEach(cleanupAll);

  it(`answers ~${MESSAGES} random and mutated lines one for one, never crashes, keeps memory and state`, async () => {
    ensureCliBuilt();
    const dir = tempDir('hrel-');
    const socket = path.join(dir, 'h.sock');
    const serve = ServeProcess.spawn(['--worktree', dir, '--socket', socket, '--stale-timeout', '86400']);
    await within(serve.ready, 20_000, 'harness serve');

    // Some state of every kind, so that invalid requests have something to damage.
    const client = await HarnessClient.connect(socket);
    await client.call(PlanImport, {
      tasks: [
        { id: 'p1', description: 'pending' },
        { id: 'p2', dependencies: ['p1'] },
        { id: 'r1', timeout_seconds: 600_000, priority: 5 },
        { id: 'c1', priority: 10 },
      ],
    });
    await client.call(InstanceRegister, { worker_id: 'holder', name: 'holder' });
    const c1 = await client.call(TaskClaim, { worker_id: 'holder' });
    assert.equal(c1.task?.id, 'c1');
    await client.call(TaskComplete, { worker_id: 'holder', task_id: 'c1', fencing_token: c1.task!.fencing_token });
    const r1 = await client.call(TaskClaim, { worker_id: 'holder' });
    assert.equal(r1.task?.id, 'r1', 'r1 stays running, held by holder');
    const { run } = await client.call(RunStart, { argv: ['echo', 'hi'], run_id: 'run-fixed' });
    client.notify(RunOutput, { run_id: run.run_id, stream: 'stdout', data: 'hi\n' });
    await client.call(RunFinish, { run_id: run.run_id, result: { returncode: 0 } });
    const before = await stateOf(client);

    const rssStart = rssMb(serve.pid);
    let rssMax = rssStart;
    let sent = 0;
    let replies = 0;
    let internal = 0;
    const internalSamples: string[] = [];
    const seed = seedFromEnv();
    const runs = Math.ceil(MESSAGES / ((MAX_BATCH + 1) / 2));
    const started = Date.now();

    await fc.assert(
      fc.asyncProperty(batch, async ({ lines, end, pieces }) => {
        sent += lines.length;
        const received = await exchange(socket, lines, end, pieces);
        if (sent % 2000 < lines.length) rssMax = Math.max(rssMax, rssMb(serve.pid));
        if (!received) return;
        const expected = lines.map(expectation).filter((e) => e.reply);
        const notices = lines.map(expectation).filter((e) => e.notice).length;
        // one reply per complete line, plus the sentinel's; in order: a line's id comes back on its reply
        const isEvent = (r: unknown) => !!r && typeof r === 'object' && 'event' in r;
        const events = received.filter(isEvent) as Array<{ event: string }>;
        const refusals = events.filter((e) => e.event === 'notification:failed');
        assert.deepEqual(events.filter((e) => e.event !== 'notification:failed'), [], 'an event reached a subscriber: something changed the state');
        assert.equal(refusals.length, notices, 'each refused notification is told once, as an event, not as a reply');
        const got = received.filter((r) => !isEvent(r));
        if (got.length !== expected.length + 1) {
          const answerable = lines.filter((l) => expectation(l).reply);
          assert.fail(
            `${got.length - 1} replies for ${expected.length} answerable lines:\n` +
              got.map((r, i) => `${i}: ${JSON.stringify(r).slice(0, 160)}  ←  ${answerable[i]?.toString('utf8').slice(0, 100) ?? '(sentinel)'}`).join('\n'),
          );
        }
        expected.forEach((e, i) => {
          const r = got[i] as { status?: unknown; id?: unknown; code?: unknown; message?: unknown };
          assert.ok(r.status === 'ok' || r.status === 'error', `reply ${i} has no status: ${JSON.stringify(r).slice(0, 300)}`);
          if (e.id !== undefined) assert.equal(JSON.stringify(r.id), JSON.stringify(e.id), `reply ${i} carries the wrong id`);
          if (r.code === 'INTERNAL') {
            internal++;
            if (internalSamples.length < 5) internalSamples.push(`${String(r.message).slice(0, 200)} ← ${lines.filter((l) => expectation(l).reply)[i]!.toString('utf8').slice(0, 120)}`);
          }
        });
        replies += got.length;
      }),
      { numRuns: runs, seed, endOnFailure: true, ...(process.env.HARNESS_FUZZ_PATH ? { path: process.env.HARNESS_FUZZ_PATH } : {}) },
    );

    assert.equal(serve.child.exitCode, null, `harness serve died:\n${serve.stderr.slice(-3000)}`);
    const after = await stateOf(client);
    assert.deepEqual(after, before, 'invalid and read-only requests changed the state');
    await client.call(Ping);
    await new Promise((r) => setTimeout(r, 500));
    const rssEnd = rssMb(serve.pid);
    client.close();
    console.log(
      `      ${sent} lines in ${runs} batches, ${replies} replies, ${((Date.now() - started) / 1000).toFixed(1)} s, ` +
        `server RSS ${rssStart.toFixed(0)} → max ${rssMax.toFixed(0)} → ${rssEnd.toFixed(0)} MB, INTERNAL replies ${internal}, seed ${seed}`,
    );
    assert.ok(rssEnd - rssStart < RSS_GROWTH_LIMIT_MB, `server RSS grew from ${rssStart.toFixed(0)} to ${rssEnd.toFixed(0)} MB`);
    assert.equal(internal, 0, `invalid requests got INTERNAL errors instead of a clear INVALID_ARGUMENT:\n${internalSamples.join('\n')}`);
    const stopped = await serve.stop('SIGTERM');
    assert.equal(stopped.code, 0, `harness serve exited with ${stopped.code}:\n${serve.stderr.slice(-3000)}`);
    if (FULL) assert.ok(sent >= MESSAGES * 0.8, `only ${sent} lines were sent`);
  });
});

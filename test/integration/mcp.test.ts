// `harness mcp` as coding agents run it: a real MCP client from the official SDK over real stdio,
// against a real `harness serve`. Waits are on events and log lines, never on sleeps.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import Ajv2020 from 'ajv/dist/2020';
import { DEFAULT_TOOLS } from '../../src/mcp/tools';
import {
  childEnv,
  cleanupAll,
  ensureCliBuilt,
  RawConnection,
  runCli,
  ServeProcess,
  tempDir,
  within,
} from '../support/harness-process';
import { killMcpWorkers, startMcpWorker } from '../support/mcp';

/** A worker's heartbeat in these tests: well inside the serve's 1 s stale timeout. */
const HEARTBEAT = ['--heartbeat', '0.2'];

describe('harness mcp (an SDK client over stdio against harness serve)', function () {
  this.timeout(60_000);
  let dir: string;
  let socket: string;
  let serve: ServeProcess;
  let raw: RawConnection;

  before(function () {
    this.timeout(180_000);
    ensureCliBuilt();
  });

  const startServe = async () => {
    serve = ServeProcess.spawn(['--workspace', dir, '--socket', socket, '--stale-timeout', '1']);
    await within(serve.ready, 20_000, `harness serve ready\n${serve.stderr}`);
    raw = await RawConnection.connect(socket);
  };

  beforeEach(async () => {
    dir = tempDir();
    socket = path.join(dir, 'h.sock');
    await startServe();
  });
  afterEach(async () => {
    await killMcpWorkers();
    await cleanupAll();
  });

  const worker = (workerId: string, args: string[] = []) => startMcpWorker({ socket, workerId, cwd: dir, args: [...HEARTBEAT, ...args] });
  const task = async (id: string) => (await raw.ok({ command: 'task_get', task_id: id })).task;
  /** The next event line of the given name on a subscribed connection. */
  const nextEvent = async (conn: RawConnection, name: string): Promise<any> => {
    for (;;) {
      const line = await conn.next(20_000);
      if (line.event === name) return line;
    }
  };

  it('lists the default tools, each with a valid JSON Schema; --tools all lists the rest too', async () => {
    // Strict: an unknown keyword is an error. `uri` is a standard format; ajv needs it named to know it.
    const ajv = new Ajv2020({ strict: true, formats: { uri: true } });
    const w = await worker('w1');
    const { tools } = await w.client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), [...DEFAULT_TOOLS].sort());
    for (const t of tools) {
      assert.ok(t.description && t.description.length < 200, `${t.name}: a short description`);
      assert.doesNotThrow(() => ajv.compile(t.inputSchema), `${t.name}: its inputSchema compiles`);
      assert.equal(t.inputSchema.type, 'object');
      for (const filled of ['worker_id', 'fencing_token']) assert.ok(!(filled in (t.inputSchema.properties ?? {})), `${t.name} does not ask for ${filled}`);
    }
    const everything = await worker('w2', ['--tools', 'all']);
    const all = (await everything.client.listTools()).tools;
    assert.ok(all.length > tools.length + 20, `--tools all lists ${all.length}`);
    for (const t of all) assert.doesNotThrow(() => ajv.compile(t.inputSchema), `${t.name}: its inputSchema compiles`);
    for (const hidden of ['subscribe', 'run_output', 'instance_register', 'task_heartbeat']) assert.ok(!all.some((t) => t.name === hidden), hidden);
    const picked = await worker('w3', ['--tools', 'default,state_get']);
    assert.deepEqual((await picked.client.listTools()).tools.map((t) => t.name).sort(), [...DEFAULT_TOOLS, 'state_get'].sort());
  });

  it('registers as the worker, claims, reports progress and completes: the agent passes task ids only', async () => {
    const w = await worker('w1');
    await w.stderrMatch(/registered as w1/);
    const instances = (await raw.ok({ command: 'instance_list' })).instances;
    assert.deepEqual(instances.map((i: any) => [i.worker_id, i.status, i.pid]), [['w1', 'live', w.pid]]);

    await raw.ok({ command: 'task_add', task: { id: 'a', description: 'write the parser' } });
    const claim = await w.ok('task_claim');
    assert.deepEqual([claim.task.id, claim.task.claimed_by], ['a', 'w1']);
    const progress = await w.ok('task_progress', { task_id: 'a', percent: 40, message: 'lexer done' });
    assert.equal(progress.task.progress.percent, 40);
    assert.deepEqual((await task('a')).progress.message, 'lexer done');
    const done = await w.ok('task_complete', { task_id: 'a', result: { files: 3 } });
    assert.deepEqual([done.task.status, done.task.result], ['completed', { files: 3 }]);
    assert.deepEqual(await w.ok('task_claim'), { task: null, is_retry: false, is_reclaim: false });
  });

  it('task_complete and task_fail carry usage: kept on the attempt, with the MCP client as the agent, priced when no cost is given', async () => {
    const w = await worker('w1');
    await raw.ok({ command: 'task_add', task: { id: 'a', max_attempts: 2, retry_backoff: { strategy: 'fixed', delay_seconds: 0 } } });
    await w.ok('task_claim');
    // A failed attempt costs too; the agent gave the cost itself.
    await w.ok('task_fail', { task_id: 'a', error: 'tests failed', usage: { model: 'claude-sonnet-4-5', input_tokens: 1000, output_tokens: 200, cost_usd: 0.05 } });
    await w.ok('task_claim');
    // Tokens alone: priced from the bundled table (claude-sonnet-4-5: $3 in, $15 out per million).
    await w.ok('task_complete', { task_id: 'a', usage: { model: 'claude-sonnet-4-5', input_tokens: 1_000_000, output_tokens: 100_000 } });
    const usage = (await task('a')).usage;
    assert.deepEqual(
      usage.map((u: any) => [u.attempt, u.worker_id, u.agent, u.source, u.model, u.cost_usd, u.cost_source]),
      [
        [1, 'w1', 'harness-test', 'mcp', 'claude-sonnet-4-5', 0.05, 'reported'],
        [2, 'w1', 'harness-test', 'mcp', 'claude-sonnet-4-5', 4.5, 'price_table'],
      ],
    );
    const summary = await raw.ok({ command: 'usage_summary', by: 'worker' });
    assert.deepEqual(summary.rows.map((r: any) => [r.key, r.attempts, r.cost_usd]), [['w1', 2, 4.55]]);
    // A bad figure is refused naming the field, and the attempt stays as it was.
    await raw.ok({ command: 'task_add', task: { id: 'b' } });
    await w.ok('task_claim');
    assert.match(await w.error('task_complete', { task_id: 'b', usage: { input_tokens: -1 } }), /^INVALID_ARGUMENT: .*usage\.input_tokens/);
    assert.equal((await task('b')).status, 'running');
  });

  it('a second MCP worker cannot complete the first one\'s task; the error says who holds it', async () => {
    const [w1, w2] = await Promise.all([worker('w1'), worker('w2')]);
    await raw.ok({ command: 'task_add', task: { id: 'a' } });
    await w1.ok('task_claim');
    const refused = await w2.error('task_complete', { task_id: 'a' });
    assert.match(refused, /^NOT_CLAIMED_BY: task a is not claimed by w2 \(held by w1\)/);
    assert.doesNotMatch(refused, /\n\s+at /, 'no stack trace');
    assert.equal((await task('a')).status, 'running');
    await w1.ok('task_complete', { task_id: 'a' });
  });

  it('keeps the fencing token: once the lease was taken over, even under its own id, its completion is refused', async () => {
    const w = await worker('w1');
    await raw.ok({ command: 'task_add', task: { id: 'a' } });
    const claim = await w.ok('task_claim');
    // Another session with the same worker id gives the task back and claims it again: a new lease.
    await raw.ok({ command: 'task_release', worker_id: 'w1', task_id: 'a' });
    const again = await raw.ok({ command: 'task_claim', worker_id: 'w1' });
    assert.equal(again.task.fencing_token, claim.task.fencing_token + 1);
    const refused = await w.error('task_complete', { task_id: 'a' });
    assert.match(refused, /^STALE_FENCING_TOKEN: task a: fencing token 1 is stale \(current 2\); the lease was taken over \(now held by w1\) \(another worker holds the task now; stop working on it and claim the next task\)$/);
    assert.equal((await task('a')).status, 'running');
  });

  it('bad arguments come back as tool errors naming the field', async () => {
    const w = await worker('w1');
    await raw.ok({ command: 'task_add', task: { id: 'a' } });
    await w.ok('task_claim');
    assert.match(await w.error('task_progress', { task_id: 'a', percent: 'lots' }), /^INVALID_ARGUMENT: .*percent: .*number/);
    assert.match(await w.error('task_progress', { task_id: 'a', percent: 500 }), /^INVALID_ARGUMENT: .*percent: /);
    assert.match(await w.error('task_complete', { task_id: 'a', bogus: 1 }), /^INVALID_ARGUMENT: invalid task_complete: bogus: unknown field/);
    assert.match(await w.error('task_complete', { task_id: 'a', worker_id: 'w9' }), /worker_id: filled in by harness mcp \(this worker is w1\)/);
    assert.match(await w.error('task_complete', { task_id: 'a', fencing_token: 7 }), /fencing_token: filled in by harness mcp/);
    assert.match(await w.error('task_add', { task: { id: 'b' } }), /task: unknown field/, 'the tool takes the flat form only');
    assert.match(await w.error('exec', { argv: [] }), /^INVALID_ARGUMENT: .*argv: /);
    assert.match(await w.error('no_such_tool'), /no tool named "no_such_tool"/);
    assert.equal((await task('a')).status, 'running', 'nothing was changed');
  });

  it('closing stdin releases the lease at once (no attempt used) and deregisters', async () => {
    const w = await worker('w1');
    await raw.ok({ command: 'task_add', task: { id: 'a', max_attempts: 5 } });
    await w.ok('task_claim');
    await w.client.close(); // ends the server's stdin, then waits for it to exit
    const t = await task('a');
    assert.deepEqual([t.status, t.claimed_by], ['pending', null], 'released before the server exited');
    assert.match(w.stderr, /the MCP client closed stdin/);
    assert.match(w.stderr, /released task a/);
    assert.deepEqual((await raw.ok({ command: 'instance_list' })).instances, []);
    const again = await raw.ok({ command: 'task_claim', worker_id: 'w2' });
    assert.deepEqual([again.task.id, again.task.attempts, again.is_reclaim], ['a', 1, false], 'the release used up no attempt');
  });

  it('keeps its lease alive in the background; killed, it loses it by the stale timeout', async () => {
    const events = await RawConnection.connect(socket);
    await events.ok({ command: 'subscribe', events: ['task:heartbeat', 'instance:stale'] });
    const w = await worker('w1');
    await raw.ok({ command: 'task_add', task: { id: 'a', timeout_seconds: 1 } });
    await w.ok('task_claim');
    // The lease is 1 s and the stale timeout 1 s: renewals must run on their own past both.
    const first = await nextEvent(events, 'task:heartbeat');
    let last = first;
    while (Date.parse(last.ts) - Date.parse(first.ts) < 2500) last = await nextEvent(events, 'task:heartbeat');
    assert.deepEqual([(await task('a')).status, (await task('a')).claimed_by], ['running', 'w1']);

    process.kill(w.pid, 'SIGKILL');
    const stale = await nextEvent(events, 'instance:stale');
    assert.deepEqual([stale.data.instance.worker_id, stale.data.freed_tasks], ['w1', ['a']]);
    const taken = await raw.ok({ command: 'task_claim', worker_id: 'w2' });
    assert.deepEqual([taken.task.id, taken.is_reclaim], ['a', true], 'another worker takes it over');
  });

  it('survives the coordinator restarting: reconnects, registers again, keeps its lease', async () => {
    const w = await worker('w1');
    await raw.ok({ command: 'task_add', task: { id: 'a', timeout_seconds: 60 } });
    const claim = await w.ok('task_claim');
    await serve.stop('SIGTERM');
    await startServe();
    await w.stderrMatch(/registered again as w1/);
    const progress = await w.ok('task_progress', { task_id: 'a', percent: 90 });
    assert.deepEqual([progress.task.claimed_by, progress.task.fencing_token], ['w1', claim.task.fencing_token]);
    await w.ok('task_complete', { task_id: 'a' });
    assert.equal((await task('a')).status, 'completed');
  });

  it('locks: acquired and released by path, the lock renewed in the background past its TTL', async () => {
    const events = await RawConnection.connect(socket);
    await events.ok({ command: 'subscribe', events: ['lock:renewed'] });
    const [w1, w2] = await Promise.all([worker('w1'), worker('w2')]);
    const { lock } = await w1.ok('lock_acquire', { path: 'src/a.ts', ttl_seconds: 0.6 });
    assert.deepEqual([lock.path, lock.worker_id], ['src/a.ts', 'w1']);
    const first = await nextEvent(events, 'lock:renewed');
    let last = first;
    while (Date.parse(last.ts) - Date.parse(first.ts) < 1200) last = await nextEvent(events, 'lock:renewed');
    assert.match(await w2.error('lock_acquire', { path: 'src/a.ts' }), /held by w1/);
    const { released } = await w1.ok('lock_release', { path: 'src/a.ts' });
    assert.equal(released.length, 1);
    assert.equal((await w2.ok('lock_acquire', { path: 'src/a.ts' })).lock.worker_id, 'w2');
  });

  it('messages: send to another worker, receive and acknowledge', async () => {
    const [w1, w2] = await Promise.all([worker('w1'), worker('w2')]);
    const sent = await w1.ok('message_send', { to: 'w2', body: { hello: 'there' } });
    const { messages } = await w2.ok('message_receive');
    assert.deepEqual(messages.map((m: any) => [m.id, m.from, m.body]), [[sent.message_id, 'w1', { hello: 'there' }]]);
    await w2.ok('message_ack', { message_id: sent.message_id });
    assert.deepEqual((await w2.ok('message_receive')).messages, []);
  });

  it('exec ends by its timeout, sends progress when asked, and returns the status and a bounded tail', async () => {
    const w = await worker('w1', ['--kill-after', '0.5']);
    const progress: Array<{ progress: number; total?: number; message?: string }> = [];
    const result = await w.client.callTool(
      { name: 'exec', arguments: { argv: [process.execPath, '-e', 'setInterval(() => console.log("tick " + "x".repeat(100)), 20)'], timeout_seconds: 1.5 } },
      { onprogress: (p) => progress.push(p) },
    );
    assert.ok(!result.isError);
    const r = JSON.parse((result.content as Array<{ text: string }>)[0]!.text);
    assert.deepEqual([r.timed_out, r.signal_name], [true, 'SIGTERM']);
    assert.ok(r.stdout_tail.length <= 4000 && r.stdout_tail.includes('tick'), 'a bounded tail of the output');
    assert.ok(r.stdout_bytes > r.stdout_tail.length, 'more was printed than the tail holds');
    assert.ok(progress.length >= 2, `progress notifications: ${progress.length}`);
    assert.ok(progress.every((p, i) => i === 0 || p.progress > progress[i - 1]!.progress), 'progress grows');
    assert.equal(progress[0]!.total, 1.5);
    assert.ok(progress.some((p) => /tick/.test(p.message ?? '')), 'progress carries the latest output line');
    const runs = (await raw.ok({ command: 'run_list' })).runs;
    assert.deepEqual([runs[0].run_id, runs[0].worker_id, runs[0].status], [r.run_id, 'w1', 'finished'], 'viewers saw the run');

    const ok = await w.ok('exec', { argv: [process.execPath, '-e', 'process.exit(3)'] });
    assert.deepEqual([ok.returncode, ok.timed_out], [3, false]);
    assert.match(await w.error('exec', { argv: ['/no/such/program'] }), /^SPAWN_FAILED: /);
  });

  it('mcp config --write merges an entry into the client\'s file that starts a working server; without --write it prints', async () => {
    fs.writeFileSync(path.join(dir, '.mcp.json'), JSON.stringify({ mcpServers: { other: { command: 'other-server' } } }));
    const env = childEnv({ HARNESS_WORKER_ID_FILE: path.join(dir, 'worker-id') });
    const written = await runCli(['mcp', 'config', 'claude', '--write', '--socket', socket, '--worker', 'agent-1'], env, dir);
    assert.equal(written.code, 0, written.stderr);
    assert.equal(written.json.data.file, path.join(dir, '.mcp.json'));
    const file = JSON.parse(fs.readFileSync(path.join(dir, '.mcp.json'), 'utf8'));
    assert.deepEqual(file.mcpServers.other, { command: 'other-server' });
    const entry = file.mcpServers['agent-harness'];
    assert.deepEqual(entry.args.slice(-3), ['mcp', '--workspace', dir]);
    assert.deepEqual(entry.env, { HARNESS_SOCKET: socket, HARNESS_WORKER_ID: 'agent-1' });

    // Start it the way Claude Code would: the entry's command, args and env, from another directory.
    const transport = new StdioClientTransport({ command: entry.command, args: entry.args, env: { ...(childEnv() as Record<string, string>), ...entry.env }, cwd: '/', stderr: 'pipe' });
    const client = new Client({ name: 'as-claude', version: '1' });
    await client.connect(transport);
    try {
      await raw.ok({ command: 'task_add', task: { id: 'a' } });
      const claimed = await client.callTool({ name: 'task_claim', arguments: {} });
      assert.equal(JSON.parse((claimed.content as Array<{ text: string }>)[0]!.text).task.claimed_by, 'agent-1');
    } finally {
      await client.close();
    }

    const printed = await runCli(['mcp', 'config', 'codex'], env, dir);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.json.data.file, path.join(dir, '.codex', 'config.toml'));
    assert.match(printed.json.data.text, /^\[mcp_servers\.agent-harness\]\ncommand = /m);
    const asText = await runCli(['mcp', 'config', 'codex', '--format', 'text'], env, dir);
    assert.equal(asText.stdout, printed.json.data.text, 'in text mode, the file as it would be written');
    assert.ok(!fs.existsSync(path.join(dir, '.codex')), 'printing writes nothing');
    const badTools = await runCli(['mcp', '--tools', 'task_claim,nope'], env, dir);
    assert.deepEqual([badTools.code, badTools.stdout], [2, ''], 'stdout is the protocol\'s, even for a bad option');
    assert.match(badTools.stderr, /--tools: no tool named "nope"; there are: default, all, /);
    const unknown = await runCli(['mcp', '--bogus'], env, dir);
    assert.deepEqual([unknown.code, unknown.stdout], [2, ''], 'an unknown option is told on stderr, not on the protocol\'s stdout');
    assert.match(unknown.stderr, /^harness: unknown option --bogus; this command takes --heartbeat/);
    const bad = await runCli(['mcp', 'config', 'emacs'], env, dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown MCP client "emacs"; one of claude, vscode, cursor, codex/);

    // For a host without a coordinator: the agent's harness mcp talks to a cluster directly.
    const viaCluster = await runCli(['mcp', 'config', 'cursor', '--nats', 'nats://127.0.0.1:4222', '--cluster', 'app'], env, dir);
    assert.equal(viaCluster.code, 0, viaCluster.stderr);
    assert.deepEqual(viaCluster.json.data.server.args.slice(-7), ['mcp', '--workspace', dir, '--nats', 'nats://127.0.0.1:4222', '--cluster', 'app']);
    const secret = await runCli(['mcp', 'config', 'cursor', '--nats', 'nats://alice:s3cret@127.0.0.1:4222', '--cluster', 'app'], env, dir);
    assert.equal(secret.code, 2);
    assert.match(secret.stderr, /--nats nats:\/\/\*\*\*@127\.0\.0\.1:4222: the address holds credentials.*HARNESS_NATS_PASSWORD/);
    assert.ok(!secret.stderr.includes('s3cret'), 'the password is not printed');
    const half = await runCli(['mcp', 'config', 'cursor', '--nats', 'nats://127.0.0.1:4222'], env, dir);
    assert.equal(half.code, 2);
    assert.match(half.stderr, /--nats needs a cluster name: --cluster NAME/);
  });
});

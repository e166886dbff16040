// --format text through real processes: every command prints lines for people, not JSON; an error
// is one line on stderr and nothing on stdout; `task list` shows ready apart from blocked; a
// message to a worker that never registered is kept, and the sender is told.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMMANDS } from '../../src/cli/main';
import { childEnv, CLI, pollUntil, runCli, ServeProcess, tempDir, useDaemon, within, type CliResult, type Daemon, type RawConnection } from '../support/harness-process';

describe('--format text (real processes)', function () {
  this.timeout(180_000);
  let d: Daemon;
  let c: RawConnection;
  useDaemon((daemon, connection) => ((d = daemon), (c = connection)));
  /** `args` with --format text before any `--` (after it, it would be the command's own argument). */
  const cli = (args: string[], worker = 'w1') => {
    const end = args.includes('--') ? args.indexOf('--') : args.length;
    return runCli([...args.slice(0, end), '--format', 'text', ...args.slice(end)], { ...d.env, HARNESS_WORKER_ID: worker }, d.dir);
  };

  /** A text answer: exit 0, lines on stdout that are not a JSON document, no error on stderr. */
  const text = async (args: string[], worker = 'w1', stdout: RegExp = /\S/): Promise<CliResult> => {
    const r = await cli(args, worker);
    assert.equal(r.code, 0, `harness ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stdout, /^\s*[{[]/, `harness ${args.join(' ')} printed JSON: ${r.stdout}`);
    assert.match(r.stdout, stdout, `harness ${args.join(' ')}`);
    return r;
  };

  /** A text error: the exit status, nothing on stdout, exactly one line on stderr. */
  const oneLineError = (r: CliResult, code: number, line: RegExp) => {
    assert.equal(r.code, code, r.stdout + r.stderr);
    assert.equal(r.stdout, '', 'nothing on stdout');
    assert.equal(r.stderr.split('\n').length, 2, `one line on stderr: ${JSON.stringify(r.stderr)}`);
    assert.match(r.stderr, line);
  };

  it('every command answers in lines for people', async () => {
    const covered = new Set<string>();
    const run = async (name: string, args: string[], worker?: string, stdout?: RegExp) => {
      covered.add(name);
      return text([...name.split(' '), ...args], worker, stdout);
    };
    fs.writeFileSync(path.join(d.dir, 'plan.yaml'), 'tasks:\n  - { id: a, group: g }\n  - { id: b, dependencies: [a] }\n  - { id: c }\n');
    await run('ping', [], undefined, /^coordinator of .* answers \(pid \d+, protocol 2, state in .*\)\n$/);
    await run('status', [], undefined, /^0 tasks: 0 running, 0 ready, 0 blocked/);
    await run('plan import', ['plan.yaml'], undefined, /^imported 3 tasks: a, b, c\n$/);
    await run('task add', ['--id', 'd', '--description', 'the fourth'], undefined, /^added d: pending/);
    await run('task list', [], undefined, /READY/);
    await run('task show', ['--id', 'b'], undefined, /^status +pending, blocked: waiting for a$/m);
    await run('task claim', [], 'w1', /^claimed a: \(no description\)\na: running, held by w1/);
    await run('task heartbeat', ['--id', 'a'], 'w1', /^a: running, held by w1, lease ends in /);
    await run('task progress', ['--id', 'a', '--percent', '50'], 'w1', /^a: running/);
    await run('task release', ['--id', 'a'], 'w1', /^a: pending \(attempt 0 of 3\)\n$/);
    await text(['task', 'claim'], 'w1');
    await run('task complete', ['--id', 'a'], 'w1', /^a: completed \(attempt 1 of 3\)\n$/);
    await text(['task', 'claim'], 'w2');
    await run('task fail', ['--id', 'b', '--error', 'boom', '--no-retry'], 'w2', /^b: dead letter: boom/);
    await run('task retry', ['--id', 'b'], undefined, /^b: pending/);
    await run('task cancel', ['--id', 'd'], undefined, /^d: cancelled/);
    await run('instance register', ['--capability', 'ts'], 'w3', /^registered w3 \(.*\) with ts\n$/);
    await run('instance list', [], undefined, /^STATUS +WORKER .*\nlive +w3 /);
    await run('instance deregister', [], 'w3', /^deregistered w3\n$/);
    await run('lock acquire', ['f.txt', '--ttl', '60'], 'w1', /^write lock on f\.txt: token 1, expires in /);
    await run('lock list', [], undefined, /^PATH +MODE +HOLDER +TOKEN +EXPIRES\nf\.txt +write +w1 +1 +in /);
    await run('lock renew', ['--token', '1'], 'w1', /^write lock on f\.txt: token 1/);
    await run('lock release', ['f.txt'], 'w1', /^released the write lock on f\.txt \(token 1\)\n$/);
    await run('state put', ['k', '{"n":1}'], undefined, /^k: now at version 1\n$/);
    await run('state get', ['k'], undefined, /^KEY +VERSION +BY +UPDATED +VALUE\nk +1 +w1 +(just now|.* ago) +\{"n":1\}\n$/);
    await run('state update', ['k', '--', 'sh', '-c', 'cat >/dev/null; echo 2'], undefined, /^k: now at version 2 \(attempt 1\): 2\n$/);
    await run('state history', ['k'], undefined, /^VERSION +BY +UPDATED +VALUE\n2 .*\n1 .*\{"n":1\}\n$/);
    await run('state list', [], undefined, /^KEY .*\nk +2 /);
    await run('state delete', ['k'], undefined, /^k: deleted \(version 3\)\n$/);
    await run('pool set', ['slots', '2'], undefined, /^pool slots: capacity 2\n$/);
    await run('pool list', [], undefined, /^POOL +CAPACITY +USED +FREE +HOLDERS\nslots +2 +0 +2 +-\n$/);
    await run('msg subscribe', ['news'], 'w2', /^w2 now receives topic:news\n$/);
    await run('msg send', ['--to', 'topic:news', 'hello'], 'w1', /^sent msg-1 to topic:news \(1 subscriber\)/);
    await run('msg recv', [], 'w2', /^ID +FROM +TO +SENT +BODY\nmsg-1 +w1 +topic:news +(just now|.* ago) +"hello"\n$/);
    await run('msg ack', ['msg-1'], 'w2', /^msg-1: acknowledged by w2\n$/);
    await run('msg unsubscribe', ['news'], 'w2', /^w2 no longer receives topic:news\n$/);
    await text(['msg', 'send', '--to', 'w2', 'direct'], 'w1');
    await run('msg list', [], undefined, /^ID +RECIPIENT .*\nmsg-2 +w2 +w2 +w1 /);
    await run('msg drop', ['msg-2'], undefined, /^msg-2: dropped for w2\n$/);
    await run('with-lock', ['f.txt', '--', 'echo', 'locked'], 'w1', /^locked\n$/);
    await run('with-resources', ['slots=1', '--', 'echo', 'held'], 'w1', /^held\n$/);
    // exec: the command's stdout on stdout, its stderr and the one-line outcome on stderr.
    const exec = await run('exec', ['--', 'sh', '-c', 'echo out; echo err >&2'], 'w1', /^out\n$/);
    assert.match(exec.stderr, /^err\nharness: sh exited 0 after \d+ (ms|s) \(run run-[\w-]+\)\n$/);
    const runId = /\(run (run-[\w-]+)\)/.exec(exec.stderr)![1]!;
    await run('run list', [], undefined, new RegExp(`^RUN +OUTCOME +WORKER +TASK +STARTED +OUTPUT +COMMAND\n(.*\n)*${runId} +exit 0 +w1 +- +(just now|.* ago) +8 B +sh -c echo out; echo err >&2\n`));
    await run('run log', [runId], undefined, new RegExp(`^(out\nerr|err\nout)\n-- run ${runId}: exit 0\n$`));
    await run('wait', ['--group', 'g', '--progressive'], undefined, /^a completed \(1 of 1 finished\)\ngroup g: 1 of 1 completed\n {2}TASK +STATUS +RESULT\n {2}a +completed +null\n$/);
    await run('worker-id', [], 'w9', /^w9\n$/);
    await run('version', [], undefined, /^\d+\.\d+\.\d+\S*\n$/);
    await run('isolate', ['--worker', 'w1'], undefined, /workers\/w1\n$/);
    await text(['isolate', '--list'], undefined, /^WORKER +BRANCH +UNMERGED +PORTS +DIRECTORY\nw1 +- +- +\S+ +\/.*workers\/w1\n$/);
    await run('merge', [], undefined, /no git repository|w1/);
    // work prints its progress on stderr; stdout stays empty.
    covered.add('work');
    const work = await cli(['work', '--idle-exit', '0', '--max-tasks', '1', '--', 'true'], 'w5');
    assert.equal(work.code, 0, work.stderr);
    assert.equal(work.stdout, '');
    assert.match(work.stderr, /\[w5\] done: 1 task\(s\)/);

    covered.add('serve');
    const served = tempDir();
    const serve = ServeProcess.spawn(['--workspace', served, '--socket', path.join(tempDir(), 's.sock'), '--format', 'text']);
    const ready = await within(new Promise<string>((resolve) => serve.child.stdout!.once('data', (l: Buffer) => resolve(String(l)))), 20_000, 'the ready line');
    assert.match(ready, /^serving .* on .*s\.sock \(pid \d+\)\n$/);
    await serve.stop();
    await run('recover', ['--workspace', served], undefined, /^state directory .*\n[\s\S]*nothing to recover/);

    covered.add('watch');
    const watch = spawn(process.execPath, [CLI, 'watch', '--format', 'text'], { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let watched = '';
    watch.stdout.setEncoding('utf8').on('data', (s: string) => (watched += s));
    watch.stderr.setEncoding('utf8').on('data', () => void c.ok({ command: 'task_add', task_id: 'watched' }));
    try {
      await pollUntil(async () => (watched.includes('added') ? true : undefined), 20_000, 'a watched event');
      assert.match(watched, /^\d\d:\d\d:\d\d\.\d{3} added {5}watched\n/);
    } finally {
      watch.kill();
    }
    // Worker targets: a worker started (it runs `true` for the tasks left), restarted, removed.
    await run('target add', ['fleet', '--min', '1', '--idle-timeout', '60', '--', 'true'], undefined, /^fleet {2}ok {2}\d running of 1 {2}\$0\.00\n/);
    await run('target list', [], undefined, /^fleet {2}ok/);
    await run('target scale', ['fleet', '--max', '2'], undefined, /^fleet {2}ok {2}\d running of 1–2 /);
    await run('target reset', ['fleet'], undefined, /^fleet {2}ok/);
    await run('worker restart', ['fleet-1'], undefined, /^fleet {2}ok/);
    await run('target remove', ['fleet'], undefined, /^removed fleet/);
    // Its worker was stopped: it deregistered (a detached worker would outlive this test's coordinator).
    await pollUntil(async () => ((await c.ok({ command: 'instance_list' })).instances.some((i: { worker_id: string }) => i.worker_id === 'fleet-1') ? undefined : true), 20_000, 'the worker to leave');
    await run('budget set', ['--group', 'g', '5'], undefined, /^group g: \$0\.00 of \$5\.00 \(\$5\.00 left\)\n$/);
    await run('budget list', [], undefined, /^group g: \$0\.00 of \$5\.00/);
    await run('usage', ['--by', 'group'], undefined, /^group +cost +attempts +tokens\ntotal +\$0\.00 +0 attempts +0 in, 0 out/);
    await run('budget remove', ['--group', 'g'], undefined, /^removed\n$/);
    // The file as it would be written (TOML here: it starts with "[", which is not JSON).
    covered.add('mcp config');
    const mcpConfig = await cli(['mcp', 'config', 'codex', '--workspace', d.dir]);
    assert.equal(mcpConfig.code, 0, mcpConfig.stderr);
    assert.match(mcpConfig.stdout, /^\[mcp_servers\.agent-harness\]\ncommand = /);
    await text(['mcp', 'config', 'claude', '--workspace', d.dir, '--write'], undefined, /^wrote the "agent-harness" server to .*\.mcp\.json\n$/);
    // `harness mcp` speaks the MCP protocol on stdio: it has no output for people.
    const notText = new Set(['mcp']);
    assert.deepEqual(
      COMMANDS.map((cmd) => cmd.name).filter((name) => !covered.has(name) && !notText.has(name)),
      [],
      'every command of the CLI is tried in text mode',
    );
  });

  it('an error is one line on stderr and nothing on stdout: error replies, usage errors, no coordinator, a failed group', async () => {
    oneLineError(await cli(['task', 'show', '--id', 'nope']), 1, /^harness: task nope does not exist\n$/);
    oneLineError(await cli(['exec', '--timeout', '-5', '--', 'true']), 2, /^harness: --timeout must be .*, got "-5" \(usage: harness exec /);
    oneLineError(await cli(['frobnicate']), 2, /^harness: unknown command "frobnicate"/);
    oneLineError(await cli(['exec', '--', 'no-such-command-here']), 1, /^harness: cannot run "no-such-command-here"/);
    const bad = path.join(d.dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ tasks: [{ id: 'a b', priority: 'high', extra: 1 }] }));
    oneLineError(await cli(['plan', 'import', bad]), 1, /^harness: invalid plan file .*bad\.json: tasks\[0\]\.id: .*; tasks\[0\]\.priority: /);
    await c.ok({ command: 'task_add', task_id: 'g1', group: 'grp' });
    await c.ok({ command: 'task_cancel', task_id: 'g1' });
    oneLineError(await cli(['wait', '--group', 'grp']), 1, /^harness: 1 of 1 tasks of group grp did not complete: g1 \(cancelled\)\n$/);
    const nobody = childEnv({ HARNESS_SOCKET: path.join(tempDir(), 'none.sock'), HARNESS_WORKER_ID: 'w1' });
    oneLineError(await runCli(['status', '--format', 'text'], nobody), 1, /^harness: .*; start one with `harness serve --workspace <dir>`[^(]*$/);
    // JSON stays as it was: the document on stdout, the words on stderr.
    const json = await runCli(['task', 'show', '--id', 'nope'], d.env);
    assert.deepEqual([json.code, json.json.code], [1, 'NOT_FOUND']);
  });

  it('global options may come before the command (as the docs write `harness --nats URL --cluster NAME ...`), never taking what follows `--`', async () => {
    await c.ok({ command: 'task_add', task_id: 'in-front' });
    const env = { ...d.env, HARNESS_SOCKET: path.join(tempDir(), 'none.sock') };
    const listed = await runCli(['--socket', d.socket, '--format', 'text', '--worker', 'w9', 'task', 'list'], env, d.dir);
    assert.equal(listed.code, 0, listed.stderr);
    assert.doesNotMatch(listed.stdout, /^\s*[{[]/);
    assert.match(listed.stdout, /in-front/);
    const ran = await runCli(['--socket=' + d.socket, '--format', 'text', 'exec', '--', 'echo', '--format', 'json'], env, d.dir);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /^--format json$/m, 'what follows -- is the program\'s');
    oneLineError(await runCli(['--format', 'text', '--nats', 'nats://127.0.0.1:4222', 'task', 'list'], env, d.dir), 2, /^harness: --nats needs a cluster name: --cluster NAME/);
  });

  it('task list shows ready tasks apart from blocked ones, naming what each waits for, also for a filtered list', async () => {
    fs.writeFileSync(
      path.join(d.dir, 'plan.json'),
      JSON.stringify({
        tasks: [
          { id: 'fetch', description: 'Fetch the data' },
          { id: 'build', dependencies: ['fetch'], capabilities: ['ts'], group: 'app' },
          { id: 'lint', capabilities: ['ts'], group: 'app', priority: 3 },
          { id: 'ship', dependencies: ['build', 'lint'], group: 'app' },
        ],
      }),
    );
    await text(['plan', 'import', 'plan.json']);
    const all = await text(['task', 'list']);
    assert.match(all.stdout, /^BLOCKED \(waiting for dependencies\): 2\n {2}ID +WAITING FOR +GROUP +NEEDS +DESCRIPTION\n {2}build +fetch +app +ts\n {2}ship +build, lint +app +-\n/m);
    assert.match(all.stdout, /^READY \(in the order they are claimed\): 2\n {2}ID +PRIORITY +ATTEMPT +GROUP +NEEDS +DESCRIPTION\n {2}lint +3 +0\/3 +app +ts\n {2}fetch +0 +0\/3 +- +- +Fetch the data\n/m);
    assert.match(all.stdout, /^4 tasks: 2 ready, 2 blocked\n$/m);
    // fetch and lint complete: build (group app) becomes ready, though fetch is not in the filtered list.
    await text(['task', 'claim'], 'w1');
    await text(['task', 'complete', '--id', 'fetch'], 'w1');
    await text(['task', 'claim', '--capability', 'ts'], 'w2');
    await text(['task', 'complete', '--id', 'lint'], 'w2');
    const app = await text(['task', 'list', '--group', 'app', '--status', 'pending']);
    assert.match(app.stdout, /^READY .*: 1\n.*\n {2}build /m);
    assert.match(app.stdout, /^BLOCKED .*: 1\n.*\n {2}ship +build +app/m);
  });

  it('a failed task waiting out its retry backoff shows when its next attempt comes, in the list, in task show and after task fail', async () => {
    await text(['task', 'add', '--id', 'flaky', '--retry-delay', '60', '--retry-max-delay', '600']);
    await text(['task', 'claim'], 'w1');
    const failed = await text(['task', 'fail', '--id', 'flaky', '--error', 'connection reset'], 'w1');
    assert.match(failed.stdout, /^flaky: pending \(will be retried in (59 s|1 min): connection reset\) \(attempt 1 of 3\)\n$/);
    const list = await text(['task', 'list']);
    assert.match(list.stdout, /^RETRYING \(failed; the next attempt waits out its backoff\): 1\n {2}ID +NEXT ATTEMPT .*\n {2}flaky +in (59 s|1 min) +1\/3 +- +connection reset\n/m);
    assert.match(list.stdout, /^1 task: 1 retrying\n$/m);
    const shown = await text(['task', 'show', '--id', 'flaky']);
    assert.match(shown.stdout, /^retry backoff +exponential, 60 s after the first failure, at most 600 s$/m);
    assert.match(shown.stdout, /^next attempt +\S+Z \(in (59 s|1 min)\)$/m);
    assert.equal((await c.ok({ command: 'task_claim', worker_id: 'w2' })).task, null, 'not claimable before its time');
    const lone = await cli(['task', 'add', '--id', 'x', '--retry-fixed']);
    oneLineError(lone, 2, /^harness: --retry-max-delay and --retry-fixed go with --retry-delay S \(usage: harness task add /);
  });

  it('a message to a worker that never registered is kept, and the reply and the text say so', async () => {
    const json = await runCli(['msg', 'send', '--to', 'ghost', 'please rebase'], { ...d.env, HARNESS_WORKER_ID: 'lead' });
    assert.deepEqual(json.json.data.unregistered, ['ghost']);
    const said = await text(['msg', 'send', '--to', 'ghost', 'again'], 'lead');
    assert.equal(said.stdout, 'sent msg-2 to ghost; no worker is registered as ghost: it is kept until one with that id receives it\n');
    const nobody = await text(['msg', 'send', '--to', 'topic:empty', 'x'], 'lead');
    assert.equal(nobody.stdout, 'sent msg-3 to topic:empty, which has no subscribers: nobody gets it\n');
    // The worker comes later: both messages wait for it, and a message to it now is not flagged.
    await c.ok({ command: 'instance_register', worker_id: 'ghost' });
    assert.equal((await text(['msg', 'send', '--to', 'ghost', 'third'], 'lead')).stdout, 'sent msg-4 to ghost\n');
    const got = await runCli(['msg', 'recv'], { ...d.env, HARNESS_WORKER_ID: 'ghost' });
    assert.deepEqual(got.json.data.messages.map((m: { body: string }) => m.body), ['please rebase', 'again', 'third']);
  });
});

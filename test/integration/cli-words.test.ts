// The CLI's arguments through real processes: every duration is checked against its documented
// maximum before anything is sent (an exec timeout beyond Node's 32-bit timer used to end the
// command after 1 ms), and each mistake is named with the argument, the value and what is expected.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMMANDS } from '../../src/cli/main';
import { childEnv, runCli, tempDir, useDaemon, type Daemon, type RawConnection } from '../support/harness-process';

/** The least a command needs besides the option under test, so it gets as far as checking it. */
const REST: Record<string, string[]> = {
  exec: ['--', 'true'],
  work: ['--', 'true'],
  wait: ['--group', 'g'],
  'lock acquire': ['some-file'],
  'lock renew': ['--token', '1'],
  'with-lock': ['some-file', '--', 'true'],
  'with-resources': ['slots=1', '--', 'true'],
};

describe('the CLI names what is wrong with an argument (real processes)', function () {
  this.timeout(120_000);
  let d: Daemon;
  let c: RawConnection;
  useDaemon((daemon, connection) => ((d = daemon), (c = connection)));
  const cli = (args: string[], cwd = d.dir) => runCli(args, { ...d.env, HARNESS_WORKER_ID: 'w1' }, cwd);

  it('exec --timeout beyond its maximum is refused before the command runs (it used to be killed after 1 ms)', async () => {
    for (const value of ['2200000', '1e9']) {
      const r = await cli(['exec', '--timeout', value, '--', 'sh', '-c', 'echo ran > ran.txt']);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.equal(r.json.message, `--timeout must be a number of seconds from 0 (no timeout) to 604800 (7 days), got "${value}"`);
      assert.doesNotMatch(r.stderr, /TimeoutOverflowWarning/);
    }
    assert.equal(fs.existsSync(path.join(d.dir, 'ran.txt')), false, 'the command never ran');
    assert.deepEqual((await c.ok({ command: 'run_list' })).runs, [], 'no run was registered');
    // The maximum itself is a real timeout: the command runs to its end.
    const ok = await cli(['exec', '--timeout', '604800', '--', 'sleep', '0.3']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual([ok.json.data.timed_out, ok.json.data.returncode], [false, 0]);
    assert.ok(ok.json.data.duration_ms >= 250, `ran ${ok.json.data.duration_ms} ms`);
  });

  it('every duration option of every command is checked against its maximum before anything is sent, and --help says the limit', async () => {
    // No coordinator at this socket: a check made after connecting would fail with exit 1, not 2.
    const env = childEnv({ HARNESS_SOCKET: path.join(tempDir(), 'nobody.sock'), HARNESS_WORKER_ID: 'w1' });
    const withDurations = COMMANDS.filter((cmd) => cmd.durations);
    assert.ok(withDurations.length >= 10, withDurations.map((cmd) => cmd.name).join(', '));
    await Promise.all(
      withDurations.flatMap((cmd) =>
        Object.entries(cmd.durations!).map(async ([flag, limit]) => {
          const over = String(limit.max + 1);
          const r = await runCli([...cmd.name.split(' '), `--${flag}`, over, ...(REST[cmd.name] ?? [])], env);
          assert.equal(r.code, 2, `${cmd.name} --${flag} ${over}: ${r.stdout}${r.stderr}`);
          // harness mcp's stdout is the MCP client's: its usage errors are on stderr only.
          const message = cmd.name === 'mcp' ? (assert.equal(r.stdout, ''), r.stderr.split('\n')[0]!.replace(/^harness: /, '').replace(/ \(usage: .*\)$/, '')) : r.json.message;
          assert.match(message, new RegExp(`^--${flag} must be a number of seconds.* ${limit.max}( seconds)? \\(.+\\), got "${over}"$`), cmd.name);
          const help = await runCli([...cmd.name.split(' '), '--help'], env);
          assert.match(help.stdout, new RegExp(`--${flag} S .*${limit.max}( seconds)? \\(`), `${cmd.name} --help says the limit of --${flag}`);
        }),
      ),
    );
  });

  it('a negative or missing value names the option, the value, and what it takes (not "argument is ambiguous")', async () => {
    const negative = await cli(['exec', '--timeout', '-5', '--', 'true']);
    assert.equal(negative.code, 2);
    assert.equal(negative.json.message, '--timeout must be a number of seconds from 0 (no timeout) to 604800 (7 days), got "-5"');
    const missing = await cli(['exec', '--timeout']);
    assert.deepEqual([missing.code, missing.json.message], [2, '--timeout needs a value']);
    const swallowed = await cli(['exec', '--timeout', '--shell', 'true']);
    assert.equal(swallowed.json.message, '--timeout needs a value, got the option "--shell"; write --timeout=--shell if that is the value');
    const unknown = await cli(['task', 'list', '--colour']);
    assert.equal(unknown.json.message, 'unknown option --colour; this command takes --status, --group (and --socket, --worker, --format, --help)');
    const ttl = await cli(['lock', 'acquire', 'f', '--ttl', '0']);
    assert.equal(ttl.json.message, '--ttl must be a number of seconds, more than 0 and at most 604800 seconds (7 days), got "0"');
  });

  it('a missing or extra argument is named from the usage line', async () => {
    const cases: Array<[string[], string]> = [
      [['state', 'put', 'k'], 'missing JSON'],
      [['exec'], 'missing CMD'],
      [['with-lock', 'f'], 'missing CMD'],
      [['state', 'get', 'a', 'b'], 'unexpected argument "b"; state get takes at most 1: KEY'],
      [['ping', 'x'], 'unexpected argument "x"; ping takes no arguments, only options'],
      [['with-resources', 'gpu:1', '--', 'true'], 'name at least one amount as NAME=N before the command, e.g. cpu_cores=2; got "gpu:1"'],
      [['state', 'delete', 'k', '--if-version', '-1'], '--if-version must be 0 or more (0: only if the key does not exist), got -1'],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args);
      assert.deepEqual([r.code, r.json.message], [2, message], args.join(' '));
    }
  });

  it('task add --timeout beyond the maximum names --timeout, not a plan that is not there', async () => {
    const r = await cli(['task', 'add', '--id', 'a', '--timeout', '1e9']);
    assert.equal(r.code, 2);
    assert.equal(r.json.message, '--timeout must be a number of seconds, more than 0 and at most 604800 seconds (7 days), got "1e9"');
    assert.doesNotMatch(r.stderr, /plan|tasks\[0\]/);
  });

  it('re-importing a plan whose ids exist says the tasks exist already, naming them (not "duplicate task id")', async () => {
    const plan = path.join(d.dir, 'plan.json');
    fs.writeFileSync(plan, JSON.stringify({ tasks: [{ id: 'fetch' }, { id: 'build', dependencies: ['fetch'] }, { id: 'test' }] }));
    assert.equal((await cli(['plan', 'import', plan])).code, 0);
    fs.writeFileSync(plan, JSON.stringify({ tasks: [{ id: 'fetch' }, { id: 'build', dependencies: ['fetch'] }, { id: 'test' }, { id: 'new' }] }));
    const again = await cli(['plan', 'import', plan]);
    assert.equal(again.code, 1);
    assert.equal(again.json.code, 'ALREADY_EXISTS');
    assert.equal(again.json.message, '3 of the 4 tasks given already exist: fetch (pending), build (pending), test (pending); nothing was added');
    const twice = path.join(d.dir, 'twice.json');
    fs.writeFileSync(twice, JSON.stringify({ tasks: [{ id: 'x' }, { id: 'y' }, { id: 'x' }] }));
    assert.equal((await cli(['plan', 'import', twice])).json.message, 'task id x is given twice (tasks[0] and tasks[2])');
    assert.equal((await c.ok({ command: 'task_list' })).tasks.length, 3, 'nothing more was added');
  });

  it('state put with a value that is not JSON says so, and how to give a string', async () => {
    const r = await cli(['state', 'put', 'k', 'staging']);
    assert.equal(r.code, 2);
    assert.equal(r.json.message, `the value (JSON) must be JSON, got "staging" (unexpected 's'); a string is JSON in double quotes: '"staging"'`);
    assert.equal((await cli(['state', 'put', 'k', '"staging"'])).code, 0, 'the way it suggests works');
  });

  it('work --capability gpu says it takes tasks that need no capability as well as gpu ones', async () => {
    const r = await cli(['work', '--capability', 'gpu', '--idle-exit', '0', '--', 'true']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /registered with capabilities gpu; waiting for tasks that need no capability or only that one/);
    assert.doesNotMatch(r.stderr, /needing only/);
  });
});

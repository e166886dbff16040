// What a new user meets in the CLI's help and error messages, through real processes: errors of
// the MCP bundle keep their code, hints appear once and only where they fit, lock errors speak
// the command line's words, and help answers for a group, the version and a missing argument.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { childEnv, cleanupAll, ensureCliBuilt, ROOT, runCli, tempDir, useDaemon, type Daemon, type RawConnection } from '../support/harness-process';

/** Nobody listens at this socket: a command that gets as far as connecting fails with CLOSED. */
const nobody = () => childEnv({ HARNESS_SOCKET: path.join(tempDir(), 'none.sock'), HARNESS_WORKER_ID: 'w1' });

/** How often `part` occurs in `text`. */
const count = (text: string, part: string) => text.split(part).length - 1;

describe('CLI help and error words, without a coordinator (real processes)', function () {
  this.timeout(120_000);
  before(function () {
    this.timeout(180_000);
    ensureCliBuilt();
  });
  afterEach(cleanupAll);

  it('a malformed .mcp.json is INVALID_ARGUMENT naming the line and column, not a bug in harness, and nothing is written', async () => {
    const dir = tempDir();
    const broken = '{\n  "mcpServers": {\n    "x": {"command": "a"}\n    "y": 1\n  }\n}\n';
    fs.writeFileSync(path.join(dir, '.mcp.json'), broken);
    const r = await runCli(['mcp', 'config', 'claude', '--write', '--workspace', dir], nobody(), dir);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.json.code, 'INVALID_ARGUMENT', r.stdout);
    assert.equal(r.json.message, '.mcp.json: comma expected at line 4, column 5; nothing was written (fix the file, or add the entry by hand)');
    assert.doesNotMatch(r.stderr, /bug in harness|internal error/);
    assert.equal(fs.readFileSync(path.join(dir, '.mcp.json'), 'utf8'), broken, 'the file is as it was');
  });

  it('no coordinator: the way out is said once', async () => {
    for (const format of [[], ['--format', 'text']]) {
      const r = await runCli(['status', ...format], nobody());
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /no coordinator is listening/);
      assert.equal(count(r.stderr, 'start one with'), 1, r.stderr);
    }
  });

  it('plan import of a missing file says "no such file" (a usage error, exit 2), before connecting', async () => {
    const dir = tempDir();
    const r = await runCli(['plan', 'import', 'nofile.yaml'], nobody(), dir);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.deepEqual(r.json, { status: 'error', code: 'USAGE', message: `cannot read plan file ${path.join(fs.realpathSync(dir), 'nofile.yaml')}: no such file` });
    assert.doesNotMatch(r.stderr, /ENOENT|fix the named field/);
  });

  it('a group with --help lists its commands and what each does (exit 0)', async () => {
    for (const [group, some] of [['task', ['task add', 'task show']], ['lock', ['lock acquire', 'lock release']]] as const) {
      for (const flag of ['--help', '-h']) {
        const r = await runCli([group, flag], nobody());
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^usage: harness ${group} <command>`));
        for (const name of some) assert.match(r.stdout, new RegExp(`\\n  ${name} +\\S`), `${group} ${flag} lists ${name} with its summary`);
      }
    }
    assert.match((await runCli(['task', '--help'], nobody())).stdout, /task show +show one task/);
  });

  it('harness --version and harness version print the version of package.json', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const args of [['--version'], ['version']]) {
      const r = await runCli(args, nobody());
      assert.deepEqual([r.code, r.stdout, r.stderr], [0, `${version}\n`, ''], args.join(' '));
    }
    assert.match((await runCli(['--help'], nobody())).stdout, /\n  version +print the version/);
  });

  it('mcp config without a client names what is missing; mcp --help shows --kill-after', async () => {
    const r = await runCli(['mcp', 'config'], nobody());
    assert.equal(r.code, 2);
    assert.equal(r.json.message, 'missing the MCP client: one of claude, vscode, cursor, codex');
    const help = await runCli(['mcp', '--help'], nobody());
    assert.match(help.stdout.split('\n')[0]!, /^usage: harness mcp .*\[--kill-after S\]/);
  });

  it('one extra word where the command takes --id: "did you mean --id WORD?"', async () => {
    for (const command of [['task', 'show'], ['task', 'complete'], ['task', 'release']]) {
      const r = await runCli([...command, 'schema'], nobody());
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.json.message, `unexpected argument "schema"; ${command.join(' ')} takes no arguments, only options; did you mean --id schema?`);
    }
    // Not where --id is given already, nor for a command without --id.
    assert.doesNotMatch((await runCli(['task', 'show', '--id', 'a', 'b'], nobody())).json.message, /did you mean/);
    assert.doesNotMatch((await runCli(['status', 'schema'], nobody())).json.message, /did you mean/);
  });
});

describe('CLI help and error words, with a coordinator (real processes)', function () {
  this.timeout(120_000);
  let d: Daemon;
  let c: RawConnection;
  useDaemon((daemon, connection) => ((d = daemon), (c = connection)));
  const cli = (args: string[], worker = 'w1') => runCli(args, { ...d.env, HARNESS_WORKER_ID: worker }, d.dir);

  it('a hint the message carries already is not repeated; one that does not fit is not added', async () => {
    const conflict = await cli(['state', 'put', 'k', '1', '--if-version', '5']);
    assert.equal(conflict.json.code, 'CONFLICT');
    assert.equal(count(conflict.stderr, 'read it again and retry'), 1, conflict.stderr);

    const pool = await cli(['with-resources', 'nopool=1', '--', 'true']);
    assert.equal(pool.json.code, 'UNKNOWN_POOL');
    assert.equal(count(pool.stderr, 'harness pool set'), 1, pool.stderr);

    await c.ok({ command: 'task_add', task_id: 'a' });
    const release = await cli(['task', 'release', '--id', 'a']);
    assert.equal(release.json.code, 'NOT_CLAIMED_BY');
    assert.doesNotMatch(release.stderr, /claim a task before completing or failing it/);
    assert.match(release.stderr, /only the worker holding a task can .*release it/);

    // A bad field still gets the hint about the field.
    const field = await cli(['task', 'add', '--id', 'b', '--priority', '99999999']);
    assert.equal(field.json.code, 'INVALID_ARGUMENT');
    assert.match(field.stderr, /priority.*\(fix the named field and send it again\)/);
  });

  it('a lock held elsewhere: the hint names --wait S, and --wait is said in seconds as given', async () => {
    assert.equal((await cli(['lock', 'acquire', 'f.txt', '--ttl', '60'], 'holder')).code, 0);
    const busy = await cli(['lock', 'acquire', 'f.txt']);
    assert.equal(busy.json.code, 'TIMEOUT');
    assert.match(busy.json.message, /^write lock on f\.txt is not free: held by holder .*\(pass --wait S to wait for it\)$/);
    assert.doesNotMatch(busy.stdout + busy.stderr, /wait_ms/);
    for (const args of [['lock', 'acquire', 'f.txt', '--wait', '0.3'], ['with-lock', 'f.txt', '--wait', '0.3', '--', 'true']]) {
      const late = await cli(args);
      assert.equal(late.json.code, 'TIMEOUT', args.join(' '));
      assert.match(late.json.message, /^write lock on f\.txt not granted within 0\.3 s: held by holder/);
    }
    await c.ok({ command: 'pool_set', name: 'slots', capacity: 1 });
    assert.equal((await cli(['with-resources', 'slots=1', '--', 'true'])).code, 0);
    await c.ok({ command: 'resource_acquire', worker_id: 'holder', amounts: { slots: 1 } });
    const full = await cli(['with-resources', 'slots=1', '--', 'true']);
    assert.match(full.json.message, /^resources slots=1 are not free: .*\(pass --wait S to wait\)$/);
  });

  it('task add --group NAME and --resource NAME=N: the task is in the group (task list --group, wait --group) and holds the pool', async () => {
    await c.ok({ command: 'pool_set', name: 'gpu', capacity: 2 });
    const added = await cli(['task', 'add', '--id', 'g1', '--group', 'grp', '--resource', 'gpu=1', '--resource', 'gpu=1']);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.json.data.task.group, 'grp');
    assert.deepEqual(added.json.data.task.resources, { gpu: 2 });
    assert.equal((await cli(['task', 'add', '--id', 'other'])).code, 0);
    const listed = await cli(['task', 'list', '--group', 'grp']);
    assert.deepEqual(listed.json.data.tasks.map((t: { id: string }) => t.id), ['g1']);
    await c.ok({ command: 'task_cancel', task_id: 'g1' });
    const waited = await cli(['wait', '--group', 'grp']);
    assert.equal(waited.code, 1);
    assert.match(waited.stderr, /group grp did not complete: g1 \(cancelled\)/);
    const bad = await cli(['task', 'add', '--id', 'g2', '--resource', 'gpu']);
    assert.equal(bad.code, 2);
    assert.match(bad.json.message, /^--resource must be NAME=N, .*got "gpu"$/);
  });

  it('msg recv --help says what happens when nothing is pending, and that is what happens', async () => {
    const help = await cli(['msg', 'recv', '--help']);
    assert.doesNotMatch(help.stdout, /fail at once/);
    assert.match(help.stdout, /--wait S .*none by then: an empty list, exit 0/);
    const r = await cli(['msg', 'recv', '--wait', '0.2']);
    assert.deepEqual([r.code, r.json], [0, { status: 'ok', data: { messages: [] } }]);
  });
});

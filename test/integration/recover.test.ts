// `harness recover` against real state left by a real `harness serve`: it shows what is intact,
// changes nothing without --yes, and with --yes keeps a copy of the damaged files and starts from
// the last intact record, after which the coordinator starts again.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JOURNAL_FILE, SNAPSHOT_FILE } from '../../src/core/file-store';
import type { Task } from '../../src/core/model';
import { childEnv, cleanupAll, ensureCliBuilt, RawConnection, runCli, ServeProcess, tempDir } from '../support/harness-process';

/** Every state file with its hash (the lock aside): to prove nothing was written. */
const fingerprint = (state: string) =>
  Object.fromEntries(
    fs
      .readdirSync(state)
      .filter((n) => n !== 'owner.pid' && fs.statSync(path.join(state, n)).isFile())
      .map((n) => [n, createHash('sha256').update(fs.readFileSync(path.join(state, n))).digest('hex')]),
  );

describe('harness recover', function () {
  this.timeout(120_000);
  before(() => ensureCliBuilt());
  afterEach(() => cleanupAll());

  /** a, b, c in the snapshot (clean stop); d, e, f in the journal (SIGKILL). */
  async function state(): Promise<{ dir: string; socket: string; state: string }> {
    const dir = tempDir('hrec-');
    const socket = path.join(dir, 'h.sock');
    let serve = await ServeProcess.start(dir, socket);
    let c = await RawConnection.connect(socket);
    for (const id of ['a', 'b', 'c']) await c.ok({ command: 'task_add', task_id: id, description: `task ${id}` });
    c.close();
    await serve.stop('SIGTERM');
    serve = await ServeProcess.start(dir, socket);
    c = await RawConnection.connect(socket);
    for (const id of ['d', 'e', 'f']) await c.ok({ command: 'task_add', task_id: id, description: `task ${id}` });
    c.close();
    await serve.stop('SIGKILL');
    return { dir, socket, state: path.join(dir, '.harness') };
  }

  const recover = (dir: string, ...args: string[]) => runCli(['recover', '--workspace', dir, ...args], childEnv());

  async function taskIds(dir: string, socket: string): Promise<string[]> {
    const serve = await ServeProcess.start(dir, socket);
    const c = await RawConnection.connect(socket);
    const ids = (await c.ok({ command: 'task_list' })).tasks.map((t: Task) => t.id);
    c.close();
    await serve.stop();
    return ids;
  }

  it('on healthy state: says so, exits 0, and writes nothing, --yes or not', async () => {
    const { dir, state: s } = await state();
    const before = fingerprint(s);
    for (const args of [[], ['--yes']]) {
      const r = await recover(dir, ...args);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.data.healthy, true);
      assert.equal(r.json.data.intact_through, 6);
      assert.equal(r.json.data.tasks, 6);
      assert.equal(r.json.data.recovered, false);
    }
    assert.deepEqual(fingerprint(s), before);
  });

  it('a journal damaged in the middle: refused at start; recover shows the intact part, changes nothing without --yes, and with it starts from there', async () => {
    const { dir, socket, state: s } = await state();
    const file = path.join(s, JOURNAL_FILE);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[1] = lines[1]!.replace('task e', 'task E'); // the second record after the snapshot
    fs.writeFileSync(file, lines.join('\n'));
    const damaged = fingerprint(s);

    const refused = ServeProcess.spawn(['--worktree', dir, '--socket', socket]);
    assert.notEqual((await refused.exited).code, 0);
    assert.match(refused.stderr, /harness recover/, 'the refusal points to the way out');

    const look = await recover(dir, '--format', 'text');
    assert.equal(look.code, 1, 'damage left as it is is not success');
    assert.match(look.stdout, /snapshot: intact, up to record 3, 3 task\(s\)/);
    assert.match(look.stdout, /journal\.log: records 4–4 \(damaged/);
    assert.match(look.stdout, /to start from record 4 \(4 task\(s\)\), dropping 2 record\(s\) after it, run again with --yes/);
    assert.deepEqual(fingerprint(s), damaged, 'nothing written without --yes');

    const fix = await recover(dir, '--yes');
    assert.equal(fix.code, 0, fix.stderr);
    const data = fix.json.data;
    assert.equal(data.recovered, true);
    assert.equal(data.intact_through, 4);
    assert.equal(data.dropped_records, 2);
    // The copies are the damaged files, byte for byte.
    for (const name of [SNAPSHOT_FILE, JOURNAL_FILE]) {
      assert.equal(
        createHash('sha256').update(fs.readFileSync(path.join(data.backup, name))).digest('hex'),
        damaged[name],
        `${name} kept as it was`,
      );
    }
    assert.deepEqual(await taskIds(dir, socket), ['a', 'b', 'c', 'd']);
  });

  it('a snapshot with a changed byte: reported damaged but readable; --yes keeps what SQLite reads and the journal after it', async () => {
    const { dir, socket, state: s } = await state();
    const f = path.join(s, SNAPSHOT_FILE);
    const bytes = fs.readFileSync(f);
    bytes[bytes.indexOf('task b') + 5] = 'B'.charCodeAt(0);
    fs.writeFileSync(f, bytes);
    const look = await recover(dir);
    assert.equal(look.code, 1);
    assert.equal(look.json.data.snapshot.status, 'damaged');
    assert.equal(look.json.data.snapshot.readable, true);
    assert.match(look.json.data.snapshot.problem, /checksum mismatch/);
    assert.match(look.stderr, /SQLite still reads it: its rows are kept, some may be altered/);
    const fix = await recover(dir, '--yes');
    assert.equal(fix.code, 0, fix.stderr);
    assert.equal(fix.json.data.dropped_records, 0);
    assert.deepEqual(await taskIds(dir, socket), ['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('refuses to repair while a coordinator holds the state directory', async () => {
    const { dir, socket, state: s } = await state();
    const f = path.join(s, JOURNAL_FILE);
    const serve = await ServeProcess.start(dir, socket);
    fs.appendFileSync(f, 'garbage line\n{"not":"a record"}\n');
    const r = await recover(dir, '--yes');
    assert.equal(r.code, 1);
    assert.equal(r.json.code, 'STATE_LOCKED');
    assert.match(r.json.message, /in use by another coordinator/);
    await serve.stop('SIGKILL');
  });
});

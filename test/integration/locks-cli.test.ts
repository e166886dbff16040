// File locks through the real CLI against a real `harness serve`: many processes writing one file
// under `harness with-lock` never overlap, lose nothing, and the lock always comes back.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, pollUntil, runCli, within, type Daemon, type RawConnection, useDaemon } from '../support/harness-process';

/**
 * A deliberately racy writer: marks itself busy (failing with 99 if someone else is), reads the
 * file, dawdles, writes it back with one more line. Without mutual exclusion lines get lost.
 */
const APPEND = `
const fs = require('fs');
const [file, who] = process.argv.slice(1);
try { fs.writeFileSync(file + '.busy', who, { flag: 'wx' }); } catch { console.error('overlap!'); process.exit(99); }
const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
const until = Date.now() + 20; while (Date.now() < until) {}
fs.writeFileSync(file, old + 'line from ' + who + ' ' + 'x'.repeat(40) + ' end\\n');
fs.unlinkSync(file + '.busy');
console.log('appended by ' + who);`;

/** Read a number, write number + 1: read-modify-write at its plainest. */
const INCREMENT = `
const fs = require('fs');
const file = process.argv[1];
const n = fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8')) : 0;
const until = Date.now() + 5; while (Date.now() < until) {}
fs.writeFileSync(file, String(n + 1));`;

describe('file locks through the harness CLI (real processes)', function () {
  this.timeout(120_000);
  let d: Daemon;
  let c: RawConnection;
  useDaemon((daemon, connection) => ((d = daemon), (c = connection)));

  const cli = (args: string[], worker = 'w') => runCli(args, { ...d.env, HARNESS_WORKER_ID: worker }, d.dir);

  it('10 processes appending to one file under with-lock leave exactly 10 intact lines', async () => {
    const runs = await Promise.all(
      Array.from({ length: 10 }, (_, i) => cli(['with-lock', 'shared.log', '--wait', '60', '--', process.execPath, '-e', APPEND, 'shared.log', `p${i}`])),
    );
    for (const [i, r] of runs.entries()) {
      assert.equal(r.code, 0, `process ${i}: ${r.stderr}`);
      assert.equal(r.stdout, `appended by p${i}\n`, 'the command’s output passes through');
    }
    const lines = fs.readFileSync(path.join(d.dir, 'shared.log'), 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, 10);
    for (const line of lines) assert.match(line, /^line from p\d x{40} end$/);
    assert.equal(new Set(lines).size, 10);
    assert.deepEqual((await c.ok({ command: 'lock_list' })).locks, [], 'every lock came back');
  });

  it('30 concurrent read-modify-write increments of one file under with-lock end at 30', async () => {
    const runs = await Promise.all(
      Array.from({ length: 30 }, (_, i) => cli(['with-lock', 'counter.txt', '--wait', '60', '--', process.execPath, '-e', INCREMENT, 'counter.txt'], `w${i}`)),
    );
    runs.forEach((r, i) => assert.equal(r.code, 0, `process ${i}: ${r.stderr}`));
    assert.equal(fs.readFileSync(path.join(d.dir, 'counter.txt'), 'utf8'), '30');
  });

  it('passes the exit status through and releases on failure; a busy lock is a TIMEOUT naming the holder', async () => {
    const held = await cli(['lock', 'acquire', 'f.txt', '--ttl', '60'], 'holder');
    assert.equal(held.code, 0, held.stderr);
    const token = held.json.data.lock.token;
    const busy = await cli(['with-lock', 'f.txt', '--wait', '0.2', '--', 'true']);
    assert.equal(busy.code, 1);
    assert.equal(busy.json.code, 'TIMEOUT');
    assert.match(busy.json.message, new RegExp(`not granted within 0\\.2 s: held by holder \\(write, token ${token}`));
    assert.equal((await cli(['lock', 'release', 'f.txt'], 'holder')).code, 0);

    const failed = await cli(['with-lock', 'f.txt', '--', 'sh', '-c', 'echo oops >&2; exit 7']);
    assert.equal(failed.code, 7);
    assert.equal(failed.stderr, 'oops\n');
    const missing = await cli(['with-lock', 'f.txt', '--', 'no-such-command-xyz']);
    assert.equal(missing.code, 1);
    assert.equal(missing.json.code, 'SPAWN_FAILED');
    assert.deepEqual((await c.ok({ command: 'lock_list' })).locks, []);
  });

  it('Ctrl+C ends the command and releases the lock; while waiting, it withdraws the request', async () => {
    const env = { ...d.env, HARNESS_WORKER_ID: 'ctrl-c' };
    const holder = spawn(process.execPath, [CLI, 'with-lock', 'g.txt', '--', 'sleep', '30'], { env, cwd: d.dir, stdio: 'ignore' });
    await pollUntil(async () => ((await c.ok({ command: 'lock_list' })).locks.length === 1 ? true : undefined), 10_000, 'the lock');
    const waiter = spawn(process.execPath, [CLI, 'with-lock', 'g.txt', '--wait', '60', '--', 'true'], { env, cwd: d.dir, stdio: 'ignore' });
    await pollUntil(async () => ((await c.ok({ command: 'lock_list' })).waiting.length === 1 ? true : undefined), 10_000, 'the waiter');
    const exit = (p: typeof waiter) => within(new Promise<number | null>((r) => p.once('exit', (code) => r(code))), 15_000, 'exit');
    waiter.kill('SIGINT');
    assert.equal(await exit(waiter), 130);
    await pollUntil(async () => ((await c.ok({ command: 'lock_list' })).waiting.length === 0 ? true : undefined), 5_000, 'the request withdrawn');
    holder.kill('SIGINT');
    assert.equal(await exit(holder), 130);
    assert.deepEqual((await c.ok({ command: 'lock_list' })).locks, []);
  });

  it('a lock is released at once when its holder deregisters', async () => {
    await c.ok({ command: 'instance_register', worker_id: 'mortal' });
    assert.equal((await cli(['lock', 'acquire', 'h.txt', '--ttl', '3600'], 'mortal')).code, 0);
    const waiting = c.request({ command: 'lock_acquire', worker_id: 'next', path: 'h.txt', wait_ms: 30_000 });
    assert.equal((await cli(['instance', 'deregister'], 'mortal')).code, 0);
    const granted = await waiting;
    assert.equal(granted.status, 'ok');
    assert.equal(granted.data.lock.worker_id, 'next');
  });

  it('refuses paths outside the workspace, also through a symlink', async () => {
    fs.symlinkSync('/etc', path.join(d.dir, 'etc-link'));
    for (const p of ['../outside.txt', '/etc/passwd', 'etc-link/passwd']) {
      const r = await cli(['lock', 'acquire', p]);
      assert.equal(r.code, 1);
      assert.equal(r.json.code, 'PATH_OUTSIDE_WORKSPACE', p);
    }
  });
});

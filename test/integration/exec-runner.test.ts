// Real processes, no mocks: the runner's job is to deal with what the OS actually does.
import { strict as assert } from 'node:assert';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BoundedLog } from '../../src/exec/bounded-log';
import { RunError, runProcess, type OutputChunk, type RunHandle } from '../../src/exec/runner';

const node = process.execPath;

/** Resolves with everything seen so far once `text` has appeared on `stream`. */
function waitForOutput(handle: RunHandle, text: string, stream: 'stdout' | 'stderr' = 'stdout'): Promise<void> {
  let seen = '';
  return new Promise((resolve) => {
    handle.onOutput((chunk) => {
      if (chunk.stream !== stream) return;
      seen += chunk.data;
      if (seen.includes(text)) resolve();
    });
  });
}

function collect(handle: RunHandle): OutputChunk[] {
  const chunks: OutputChunk[] = [];
  handle.onOutput((chunk) => chunks.push(chunk));
  return chunks;
}

function joined(chunks: OutputChunk[], stream: 'stdout' | 'stderr'): string {
  return chunks
    .filter((c) => c.stream === stream)
    .map((c) => c.data)
    .join('');
}

/** Gone, or a zombie: dead, just not yet reaped by init (which can take seconds in a container). */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

async function rejection(promise: Promise<unknown>): Promise<RunError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof RunError, `expected a RunError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the result to reject');
}

describe('exec runner', function () {
  let dir: string;
  const grandchildren: number[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'exec-runner-'));
  });

  after(() => {
    for (const pid of grandchildren) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone, as it should be.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  describe('exit status', () => {
    it('passes exit code 0 through and fills in the result', async () => {
      const result = await runProcess({ argv: ['true'] }).result;
      assert.equal(result.returncode, 0);
      assert.equal(result.signal_name, null);
      assert.equal(result.timed_out, false);
      assert.equal(result.cancelled, false);
      assert.match(result.started_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(result.duration_ms >= 0 && result.duration_ms < 10_000);
      assert.equal(result.dropped_bytes, 0);
    });

    it('passes a non-zero exit code through', async () => {
      const result = await runProcess({ argv: ['sh', '-c', 'exit 3'] }).result;
      assert.equal(result.returncode, 3);
      assert.equal(result.signal_name, null);
    });

    it('reports a signal that ended the child as a negative returncode', async () => {
      const result = await runProcess({ argv: ['sh', '-c', 'kill -INT $$'] }).result;
      assert.equal(result.returncode, -2);
      assert.equal(result.signal_name, 'SIGINT');
      assert.equal(result.timed_out, false);
    });
  });

  describe('timeout and cancellation', () => {
    it('ends a run at its deadline with SIGTERM', async () => {
      const result = await runProcess({ argv: ['sleep', '30'], timeoutMs: 300 }).result;
      assert.equal(result.returncode, -15);
      assert.equal(result.signal_name, 'SIGTERM');
      assert.equal(result.timed_out, true);
      assert.equal(result.cancelled, false);
      assert.ok(result.duration_ms >= 250, `duration ${result.duration_ms}`);
      assert.ok(result.duration_ms < 5000, `duration ${result.duration_ms}`);
    });

    it('escalates to SIGKILL when the child ignores SIGTERM', async () => {
      const handle = runProcess({ argv: ['bash', '-c', 'trap "" TERM; echo ready; sleep 30'], killGraceMs: 300 });
      await waitForOutput(handle, 'ready');
      handle.cancel();
      const result = await handle.result;
      assert.equal(result.returncode, -9);
      assert.equal(result.signal_name, 'SIGKILL');
      assert.equal(result.cancelled, true);
      assert.ok(result.duration_ms < 10_000, `duration ${result.duration_ms}`);
    });

    it('kills grandchildren in the process group on timeout', async () => {
      const pidFile = join(dir, 'grandchild.pid');
      const script = 'sleep 300 & echo $! > "$1"; echo ready; wait';
      const handle = runProcess({ argv: ['bash', '-c', script, 'bash', pidFile], timeoutMs: 2000 });
      const ready = waitForOutput(handle, 'ready');
      const result = await handle.result;
      await ready;
      const grandchild = Number(readFileSync(pidFile, 'utf8'));
      grandchildren.push(grandchild);
      assert.equal(result.timed_out, true);
      assert.equal(result.returncode, -15);
      assert.ok(isGone(grandchild), `grandchild ${grandchild} outlived the run`);
    });

    it('SIGKILLs a grandchild that ignores SIGTERM after its parent has exited', async () => {
      const pidFile = join(dir, 'stubborn.pid');
      // The grandchild writes its pid only once it ignores SIGTERM, and "ready" waits for that,
      // so the cancel below can never land before the trap is set.
      const script =
        '(trap "" TERM; echo $BASHPID > "$1.tmp"; mv "$1.tmp" "$1"; exec sleep 300) & ' +
        'while [ ! -s "$1" ]; do sleep 0.01; done; echo ready; wait';
      const handle = runProcess({ argv: ['bash', '-c', script, 'bash', pidFile], killGraceMs: 300 });
      await waitForOutput(handle, 'ready');
      const grandchild = Number(readFileSync(pidFile, 'utf8'));
      grandchildren.push(grandchild);
      handle.cancel();
      const result = await handle.result;
      assert.equal(result.returncode, -15, 'the leader itself obeys SIGTERM');
      assert.equal(result.cancelled, true);
      assert.ok(isGone(grandchild), `grandchild ${grandchild} outlived the run`);
      assert.ok(result.duration_ms >= 300, 'the result waited for the grace period and SIGKILL');
    });

    it('does not wait for a background process that keeps the output pipe open', async () => {
      const pidFile = join(dir, 'background.pid');
      const handle = runProcess({ argv: ['bash', '-c', 'sleep 300 & echo $! > "$1"; echo done', 'bash', pidFile] });
      const result = await handle.result;
      grandchildren.push(Number(readFileSync(pidFile, 'utf8')));
      assert.equal(result.returncode, 0);
      assert.equal(result.stdout_tail, 'done\n');
      assert.ok(result.duration_ms < 5000, `duration ${result.duration_ms}`);
    });

    it('cancel() ends the run and marks it cancelled', async () => {
      const handle = runProcess({ argv: ['sh', '-c', 'echo ready; exec sleep 30'], timeoutMs: 20_000 });
      assert.ok(typeof handle.pid === 'number' && handle.pid > 0);
      await waitForOutput(handle, 'ready');
      handle.cancel();
      handle.cancel();
      const result = await handle.result;
      assert.equal(result.returncode, -15);
      assert.equal(result.signal_name, 'SIGTERM');
      assert.equal(result.cancelled, true);
      assert.equal(result.timed_out, false);
      assert.equal(result.stdout_tail, 'ready\n');
    });

    it('cancel() after the run finished changes nothing', async () => {
      const handle = runProcess({ argv: ['sh', '-c', 'exit 4'] });
      const before = await handle.result;
      handle.cancel();
      const after = await handle.result;
      assert.deepEqual(after, before);
      assert.equal(after.cancelled, false);
    });
  });

  describe('failing to start', () => {
    it('rejects for a command that does not exist', async () => {
      const handle = runProcess({ argv: ['nosuchcmd-exec-runner'] });
      assert.equal(handle.pid, undefined);
      const err = await rejection(handle.result);
      assert.equal(err.code, 'SPAWN_FAILED');
      assert.equal(err.errno, 'ENOENT');
      assert.equal(err.message, 'cannot run "nosuchcmd-exec-runner": command not found');
    });

    it('rejects for a file that is not executable', async () => {
      const file = join(dir, 'not-executable.sh');
      writeFileSync(file, '#!/bin/sh\necho hi\n');
      chmodSync(file, 0o644);
      const err = await rejection(runProcess({ argv: [file] }).result);
      assert.equal(err.code, 'SPAWN_FAILED');
      assert.equal(err.errno, 'EACCES');
      assert.match(err.message, new RegExp(`^cannot run "${file}": permission denied`));
    });

    it('rejects for a working directory that does not exist, naming it', async () => {
      const missing = join(dir, 'nope');
      const err = await rejection(runProcess({ argv: ['true'], cwd: missing }).result);
      assert.equal(err.code, 'SPAWN_FAILED');
      assert.equal(err.message, `cannot run "true": working directory ${missing} does not exist`);
    });

    it('rejects invalid options instead of throwing', async () => {
      const err = await rejection(runProcess({ argv: [] }).result);
      assert.equal(err.code, 'INVALID_OPTIONS');
    });

    it('does not crash the process when nobody awaits a failed result', async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => {
        unhandled.push(reason);
      };
      process.on('unhandledRejection', onUnhandled);
      try {
        runProcess({ argv: ['nosuchcmd-exec-runner'] });
        runProcess({ argv: ['true'], cwd: join(dir, 'nope') });
        // A whole run later, the failures above have long been settled.
        await runProcess({ argv: ['true'] }).result;
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
      assert.deepEqual(unhandled, []);
    });
  });

  describe('output', () => {
    it('tells stdout from stderr and keeps each in order', async () => {
      const script = `for (let i = 0; i < 50; i++) { process.stdout.write('out' + i + '\\n'); process.stderr.write('err' + i + '\\n'); }`;
      const handle = runProcess({ argv: [node, '-e', script] });
      const chunks = collect(handle);
      const result = await handle.result;
      const expected = (prefix: string): string => Array.from({ length: 50 }, (_, i) => `${prefix}${i}\n`).join('');
      assert.equal(joined(chunks, 'stdout'), expected('out'));
      assert.equal(joined(chunks, 'stderr'), expected('err'));
      assert.equal(result.stdout_tail, expected('out'));
      assert.equal(result.stderr_tail, expected('err'));
      assert.equal(result.stdout_bytes, Buffer.byteLength(expected('out')));
      assert.equal(result.stderr_bytes, Buffer.byteLength(expected('err')));
    });

    it('keeps memory bounded while a child prints 200 MB', async function () {
      this.timeout(120_000);
      const total = 200 * 1024 * 1024;
      const maxBufferBytes = 64 * 1024;
      const script = 'const b = Buffer.alloc(1 << 20, 120); for (let i = 0; i < 200; i++) process.stdout.write(b);';
      const rssBefore = process.memoryUsage.rss();
      let peakRss = rssBefore;
      let streamed = 0;
      const handle = runProcess({ argv: [node, '-e', script], maxBufferBytes });
      handle.onOutput((chunk) => {
        streamed += chunk.data.length;
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
      });
      const result = await handle.result;
      assert.equal(result.returncode, 0);
      assert.equal(result.stdout_bytes, total);
      assert.equal(streamed, total);
      assert.ok(Buffer.byteLength(result.stdout_tail) <= maxBufferBytes);
      assert.equal(result.stdout_tail, 'x'.repeat(maxBufferBytes));
      assert.equal(result.dropped_bytes, total - maxBufferBytes);
      const growth = peakRss - rssBefore;
      assert.ok(growth < total / 4, `rss grew by ${(growth / 1e6).toFixed(1)} MB for ${total / 1e6} MB of output`);
    });

    it('decodes a multibyte character split across chunks', async () => {
      const gate = join(dir, 'utf8-gate');
      // Writes 'a' and the first byte of '€', then waits for the test to have seen that chunk.
      const script = `const fs = require('fs');
        fs.writeSync(1, Buffer.from([0x61, 0xe2]));
        const t = setInterval(() => {
          if (!fs.existsSync(process.argv[1])) return;
          clearInterval(t);
          fs.writeSync(1, Buffer.from([0x82, 0xac, 0x62, 0x0a]));
        }, 5);`;
      const handle = runProcess({ argv: [node, '-e', script, gate], timeoutMs: 20_000 });
      const chunks = collect(handle);
      await waitForOutput(handle, 'a');
      writeFileSync(gate, '');
      const result = await handle.result;
      assert.equal(result.timed_out, false);
      assert.equal(chunks[0].data, 'a', 'the incomplete character is held back, not emitted broken');
      assert.equal(joined(chunks, 'stdout'), 'a€b\n');
      assert.ok(!chunks.some((c) => c.data.includes('\uFFFD')));
      assert.equal(result.stdout_tail, 'a€b\n');
      assert.equal(result.stdout_bytes, 6);
    });

    it('survives a listener that throws, and serves the other listeners', async () => {
      const handle = runProcess({ argv: ['sh', '-c', 'echo one; echo two >&2; echo three'] });
      let thrown = 0;
      handle.onOutput(() => {
        thrown++;
        throw new Error('listener bug');
      });
      const chunks = collect(handle);
      const result = await handle.result;
      assert.equal(result.returncode, 0);
      assert.ok(thrown > 0);
      assert.equal(joined(chunks, 'stdout'), 'one\nthree\n');
      assert.equal(joined(chunks, 'stderr'), 'two\n');
    });

    it('stops calling a listener once it unsubscribes', async () => {
      const handle = runProcess({ argv: ['sh', '-c', 'echo first; echo second'] });
      const seen: string[] = [];
      const unsubscribe = handle.onOutput((chunk) => {
        seen.push(chunk.data);
        unsubscribe();
      });
      const all = collect(handle);
      await handle.result;
      assert.equal(seen.length, 1);
      assert.equal(joined(all, 'stdout'), 'first\nsecond\n');
    });
  });

  describe('command line, cwd and env', () => {
    it('does not interpret shell syntax by default', async () => {
      const result = await runProcess({ argv: ['echo', '$HOME', '|', 'wc', ';', 'false'] }).result;
      assert.equal(result.returncode, 0);
      assert.equal(result.stdout_tail, '$HOME | wc ; false\n');
    });

    it('runs a pipeline with shell: true', async () => {
      const result = await runProcess({ argv: ["head -c 1000000 /dev/zero | tr '\\0' x | wc -c"], shell: true }).result;
      assert.equal(result.returncode, 0);
      assert.equal(result.stdout_tail.trim(), '1000000');
    });

    it('uses $SHELL for shell: true, and reports a missing command as exit 127', async () => {
      const shell = await runProcess({ argv: ['echo $0'], shell: true, env: { SHELL: '/bin/sh' } }).result;
      assert.equal(shell.stdout_tail, '/bin/sh\n');
      const missing = await runProcess({ argv: ['nosuchcmd-exec-runner'], shell: true }).result;
      assert.equal(missing.returncode, 127);
    });

    it('runs in cwd with extra env merged over the inherited one', async () => {
      const script = 'console.log(process.cwd(), process.env.EXEC_RUNNER_TEST, Boolean(process.env.PATH))';
      const result = await runProcess({ argv: [node, '-e', script], cwd: dir, env: { EXEC_RUNNER_TEST: 'yes' } }).result;
      assert.equal(result.stdout_tail, `${dir} yes true\n`);
    });

    it('gives the child an empty stdin, so a read cannot hang the run', async () => {
      const result = await runProcess({ argv: ['sh', '-c', 'read line; echo "read=$?"'], timeoutMs: 20_000 }).result;
      assert.equal(result.timed_out, false);
      assert.equal(result.stdout_tail, 'read=1\n');
    });

    it('echoes the runId on the handle', async () => {
      const handle = runProcess({ argv: ['true'], runId: 'run-42' });
      assert.equal(handle.runId, 'run-42');
      await handle.result;
    });
  });
});

describe('BoundedLog', () => {
  it('keeps the last maxBytes bytes across wrap-arounds and counts the rest as dropped', () => {
    const log = new BoundedLog(10);
    let all = '';
    let seed = 7;
    for (let i = 0; i < 200; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const piece = String.fromCharCode(97 + (i % 26)).repeat(seed % 14);
      log.append(piece);
      all += piece;
      assert.equal(log.toString(), all.slice(-10));
      assert.equal(log.totalBytes, all.length);
      assert.equal(log.droppedBytes, all.length - log.keptBytes);
    }
  });

  it('does not show a multibyte character whose head was dropped', () => {
    const log = new BoundedLog(10);
    log.append('€€€€');
    assert.equal(log.keptBytes, 10);
    assert.equal(log.droppedBytes, 2);
    assert.equal(log.toString(), '€€€');
  });

  it('rejects a non-positive limit', () => {
    assert.throws(() => new BoundedLog(0), RangeError);
  });
});

// exec output streaming under load, held to what the streaming policy promises:
// - the run's log on the coordinator holds every byte `harness exec` printed (up to its 8 MiB cap,
//   which these runs stay under), whoever watches;
// - a live subscriber gets every byte, unless it fell behind: then the server skips live output
//   for it and says so (an `events:dropped` notice), and the run log has the rest.
//
// A fast printer coalesces many MB into one 20 ms batch; run-stream.ts splits it into pieces under
// the server's 1 MiB line cap (it once sent one line and lost it all: 0.25 of 100 MB arrived).
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { HarnessClient } from '../../src/client/client';
import { childEnv, cleanupAll, CLI, ensureCliBuilt, RawConnection, ServeProcess, tempDir, within } from '../support/harness-process';
import { Ping } from '../../src/protocol/meta';
import { RunLog } from '../../src/protocol/runs';

const MB = 1024 * 1024;
/** Whole 100-byte lines, under the run log's 8 MiB cap and over the 1 MiB line cap several times. */
const TOTAL = Math.floor((6 * MB) / 100) * 100;
const LINE = 'x'.repeat(99) + '\n';

/** Runs a fast printer of TOTAL bytes through `harness exec`; resolves with its run id once it exited 0. */
async function printThroughExec(socket: string): Promise<string> {
  const printer = `const b = Buffer.from(${JSON.stringify(LINE)}); let left = ${TOTAL / 100};
    (function go() { while (left-- > 0) if (!process.stdout.write(b)) return process.stdout.once('drain', go); })();`;
  const exec = spawn(process.execPath, [CLI, 'exec', '--', process.execPath, '-e', printer], {
    env: childEnv({ HARNESS_SOCKET: socket, HARNESS_WORKER_ID: 'printer' }),
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let stdout = '';
  exec.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const code = await within(new Promise((r) => exec.once('exit', r)), 60_000, 'harness exec');
  assert.equal(code, 0, stdout);
  return (JSON.parse(stdout) as { data: { run_id: string } }).data.run_id;
}

/** What a subscriber saw of one run. */
interface Seen {
  liveBytes: number;
  /** Live-output events the server said it skipped for this subscriber. */
  skipped: number;
}

/** The policy: live output complete, or the skip reported; and the run log complete either way. */
async function assertPolicy(socket: string, runId: string, seen: Seen): Promise<void> {
  assert.ok(seen.liveBytes <= TOTAL, `more live output than was printed: ${seen.liveBytes}`);
  if (seen.skipped === 0) {
    assert.equal(seen.liveBytes, TOTAL, `live output incomplete (${(seen.liveBytes / MB).toFixed(2)} of ${(TOTAL / MB).toFixed(2)} MB) and no skip reported`);
  }
  const client = await HarnessClient.connect(socket);
  try {
    const log = await client.call(RunLog, { run_id: runId });
    assert.equal(log.run.output_bytes, TOTAL, 'bytes the coordinator received');
    assert.equal(log.dropped_bytes, 0);
    const text = log.output.map((c) => c.data).join('');
    assert.equal(text.length, TOTAL, 'bytes in the run log');
    assert.ok(text === LINE.repeat(TOTAL / 100), 'the run log holds exactly what was printed, in order');
  } finally {
    client.close();
  }
}

describe('reliability: exec output streaming', function () {
  this.timeout(120_000);
  before(() => ensureCliBuilt());
  afterEach(cleanupAll);

  it('a subscriber that reads along gets all live output (or is told what was skipped); the run log has every byte', async () => {
    const dir = tempDir('hrel-');
    const socket = path.join(dir, 'h.sock');
    await ServeProcess.start(dir, socket);
    const sub = await HarnessClient.connect(socket);
    const seen: Seen = { liveBytes: 0, skipped: 0 };
    let runId: string | undefined;
    const finished = new Promise<void>((resolve) => {
      void sub.subscribe(['run:started', 'run:output', 'run:finished'], (e) => {
        const d = e.data as { run_id?: string; data?: string; count?: number; run?: { run_id: string } };
        if (e.event === 'run:started') runId ??= d.run!.run_id;
        else if (e.event === 'run:output') seen.liveBytes += Buffer.byteLength(d.data ?? '');
        else if (e.event === 'events:dropped') seen.skipped += d.count ?? 0;
        else if (e.event === 'run:finished' && d.run?.run_id === runId) resolve();
      });
    });
    await sub.call(Ping);
    const execRun = await printThroughExec(socket);
    await within(finished, 30_000, 'run:finished at the subscriber');
    sub.close();
    assert.equal(runId, execRun);
    await assertPolicy(socket, execRun, seen);
  });

  it('a subscriber that stops reading during the run is told how much live output it missed; the run log has every byte', async () => {
    const dir = tempDir('hrel-');
    const socket = path.join(dir, 'h.sock');
    await ServeProcess.start(dir, socket);
    const sub = await RawConnection.connect(socket);
    await sub.ok({ command: 'subscribe', events: ['run:output', 'run:finished'] });
    sub.socket.pause();
    // Reading resumes when the run is over, or after 3 s: well before the server gives up on a
    // reader that does not drain at all (5 s), so this one is slow, not dead.
    const resume = setTimeout(() => sub.socket.resume(), 3000);
    const runId = await printThroughExec(socket);
    clearTimeout(resume);
    sub.socket.resume();
    const seen: Seen = { liveBytes: 0, skipped: 0 };
    for (;;) {
      const e = await sub.next(30_000);
      if (e.event === 'run:output' && e.data.run_id === runId) seen.liveBytes += Buffer.byteLength(e.data.data);
      else if (e.event === 'events:dropped') seen.skipped += e.data.count;
      else if (e.event === 'run:finished' && e.data.run.run_id === runId) break;
    }
    assert.ok(!sub.closed, 'the slow reader was kept');
    sub.close();
    await assertPolicy(socket, runId, seen);
  });
});

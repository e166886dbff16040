// exec output streaming under load: every byte a fast printer writes through `harness exec` must
// reach a subscriber of the coordinator (run:output) and the run's log.
//
// A fast printer coalesces many MB into one 20 ms batch; run-stream.ts splits it into pieces under
// the server's 1 MiB line cap (it once sent one line and lost it all: 0.25 of 100 MB arrived).
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { HarnessClient } from '../../src/client/client';
import { childEnv, cleanupAll, CLI, ensureCliBuilt, ServeProcess, tempDir, within } from '../support/harness-process';
import { Ping } from '../../src/protocol/meta';

const MB = 1024 * 1024;

describe('reliability: exec output streaming', function () {
  this.timeout(120_000);
  before(() => ensureCliBuilt());
  afterEach(cleanupAll);

  it('delivers every byte of a fast printer to a run:output subscriber', async () => {
    const dir = tempDir('hrel-');
    const socket = path.join(dir, 'h.sock');
    await ServeProcess.start(dir, socket);
    const sub = await HarnessClient.connect(socket);
    let bytes = 0;
    let runId: string | undefined;
    const finished = new Promise<void>((resolve) => {
      void sub.subscribe(['run:started', 'run:output', 'run:finished'], (e) => {
        const d = e.data as { run_id?: string; data?: string; run?: { run_id: string } };
        if (e.event === 'run:started') runId ??= d.run!.run_id;
        else if (e.event === 'run:output') bytes += Buffer.byteLength(d.data ?? '');
        else if (e.event === 'run:finished' && d.run?.run_id === runId) resolve();
      });
    });
    await sub.call(Ping);
    const total = Math.floor((16 * MB) / 100) * 100; // whole 100-byte lines
    const printer = `const b = Buffer.from('x'.repeat(99) + '\\n'); let left = ${total / 100};
      (function go() { while (left-- > 0) if (!process.stdout.write(b)) return process.stdout.once('drain', go); })();`;
    const exec = spawn(process.execPath, [CLI, 'exec', '--', process.execPath, '-e', printer], {
      env: childEnv({ HARNESS_SOCKET: socket, HARNESS_WORKER_ID: 'printer' }),
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    const code = await within(new Promise((r) => exec.once('exit', r)), 60_000, 'harness exec');
    assert.equal(code, 0);
    await within(finished, 30_000, 'run:finished at the subscriber');
    sub.close();
    assert.equal(bytes, total, `the subscriber got ${(bytes / MB).toFixed(2)} of ${total / MB} MB`);
  });
});

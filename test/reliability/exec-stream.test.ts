// exec output streaming under load: every byte a fast printer writes through `harness exec` must
// reach a subscriber of the coordinator (run:output) and the run's log.
//
// KNOWN BUG, found by `npm run bench -- exec` (issue 9): src/cli/run-stream.ts coalesces 20 ms of
// output into ONE run_output request with no size bound; a fast printer makes lines of many MB,
// the server refuses them ("message too long", 1 MiB line cap) and the send's error reply is
// ignored, so the output is silently lost (0.25 of 100 MB arrived). The fix belongs in
// run-stream.ts (split `data` into pieces well under the cap, e.g. 256 KB). Pending until then:
// set HARNESS_KNOWN_BUGS=1 to run it.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { HarnessClient } from '../../src/client/client';
import { childEnv, cleanupAll, CLI, ensureCliBuilt, ServeProcess, tempDir, within } from '../support/harness-process';

const MB = 1024 * 1024;

describe('reliability: exec output streaming', function () {
  this.timeout(120_000);
  before(() => ensureCliBuilt());
  afterEach(cleanupAll);

  it('delivers every byte of a fast printer to a run:output subscriber', async function () {
    if (process.env.HARNESS_KNOWN_BUGS !== '1') {
      console.log('      PENDING: known bug in src/cli/run-stream.ts (run_output lines over the 1 MiB cap are lost); HARNESS_KNOWN_BUGS=1 runs it');
      return this.skip();
    }
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
    await sub.request('ping');
    const total = 16 * MB;
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

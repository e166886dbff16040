// Under hostile load (issue 19), against a real `harness serve`:
//  - the pipelining flood: one connection writes thousands of task_list requests (400 tasks with
//    1000-byte descriptions: about 0.5 MB per reply) in one go and does not read, while other
//    clients claim and release; then it reads. Targets: the others' claim p99 under 50 ms while
//    it holds and while it drains, the server's RSS under 300 MB, every reply to the flooder, in
//    order. The scenario is the bench's `flood` section (bench/flood.ts), which prints the same
//    figures. The test prints them against the targets and asserts the latency with a generous
//    margin (5 × the target, plus the p99 the same claims had just before the flood: on a shared
//    2-core machine the others' own noise is tens of ms), so a busy machine does not fail it and
//    a stall (seconds, before the fix) does;
//  - the connect burst: more clients connecting at once than Node's default listen backlog (511)
//    holds, while the coordinator is not accepting (stopped), all connect; and the client library
//    rides out a full accept queue (EAGAIN) by retrying.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { runFlood } from '../../bench/flood';
import { HarnessClient } from '../../src/client/client';
import { Ping } from '../../src/protocol/meta';
import { childEnv, cleanupAll, ensureCliBuilt, ROOT, ServeProcess, tempDir, within } from '../support/harness-process';
import { scale, sleep } from '../support/reliability';

const FLOOD_REQUESTS = scale(2000, 5000);
const HOLD_MS = scale(2000, 5000);
const TARGET_CLAIM_P99_MS = 50;
const CLAIM_P99_MARGIN = 5;
const TARGET_RSS_MB = 300;
/** More than Node's default listen backlog (511) lets wait. */
const BURST = 1000;

const ms = (x: number) => `${x.toFixed(1)} ms`;

describe('reliability: hostile load on the socket', function () {
  this.timeout(300_000);
  before(() => ensureCliBuilt());
  afterEach(cleanupAll);

  it(`a connection pipelining ${FLOOD_REQUESTS} task_list requests without reading stalls nobody, stays bounded, and gets every reply in order`, async () => {
    const r = await runFlood({ root: ROOT, requests: FLOOD_REQUESTS, holdMs: HOLD_MS, scratch: tempDir('hrel-flood-') });
    console.log(
      `      ${r.requests} × ${(r.reply_bytes_each / 1024).toFixed(0)} KB replies; others' claims: ` +
        `before the flood p50 ${ms(r.quiet.p50)} p99 ${ms(r.quiet.p99)} (n ${r.quiet.n}), held p50 ${ms(r.held.p50)} p99 ${ms(r.held.p99)} max ${ms(r.held.max)} (n ${r.held.n}), ` +
        `draining p50 ${ms(r.draining.p50)} p99 ${ms(r.draining.p99)} max ${ms(r.draining.max)} (n ${r.draining.n}); ` +
        `server RSS ${r.baseline_rss_mb.toFixed(0)} → peak ${r.peak_rss_mb.toFixed(0)} MB; ` +
        `flooder: ${r.flooder.replies}/${r.requests} replies, ${r.flooder.in_order ? 'in order' : `OUT OF ORDER at ${JSON.stringify(r.flooder.first_bad)}`}, drained in ${ms(r.flooder.drain_ms)}`,
    );
    assert.equal(r.flooder.closed_early, false, `the server dropped the flooding connection after ${r.flooder.replies} replies`);
    assert.equal(r.flooder.replies, r.requests, 'every request answered');
    assert.ok(r.flooder.in_order, `replies out of order: ${JSON.stringify(r.flooder.first_bad)}`);
    assert.equal(r.flooder.errors, 0, 'every task_list answered ok');
    assert.ok(r.held.n > 0 && r.draining.n > 0, 'the others claimed in both phases');
    console.log(
      `      targets: claim p99 < ${TARGET_CLAIM_P99_MS} ms (held ${r.held.p99 < TARGET_CLAIM_P99_MS ? 'met' : 'NOT met'}, ` +
        `draining ${r.draining.p99 < TARGET_CLAIM_P99_MS ? 'met' : 'NOT met'}), RSS < ${TARGET_RSS_MB} MB (${r.peak_rss_mb < TARGET_RSS_MB ? 'met' : 'NOT met'})`,
    );
    const allowed = CLAIM_P99_MARGIN * TARGET_CLAIM_P99_MS + r.quiet.p99;
    assert.ok(r.held.p99 < allowed, `others' claim p99 while the flooder holds its replies: ${ms(r.held.p99)} (allowed ${ms(allowed)})`);
    assert.ok(r.draining.p99 < allowed, `others' claim p99 while the flooder drains: ${ms(r.draining.p99)} (allowed ${ms(allowed)})`);
    assert.ok(r.peak_rss_mb < TARGET_RSS_MB, `server peak RSS ${r.peak_rss_mb.toFixed(0)} MB`);
  });

  describe('a burst of connects', () => {
    it(`${BURST} clients connecting at once to a coordinator that is not accepting for a moment all get in`, async () => {
      const dir = tempDir('hrel-');
      const socket = path.join(dir, 'h.sock');
      const serve = await ServeProcess.start(dir, socket);
      // Stopped, it accepts nothing: every connect waits in the listen backlog, or is refused.
      process.kill(serve.pid, 'SIGSTOP');
      const sockets: net.Socket[] = [];
      let refused: Record<string, number> = {};
      try {
        const outcomes = await Promise.all(
          Array.from(
            { length: BURST },
            () =>
              new Promise<string>((resolve) => {
                const s = net.connect(socket);
                sockets.push(s);
                s.once('connect', () => resolve('connected'));
                s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
              }),
          ),
        );
        refused = outcomes.filter((o) => o !== 'connected').reduce<Record<string, number>>((m, o) => ({ ...m, [o]: (m[o] ?? 0) + 1 }), {});
      } finally {
        process.kill(serve.pid, 'SIGCONT');
      }
      console.log(`      ${BURST} connects while stopped: ${BURST - Object.values(refused).reduce((a, b) => a + b, 0)} queued, refused ${JSON.stringify(refused)}`);
      assert.deepEqual(refused, {}, 'connects refused while the coordinator was busy');
      // And once it runs again, every one of them is served.
      const replies = await within(
        Promise.all(
          sockets.map(
            (s) =>
              new Promise<string>((resolve, reject) => {
                s.setEncoding('utf8');
                let got = '';
                s.on('data', (d: string) => {
                  got += d;
                  if (got.includes('\n')) resolve(got);
                });
                s.once('close', () => reject(new Error('closed before its reply')));
                s.write('{"command":"ping"}\n');
              }),
          ),
        ),
        60_000,
        'every queued connection to be answered',
      );
      assert.ok(replies.every((r) => JSON.parse(r).data.pong === true));
      for (const s of sockets) s.destroy();
      await serve.stop();
    });

    it('the client library retries EAGAIN (a full accept queue) without being asked to retry', async () => {
      // A listener with a backlog of 1, stopped: the second connect onwards is refused EAGAIN
      // until it runs again, as a coordinator's would be in a big enough burst.
      const socket = path.join(tempDir('hrel-'), 'q.sock');
      const server = spawn(
        process.execPath,
        [
          '-e',
          `const net = require('node:net');
           net.createServer((s) => s.on('data', () => s.write('{"status":"ok","data":{"pong":true}}\\n')))
             .listen({ path: process.argv[1], backlog: 1 }, () => console.log('ready'));`,
          socket,
        ],
        { env: childEnv(), stdio: ['ignore', 'pipe', 'inherit'] },
      );
      try {
        await within(new Promise((r) => createInterface({ input: server.stdout! }).once('line', r)), 10_000, 'the listener');
        process.kill(server.pid!, 'SIGSTOP');
        const probes: net.Socket[] = [];
        const refusal = await new Promise<string>((resolve) => {
          for (let i = 0; i < 4; i++) probes.push(net.connect(socket).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message)));
          setTimeout(() => resolve('none refused'), 5000).unref();
        });
        for (const p of probes) p.destroy();
        assert.equal(refusal, 'EAGAIN', 'the stopped listener refuses connects past its backlog');
        const connecting = Array.from({ length: 100 }, () => HarnessClient.connect(socket));
        // Long enough for every client's first attempt to be refused; then the listener runs again.
        await sleep(300);
        process.kill(server.pid!, 'SIGCONT');
        const clients = await within(Promise.all(connecting), 20_000, 'every client to connect');
        const pongs = await Promise.all(clients.map((c) => c.call(Ping)));
        assert.equal(pongs.filter((p) => p.pong).length, 100);
        for (const c of clients) c.close();
      } finally {
        server.kill('SIGKILL');
      }
    });
  });
});

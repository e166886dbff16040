// `npm run demo` as a newcomer runs it: the real script, coordinator and workers. It must show
// parallel work: every worker takes tasks, none leaves while the plan is unfinished, and tasks
// run at the same time.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { childEnv, ensureCliBuilt, ROOT, within } from '../support/harness-process';

describe('the demo (npm run demo)', function () {
  this.timeout(180_000);
  before(() => ensureCliBuilt());

  it('three workers share the plan in parallel and stay until it is done', async () => {
    const demo = spawn(process.execPath, [path.join(ROOT, 'scripts', 'demo.mjs')], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    demo.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    demo.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await within(new Promise((r) => demo.once('exit', r)), 150_000, 'the demo to finish');
    assert.equal(code, 0, out);
    assert.match(out, /12 of 12 tasks completed/);
    assert.doesNotMatch(out, /idle for .*: exiting/, 'no worker leaves on idleness while tasks are blocked');
    for (const name of ['alice', 'bob', 'carol']) {
      const line = new RegExp(`agent-${name}\\s+(\\d+) task\\(s\\), busy ([\\d.]+) s`).exec(out);
      assert.ok(line, `no summary line for agent-${name}:\n${out}`);
      assert.ok(Number(line[1]) >= 1, `agent-${name} did no task:\n${out}`);
    }
    const peak = /Up to (\d+) tasks ran at once/.exec(out);
    assert.ok(peak, out);
    assert.ok(Number(peak[1]) >= 2, `tasks never overlapped:\n${out}`);
    // Every worker stays to the end and is then stopped by the demo (not by idleness): each says
    // "done". (Where its lines fall among the other processes' output is up to the pipes.)
    for (const name of ['alice', 'bob', 'carol']) assert.match(out, new RegExp(`\\[agent-${name}\\] done: \\d+ task\\(s\\)`), out);
  });
});

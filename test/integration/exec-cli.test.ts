// `harness exec` as a real process: its exit status, by default and with --exit-code, against a
// real coordinator (the run is registered and streamed) and without one.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { childEnv, ROOT, runCli, useDaemon, type Daemon } from '../support/harness-process';

describe('harness exec: exit status (real processes)', function () {
  this.timeout(60_000);
  let d: Daemon;
  useDaemon((daemon) => (d = daemon));

  const exec = (...args: string[]) => runCli(['exec', ...args], d.env, d.dir);

  it('by default exits 0 whenever the command ran, whatever it returned; the JSON says how it ended', async () => {
    const r = await exec('--', 'sh', '-c', 'exit 3');
    assert.equal(r.code, 0);
    assert.equal(r.json.data.returncode, 3);
  });

  it('--exit-code exits with the command’s own status, and still prints the JSON', async () => {
    for (const status of [0, 1, 3, 255]) {
      const r = await exec('--exit-code', '--', 'sh', '-c', `exit ${status}`);
      assert.equal(r.code, status);
      assert.equal(r.json.status, 'ok');
      assert.equal(r.json.data.returncode, status);
    }
  });

  it('--exit-code: 124 on timeout, as timeout(1); 128+N for a command ended by signal N', async () => {
    const timedOut = await exec('--exit-code', '--timeout', '0.5', '--kill-after', '1', '--', 'sleep', '30');
    assert.equal(timedOut.code, 124);
    assert.equal(timedOut.json.data.timed_out, true);
    const killed = await exec('--exit-code', '--', 'sh', '-c', 'kill -KILL $$');
    assert.equal(killed.code, 128 + 9);
    assert.equal(killed.json.data.signal_name, 'SIGKILL');
  });

  it('--exit-code: 127 for a command not found, 126 for one that cannot run, as timeout(1) and shells', async () => {
    const missing = await exec('--exit-code', '--', 'no-such-command-for-harness');
    assert.equal(missing.code, 127);
    assert.equal(missing.json.code, 'SPAWN_FAILED');
    const notExecutable = path.join(d.dir, 'plain.txt');
    fs.writeFileSync(notExecutable, 'not a program\n', { mode: 0o644 });
    const refused = await exec('--exit-code', '--', notExecutable);
    assert.equal(refused.code, 126);
    assert.match(refused.json.message, /permission denied/);
  });

  it('--exit-code works without a coordinator too', async () => {
    const env = childEnv({ HARNESS_SOCKET: path.join(d.dir, 'nobody-here.sock') });
    const r = await runCli(['exec', '--exit-code', '--', 'sh', '-c', 'exit 5'], env, d.dir);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /no coordinator reachable/);
  });

  it('the README’s exec example uses --exit-code where a failure must stop what follows', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### exec'), readme.indexOf('### work'));
    assert.match(section, /harness exec --exit-code [^\n]*-- npm test && /);
  });
});

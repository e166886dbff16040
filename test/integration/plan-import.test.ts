// `harness plan import` of a plan bigger than one request line: staged in pieces, imported at once.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanupAll, ensureCliBuilt, runCli, startDaemon } from '../support/harness-process';

describe('plan import beyond the 1 MiB line cap (real processes)', function () {
  this.timeout(60_000);
  before(() => ensureCliBuilt());
  afterEach(cleanupAll);

  const bigPlan = (n: number, extra: object[] = []) => ({
    tasks: [
      ...Array.from({ length: n }, (_, i) => ({
        id: `task-${i}`,
        description: `a realistic description of step ${i} of the migration, long enough to matter`,
        dependencies: i > 0 ? [`task-${i - 1}`] : [],
        priority: i % 10,
        payload: { shard: i, files: [`src/module-${i}.ts`, `test/module-${i}.test.ts`] },
      })),
      ...extra,
    ],
  });

  it('imports a 2 MB plan file atomically through the CLI', async () => {
    const d = await startDaemon();
    const file = path.join(d.dir, 'big.json');
    fs.writeFileSync(file, JSON.stringify(bigPlan(10_000)));
    assert.ok(fs.statSync(file).size > 1.5 * 1024 * 1024);
    const r = await runCli(['plan', 'import', file], d.env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.data.count, 10_000);
    const listed = await runCli(['task', 'list', '--status', 'pending'], d.env);
    assert.equal(listed.json.data.tasks.length, 10_000);
  });

  it('a big plan with a cycle at its very end is refused whole: nothing stored', async () => {
    const d = await startDaemon();
    const file = path.join(d.dir, 'cyclic.json');
    fs.writeFileSync(file, JSON.stringify(bigPlan(10_000, [{ id: 'x', dependencies: ['y'] }, { id: 'y', dependencies: ['x'] }])));
    const r = await runCli(['plan', 'import', file], d.env);
    assert.equal(r.code, 1);
    assert.match(r.json.message, /cycle/);
    const listed = await runCli(['task', 'list'], d.env);
    assert.equal(listed.json.data.tasks.length, 0);
  });
});

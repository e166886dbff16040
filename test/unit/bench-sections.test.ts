import * as assert from 'node:assert/strict';
import { runSections } from '../../bench/run-sections';
import type { BenchOptions, Section } from '../../bench/section';

const options: BenchOptions = { quick: true, runs: 1, self: 'bench.js', root: '.' };

const figures = (name: string): Section => ({
  name,
  description: name,
  run: async () => ({ tables: [{ title: `${name} figures`, columns: ['what', 'ms'], rows: [['x', '1']] }], data: { name } }),
});

describe('bench: running the sections', () => {
  it('a failing section is reported as failed, and the figures of the others are kept', async () => {
    const failing: Section = {
      name: 'startup',
      description: 'fails',
      run: async () => {
        throw new Error('harness serve exited with SIGTERM on SIGTERM');
      },
    };
    const printed: string[] = [];
    const report = await runSections([figures('core'), failing, figures('exec')], options, (t) => printed.push(t));
    assert.deepEqual(report.failed, ['startup']);
    assert.deepEqual(Object.keys(report.sections), ['core', 'startup', 'exec']);
    assert.deepEqual((report.sections.core as { data: unknown }).data, { name: 'core' });
    assert.deepEqual((report.sections.exec as { data: unknown }).data, { name: 'exec' });
    assert.match((report.sections.startup as { error: string }).error, /exited with SIGTERM on SIGTERM/);
    const out = printed.join('\n');
    assert.match(out, /== startup FAILED .*==\n[\s\S]*exited with SIGTERM on SIGTERM/);
    assert.match(out, /exec figures/, 'the sections after the failed one still ran');
  });
});

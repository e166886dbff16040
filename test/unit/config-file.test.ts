// The one reader of config.json: sections composed into one schema, one error policy.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { readConfigFile } from '../../src/config/file';
import { silentLogger } from '../../src/core/log';
import { CONFIG_SECTIONS, readHarnessConfig } from '../../src/config/harness';
import { startService } from '../../src/server/service';
import { rejects } from '../support/primitives';
import { tempDir } from '../support/stores';

describe('config.json', () => {
  let dir: string;
  const write = (json: unknown) => fs.writeFileSync(path.join(dir, 'config.json'), typeof json === 'string' ? json : JSON.stringify(json));
  beforeEach(() => (dir = tempDir()));

  it('no file: every section absent (its defaults apply)', () => {
    assert.deepEqual(readConfigFile(dir, CONFIG_SECTIONS), { file: undefined, config: {} });
  });

  it("reads every feature's section with its own schema and defaults", () => {
    write({ recovery: { command: 'notify-send gone' }, isolation: { copy: ['.env'] } });
    assert.deepEqual(readHarnessConfig(dir), {
      recovery: { command: 'notify-send gone', timeout_seconds: 60 },
      isolation: { copy: ['.env'] },
    });
  });

  it('a feature adds a section by giving its schema; the file is checked as one', () => {
    write({ webhooks: { url: 'http://127.0.0.1:9/hook' }, isolation: {} });
    const sections = { ...CONFIG_SECTIONS, webhooks: z.strictObject({ url: z.string().url() }) };
    assert.deepEqual(readConfigFile(dir, sections).config.webhooks, { url: 'http://127.0.0.1:9/hook' });
  });

  it('a bad file is INVALID_CONFIG naming the file and the field: a bad value, an unknown field, an unknown section, bad JSON', async () => {
    const file = path.join(dir, 'config.json');
    write({ recovery: { command: 'x', timeout_seconds: -1 } });
    let e = await rejects(() => readHarnessConfig(dir), 'INVALID_CONFIG', `${file}: recovery.timeout_seconds:`);
    assert.deepEqual(e.details, { file, field: 'recovery.timeout_seconds' });
    write({ recovery: { comand: 'x' } });
    e = await rejects(() => readHarnessConfig(dir), 'INVALID_CONFIG', 'recovery.comand: unknown field');
    write({ recovery: { command: 'x' }, recovry: {} });
    e = await rejects(() => readHarnessConfig(dir), 'INVALID_CONFIG', 'recovry: unknown field');
    assert.equal(e.details!.field, 'recovry');
    write('{ "recovery": ');
    await rejects(() => readHarnessConfig(dir), 'INVALID_CONFIG', `${file} is not valid JSON`);
  });

  it('is read from the state directory the coordinator uses, and a bad one stops it from starting', async () => {
    const workspace = tempDir();
    const stateDir = path.join(tempDir(), 'elsewhere');
    fs.mkdirSync(stateDir);
    fs.writeFileSync(path.join(stateDir, 'config.json'), JSON.stringify({ isolation: { directory: 5 } }));
    fs.mkdirSync(path.join(workspace, '.harness'));
    fs.writeFileSync(path.join(workspace, '.harness', 'config.json'), '{}'); // not this one
    await rejects(
      startService({ workspace, stateDir, socketPath: path.join(workspace, 'h.sock'), log: silentLogger }),
      'INVALID_CONFIG',
      `${path.join(stateDir, 'config.json')}: isolation.directory`,
    );
  });
});

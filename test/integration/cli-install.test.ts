// Getting `harness` on the PATH outside VS Code, exactly as the README says: `npm install -g .`
// from a clone (into a temp prefix, not the machine's), then the command used from the PATH.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { childEnv, cleanupAll, ensureCliBuilt, ROOT, ServeProcess, tempDir } from '../support/harness-process';

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; publisher: string; version: string };

describe('harness on the PATH outside VS Code (README)', function () {
  this.timeout(120_000);
  before(() => ensureCliBuilt());
  after(cleanupAll);

  it('`npm install -g .` from a built clone puts a working harness on the PATH', async () => {
    const line = readme.split('\n').find((l) => l.includes('npm install -g .'));
    assert.ok(line, 'the README gives no `npm install -g .` command');
    assert.match(line, /^npm ci && npm run build && npm install -g \. /, 'it builds before it installs: the command is dist/cli.js');
    const prefix = tempDir('hprefix-');
    execFileSync('npm', ['install', '-g', '.', '--prefix', prefix, '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'pipe' });
    const env = childEnv({ PATH: `${path.join(prefix, 'bin')}${path.delimiter}${process.env.PATH}` });
    const sh = (script: string) => execFileSync('sh', ['-c', script], { env, encoding: 'utf8', cwd: tempDir() });
    assert.equal(sh('command -v harness').trim(), path.join(prefix, 'bin', 'harness'));
    assert.match(sh('harness --help'), /^usage: harness <command>/);
    // A real use from the PATH: a coordinator, a task added through it.
    const dir = tempDir();
    const socket = path.join(dir, 'h.sock');
    await ServeProcess.start(dir, socket);
    const added = JSON.parse(sh(`HARNESS_SOCKET='${socket}' harness task add --id on-the-path`));
    assert.equal(added.data.task.id, 'on-the-path');
  });

  it('the README names the folder the installed extension’s CLI is in, for this version', () => {
    assert.ok(
      readme.includes(`~/.vscode/extensions/${pkg.publisher}.${pkg.name}-${pkg.version}/dist/cli.js`),
      'the alias in the README does not match package.json (publisher.name-version)',
    );
  });
});

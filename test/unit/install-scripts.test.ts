import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '../..');

/**
 * The packages of a lock file that have install scripts, by name. Optional ones are left out: npm
 * installs none whose script nobody allowed, and says nothing (keytar, for vsce's `login`).
 */
function withInstallScripts(lockFile: string): string[] {
  const lock = JSON.parse(fs.readFileSync(lockFile, 'utf8')) as {
    packages: Record<string, { hasInstallScript?: boolean; optional?: boolean; name?: string }>;
  };
  return Object.entries(lock.packages)
    .filter(([key, p]) => key !== '' && p.hasInstallScript && !p.optional)
    .map(([key, p]) => p.name ?? key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length))
    .sort();
}

/** Names `allowScripts` decides on, allowed or denied: `name` or `name@version` keys. */
function decided(packageFile: string): string[] {
  const pkg = JSON.parse(fs.readFileSync(packageFile, 'utf8')) as { allowScripts?: Record<string, boolean> };
  return Object.keys(pkg.allowScripts ?? {}).map((k) => k.replace(/(?<=.)@[^@/]*$/, ''));
}

describe('npm install scripts', () => {
  // npm 11 warns at every `npm ci` about dependencies whose install scripts allowScripts does not
  // decide on; each one is decided in package.json, so installs are quiet and deliberate.
  for (const dir of ['.', 'test/vscode-host', 'test/vscode-host/node22']) {
    it(`every dependency with an install script is allowed or denied in ${dir}/package.json`, () => {
      const undecided = withInstallScripts(path.join(ROOT, dir, 'package-lock.json')).filter((n) => !decided(path.join(ROOT, dir, 'package.json')).includes(n));
      assert.deepEqual(undecided, [], `decide on these in ${dir}/package.json "allowScripts" (and say why in the README)`);
    });
  }

  it('the README says what the decisions are', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const name of decided(path.join(ROOT, 'package.json'))) assert.ok(readme.includes(name), `README does not mention ${name}`);
  });
});

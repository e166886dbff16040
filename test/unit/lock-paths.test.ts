import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveLockPath } from '../../src/server/paths';
import { rejects } from '../support/primitives';

describe('lock paths on disk (symlinks)', () => {
  let root: string;
  let outside: string;
  before(function () {
    if (process.platform === 'win32') this.skip();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'lock-root-'));
    outside = fs.mkdtempSync(path.join(os.tmpdir(), 'lock-out-'));
    fs.mkdirSync(path.join(root, 'src'));
    fs.writeFileSync(path.join(root, 'src', 'a.ts'), '');
    fs.symlinkSync(outside, path.join(root, 'escape'));
    fs.symlinkSync('/etc/passwd', path.join(root, 'passwd'));
    fs.symlinkSync(path.join(outside, 'not-yet'), path.join(root, 'dangling'));
    fs.symlinkSync('src', path.join(root, 'alias'));
  });
  after(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it('normalizes paths, existing or not, relative to the workspace', () => {
    assert.equal(resolveLockPath(root, 'src/a.ts'), 'src/a.ts');
    assert.equal(resolveLockPath(root, path.join(root, 'src', 'new', 'file.txt')), 'src/new/file.txt');
    assert.equal(resolveLockPath(root, '.'), '.');
  });

  it('keys two names of one file as one lock', () => {
    assert.equal(resolveLockPath(root, 'alias/a.ts'), 'src/a.ts');
    assert.equal(resolveLockPath(root, 'alias/b/new.ts'), 'src/b/new.ts');
  });

  it('refuses .. escapes, absolute paths outside, and symlinks leading out, dangling ones too', async () => {
    await rejects(() => resolveLockPath(root, '../x'), 'PATH_OUTSIDE_WORKSPACE', 'outside the workspace');
    await rejects(() => resolveLockPath(root, '/etc/passwd'), 'PATH_OUTSIDE_WORKSPACE', '/etc/passwd');
    await rejects(() => resolveLockPath(root, 'passwd'), 'PATH_OUTSIDE_WORKSPACE', 'symbolic link');
    await rejects(() => resolveLockPath(root, 'escape/file'), 'PATH_OUTSIDE_WORKSPACE', 'symbolic link');
    await rejects(() => resolveLockPath(root, 'escape/new/deeper'), 'PATH_OUTSIDE_WORKSPACE');
    await rejects(() => resolveLockPath(root, 'dangling'), 'PATH_OUTSIDE_WORKSPACE', 'not-yet');
  });
});

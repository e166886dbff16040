// Which workspace a command run in some folder is about (protocol/address.ts enclosingWorkspace):
// the way git finds its repository from a subfolder, bounded so that a stray state folder higher
// up (in the home folder, above a repository) never captures unrelated work.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { enclosingWorkspace } from '../../src/protocol/address';

describe('the workspace a folder belongs to', () => {
  let root: string;
  const mk = (...parts: string[]) => {
    const dir = path.join(root, ...parts);
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  };
  beforeEach(() => (root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'hws-')))));
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('a subfolder of a workspace (one holding .harness) belongs to it', () => {
    const ws = mk('ws');
    mk('ws', '.harness');
    assert.equal(enclosingWorkspace(mk('ws', 'src', 'deep')), ws);
    assert.equal(enclosingWorkspace(ws), ws);
  });

  it('an isolated worktree under the state folder belongs to the workspace, also before the state folder is there', () => {
    assert.equal(enclosingWorkspace(path.join(root, 'ws', '.harness', 'worktrees', 'agent-1', 'src')), path.join(root, 'ws'));
  });

  it('looks no higher than the top of a git repository, nor at the home folder; else the folder itself', () => {
    mk('outer', '.harness');
    const repo = mk('outer', 'repo');
    mk('outer', 'repo', '.git');
    const inRepo = mk('outer', 'repo', 'src');
    assert.equal(enclosingWorkspace(inRepo), inRepo, 'the repository has no .harness: its own folder, not the one above');
    const home = mk('home');
    mk('home', '.harness');
    const project = mk('home', 'project', 'src');
    assert.equal(enclosingWorkspace(project, home), project, 'a .harness in the home folder captures nothing');
    assert.equal(enclosingWorkspace(mk('plain', 'dir')), path.join(root, 'plain', 'dir'));
  });
});

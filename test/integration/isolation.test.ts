// Per-worker isolation with REAL git repositories in temp dirs, real `git worktree` commands, and
// real processes: a `harness serve` on the repository and the `harness` CLI against it. Git is
// kept away from the machine's configuration (GIT_CONFIG_NOSYSTEM, a temp HOME and global config).
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cleanup, isolate, listIsolated, workerEnvironment } from '../../src/isolation/index';
import { readHarnessConfig } from '../../src/config/harness';
import {
  childEnv,
  cleanupAll,
  ensureCliBuilt,
  RawConnection,
  runCli,
  ServeProcess,
  tempDir,
  type CliResult,
} from '../support/harness-process';

/** An environment in which git sees only what the test sets up. */
function isolatedGitEnv(): NodeJS.ProcessEnv {
  const home = tempDir('hs-home-');
  const globalConfig = path.join(home, 'gitconfig');
  fs.writeFileSync(
    globalConfig,
    '[user]\n\tname = Harness Test\n\temail = harness@test.invalid\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n',
  );
  return childEnv({
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: globalConfig,
    // A temp dir must never be taken for part of a repository above it.
    GIT_CEILING_DIRECTORIES: fs.realpathSync(os.tmpdir()),
    HARNESS_WORKER_ID_FILE: path.join(home, 'worker-id'),
  });
}

interface Workspace {
  dir: string;
  env: NodeJS.ProcessEnv;
  serve: ServeProcess;
  socket: string;
  /** Runs `harness ...args` against this workspace's coordinator, from `cwd` (default the workspace). */
  cli(args: string[], cwd?: string): Promise<CliResult>;
  git(args: string[], cwd?: string): string;
}

async function workspace(options: { git: boolean; config?: unknown; files?: Record<string, string> }): Promise<Workspace> {
  const env = isolatedGitEnv();
  const dir = fs.realpathSync(tempDir('hs-ws-'));
  const run = (args: string[], cwd = dir) => execFileSync('git', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  for (const [name, text] of Object.entries(options.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  if (options.git) {
    run(['init', '-q', '-b', 'main']);
    fs.writeFileSync(path.join(dir, 'README.md'), '# test repo\n');
    fs.writeFileSync(path.join(dir, 'shared.txt'), 'line 1\nline 2\nline 3\n');
    run(['add', 'README.md', 'shared.txt']);
    run(['commit', '-q', '-m', 'initial']);
  }
  if (options.config !== undefined) {
    fs.mkdirSync(path.join(dir, '.harness'), { recursive: true });
    fs.writeFileSync(path.join(dir, '.harness', 'config.json'), typeof options.config === 'string' ? options.config : JSON.stringify(options.config));
  }
  const socket = path.join(tempDir('hs-s-'), 'h.sock');
  const serve = await ServeProcess.start(dir, socket, env);
  const cliEnv = { ...env, HARNESS_SOCKET: socket };
  return { dir, env, serve, socket, cli: (args, cwd = dir) => runCli(args, cliEnv, cwd), git: run };
}

function ok(r: CliResult): any {
  assert.equal(r.code, 0, `expected exit 0, got ${r.code}: ${r.stdout}${r.stderr}`);
  assert.equal(r.json.status, 'ok');
  return r.json.data;
}

/** Asserts an error reply with `code` (exit 1, message also on stderr) and returns it. */
function fails(r: CliResult, code: string): { code: string; message: string; details?: any } {
  assert.equal(r.code, 1, `expected exit 1, got ${r.code}: ${r.stdout}${r.stderr}`);
  assert.equal(r.json.status, 'error');
  assert.equal(r.json.code, code, r.json.message);
  assert.match(r.stderr, /^harness: /);
  return r.json as unknown as { code: string; message: string; details?: any };
}

function commitIn(w: Workspace, dir: string, file: string, text: string, message = `change ${file}`): void {
  fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  fs.writeFileSync(path.join(dir, file), text);
  w.git(['add', file], dir);
  w.git(['commit', '-q', '-m', message], dir);
}

const head = (w: Workspace, ref = 'HEAD') => w.git(['rev-parse', ref]).trim();
const status = (w: Workspace, cwd = w.dir) => w.git(['status', '--porcelain'], cwd);
const mergeHead = (w: Workspace) => fs.existsSync(path.join(w.dir, '.git', 'MERGE_HEAD'));
const branches = (w: Workspace) => w.git(['branch', '--format=%(refname:short)']).split('\n').filter(Boolean).sort();

describe('harness isolate / merge: per-worker git worktrees (real git, real processes)', function () {
  this.timeout(90_000);

  before(function () {
    this.timeout(180_000);
    ensureCliBuilt();
  });
  afterEach(cleanupAll);

  describe('isolate', () => {
    it('gives each worker its own worktree on harness/<worker>; same-named files never cross; idempotent', async () => {
      const w = await workspace({ git: true });
      const a = ok(await w.cli(['isolate', '--worker', 'alice']));
      const b = ok(await w.cli(['isolate', '--worker', 'bob']));
      assert.equal(a.path, path.join(w.dir, '.harness', 'worktrees', 'alice'));
      assert.equal(b.path, path.join(w.dir, '.harness', 'worktrees', 'bob'));
      assert.deepEqual([a.branch, b.branch, a.created, b.created, a.mode], ['harness/alice', 'harness/bob', true, true, 'git']);
      assert.equal(a.base, head(w));

      // Both write notes.txt in their own directory: neither sees the other's.
      fs.writeFileSync(path.join(a.path, 'notes.txt'), 'from alice\n');
      fs.writeFileSync(path.join(b.path, 'notes.txt'), 'from bob\n');
      assert.equal(fs.readFileSync(path.join(a.path, 'notes.txt'), 'utf8'), 'from alice\n');
      assert.equal(fs.readFileSync(path.join(b.path, 'notes.txt'), 'utf8'), 'from bob\n');
      assert.ok(!fs.existsSync(path.join(w.dir, 'notes.txt')), 'the main worktree sees neither');
      commitIn(w, a.path, 'notes.txt', 'from alice, committed\n');
      assert.equal(fs.readFileSync(path.join(b.path, 'notes.txt'), 'utf8'), 'from bob\n', "a commit in one worktree does not touch another's");

      // The same worker gets the same directory back.
      const again = ok(await w.cli(['isolate', '--worker', 'alice']));
      assert.deepEqual([again.path, again.branch, again.created], [a.path, 'harness/alice', false]);
      assert.equal((await w.cli(['isolate', '--worker', 'alice', '--format', 'text'])).stdout, `${a.path}\n`);

      // Real worktrees, and invisible to the main worktree's status (.harness/ is ignored).
      const listed = w.git(['worktree', 'list', '--porcelain']);
      assert.match(listed, new RegExp(`worktree ${a.path}\\nHEAD [0-9a-f]+\\nbranch refs/heads/harness/alice`));
      assert.equal(status(w), '');
      assert.equal(status(w, b.path), '?? notes.txt\n', '.harness-env is excluded; only the worker\'s own file shows');
      assert.ok(fs.existsSync(path.join(a.path, '.harness-env')));

      // The worker id defaults to this worker's ($HARNESS_WORKER_ID).
      const mine = ok(await runCli(['isolate'], { ...w.env, HARNESS_SOCKET: w.socket, HARNESS_WORKER_ID: 'carol' }, w.dir));
      assert.equal(mine.branch, 'harness/carol');

      const list = ok(await w.cli(['isolate', '--list']));
      assert.deepEqual(
        list.workers.map((x: any) => [x.worker, x.exists, x.unmerged_commits]),
        [['alice', true, 1], ['bob', true, 0], ['carol', true, 0]],
      );
      assert.equal(list.target, 'main');
    });

    it('isolates many workers at once through the CLI: distinct directories and non-overlapping port ranges', async () => {
      const w = await workspace({ git: true, config: { isolation: { ports: { base: 5000, per_worker: 5 } } } });
      const ids = ['w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7'];
      const results = (await Promise.all(ids.map((id) => w.cli(['isolate', '--worker', id])))).map(ok);
      assert.equal(new Set(results.map((r) => r.path)).size, ids.length);
      const starts = results.map((r) => r.ports.base).sort((x, y) => x - y);
      assert.deepEqual(starts, [5000, 5005, 5010, 5015, 5020, 5025, 5030, 5035]);
      // And the same worker asked for twice at once gets one directory.
      const [x, y] = (await Promise.all([w.cli(['isolate', '--worker', 'twin']), w.cli(['isolate', '--worker', 'twin'])])).map(ok);
      assert.equal(x.path, y.path);
      assert.deepEqual([x.created, y.created].sort(), [false, true]);
    });

    it('copies untracked files, runs the setup command once per new worktree, and gives stable port ranges', async () => {
      const setupScript = [
        "const fs = require('fs');",
        "fs.appendFileSync('setup-ran.txt', process.env.HARNESS_WORKER_ID + ' ' + process.env.HARNESS_PORT_BASE + ' ' + process.env.HARNESS_PORT_COUNT + '\\n');",
        "console.log('setup done in ' + process.cwd());",
      ].join(' ');
      const w = await workspace({
        git: true,
        files: { '.env': 'SECRET=42\n', 'conf/local.json': '{"x":1}\n' },
        config: {
          recovery: { command: 'true' }, // another feature's section: read by the same reader, left to its feature
          isolation: {
            copy: ['.env', 'conf', 'missing.txt'],
            setup: { command: [process.execPath, '-e', setupScript], timeout_seconds: 60 },
            ports: { base: 4000, per_worker: 10 },
          },
        },
      });
      // setup-ran.txt must not count as the worker's work in this test's cleanup below
      fs.appendFileSync(path.join(w.dir, '.git', 'info', 'exclude'), 'setup-ran.txt\n');

      const a = ok(await w.cli(['isolate', '--worker', 'a']));
      assert.deepEqual(a.ports, { base: 4000, count: 10 });
      assert.equal(a.env.HARNESS_PORT_BASE, '4000');
      assert.equal(a.env.HARNESS_PORT_COUNT, '10');
      assert.deepEqual(a.copied, ['.env', 'conf']);
      assert.deepEqual(a.not_copied, [{ path: 'missing.txt', reason: 'not in the workspace' }]);
      assert.equal(fs.readFileSync(path.join(a.path, '.env'), 'utf8'), 'SECRET=42\n');
      assert.equal(fs.readFileSync(path.join(a.path, 'conf', 'local.json'), 'utf8'), '{"x":1}\n');
      assert.equal(a.setup.returncode, 0);
      assert.match(a.setup.stdout_tail, /setup done in /);
      assert.equal(fs.readFileSync(path.join(a.path, 'setup-ran.txt'), 'utf8'), 'a 4000 10\n', 'setup ran in the worktree with its env');

      const envFile = fs.readFileSync(path.join(a.path, '.harness-env'), 'utf8');
      assert.match(envFile, /^HARNESS_PORT_BASE=4000$/m);
      assert.match(envFile, /^HARNESS_PORT_COUNT=10$/m);
      assert.match(envFile, /^HARNESS_WORKER_ID=a$/m);
      // A shell can source it.
      const sourced = execFileSync('/bin/sh', ['-c', 'set -a; . ./.harness-env; set +a; echo "$HARNESS_PORT_BASE:$HARNESS_PORT_COUNT:$HARNESS_WORKER_ID"'], {
        cwd: a.path,
        encoding: 'utf8',
      });
      assert.equal(sourced, '4000:10:a\n');

      const b = ok(await w.cli(['isolate', '--worker', 'b']));
      assert.deepEqual(b.ports, { base: 4010, count: 10 });
      const again = ok(await w.cli(['isolate', '--worker', 'a']));
      assert.deepEqual([again.created, again.ports, again.setup], [false, { base: 4000, count: 10 }, null]);
      assert.equal(fs.readFileSync(path.join(a.path, 'setup-ran.txt'), 'utf8'), 'a 4000 10\n', 'setup runs once per new worktree');

      // The registry is plain JSON under .harness/.
      const registry = JSON.parse(fs.readFileSync(path.join(w.dir, '.harness', 'isolation.json'), 'utf8'));
      assert.deepEqual(registry.workers.map((e: any) => [e.worker, e.ports.base]), [['a', 4000], ['b', 4010]]);

      // Copied files are not the worker's changes: a worker with nothing else is removable.
      const cleaned = ok(await w.cli(['isolate', '--cleanup', '--worker', 'a']));
      assert.deepEqual(cleaned.removed.map((r: any) => [r.worker, r.forced]), [['a', false]]);
      // Its range is free again, and never overlaps b's.
      const c = ok(await w.cli(['isolate', '--worker', 'c']));
      assert.deepEqual(c.ports, { base: 4000, count: 10 });
    });

    it('a failing or timed-out setup command is SETUP_FAILED and leaves no directory or branch behind', async () => {
      const w = await workspace({
        git: true,
        config: { isolation: { setup: { command: [process.execPath, '-e', "console.error('npm ERR! missing thing'); process.exit(3)"] } } },
      });
      const e = fails(await w.cli(['isolate', '--worker', 'broken']), 'SETUP_FAILED');
      assert.match(e.message, /setup command ".*" failed in worker broken's new directory \(exit code 3\): npm ERR! missing thing/);
      assert.match(e.message, /the directory was removed with its new branch/);
      assert.equal(e.details.returncode, 3);
      assert.ok(!fs.existsSync(path.join(w.dir, '.harness', 'worktrees', 'broken')));
      assert.deepEqual(branches(w), ['main']);
      assert.deepEqual(ok(await w.cli(['isolate', '--list'])).workers, []);

      fs.writeFileSync(
        path.join(w.dir, '.harness', 'config.json'),
        JSON.stringify({ isolation: { setup: { command: 'sleep 30', timeout_seconds: 0.5 } } }),
      );
      const t = fails(await w.cli(['isolate', '--worker', 'slow']), 'SETUP_FAILED');
      assert.match(t.message, /\(timed out after 0\.5 s\)/);
      assert.equal(t.details.timed_out, true);
      assert.deepEqual(branches(w), ['main']);
    });

    it('a setup cut short by a coordinator crash is started over by the next isolate', async () => {
      const w = await workspace({ git: true, config: { isolation: { setup: { command: 'touch started; sleep 3', timeout_seconds: 60 } } } });
      const pending = w.cli(['isolate', '--worker', 'crashy']);
      const started = path.join(w.dir, '.harness', 'worktrees', 'crashy', 'started');
      const deadline = Date.now() + 20_000;
      while (!fs.existsSync(started)) {
        assert.ok(Date.now() < deadline, 'the setup command started');
        await new Promise((r) => setTimeout(r, 20));
      }
      await w.serve.stop('SIGKILL');
      assert.notEqual((await pending).code, 0);
      const entry = JSON.parse(fs.readFileSync(path.join(w.dir, '.harness', 'isolation.json'), 'utf8')).workers[0];
      assert.equal(entry.setup.state, 'running');

      fs.writeFileSync(path.join(w.dir, '.harness', 'config.json'), JSON.stringify({ isolation: { setup: { command: 'touch quick' } } }));
      w.serve = await ServeProcess.start(w.dir, w.socket, w.env);
      const again = ok(await w.cli(['isolate', '--worker', 'crashy']));
      assert.deepEqual([again.created, again.setup.returncode], [true, 0]);
      assert.ok(fs.existsSync(path.join(again.path, 'quick')) && !fs.existsSync(path.join(again.path, 'started')));
      assert.equal(ok(await w.cli(['isolate', '--list'])).workers[0].setup, 'ok');
    });

    it('reuses an existing harness/<worker> branch that no worktree holds, keeping its commits', async () => {
      const w = await workspace({ git: true });
      const a = ok(await w.cli(['isolate', '--worker', 'ann']));
      commitIn(w, a.path, 'work.txt', 'done\n', 'ann work');
      const tip = head(w, 'harness/ann');
      // Someone deletes the directory by hand: isolate makes it again, on the same branch.
      fs.rmSync(a.path, { recursive: true, force: true });
      const back = ok(await w.cli(['isolate', '--worker', 'ann']));
      assert.deepEqual([back.path, back.created, back.reused_branch], [a.path, true, true]);
      assert.equal(head(w, 'harness/ann'), tip);
      assert.equal(fs.readFileSync(path.join(back.path, 'work.txt'), 'utf8'), 'done\n');

      // A branch left from before (no worktree, no registry entry) is picked up too.
      w.git(['branch', 'harness/old', 'HEAD']);
      const old = ok(await w.cli(['isolate', '--worker', 'old']));
      assert.deepEqual([old.created, old.reused_branch], [true, true]);

      // With a --base it is not at, it is refused rather than reset.
      w.git(['branch', 'harness/other', tip]);
      const e = fails(await w.cli(['isolate', '--worker', 'other', '--base', 'main']), 'BRANCH_EXISTS');
      assert.match(e.message, /branch harness\/other already exists at [0-9a-f]+, not at --base main/);
      assert.match(e.message, /git branch -D harness\/other/);
      assert.equal(head(w, 'harness/other'), tip);

      // Checked out somewhere else: not ours to take.
      const elsewhere = path.join(tempDir('hs-wt-'), 'x');
      w.git(['worktree', 'add', '-q', elsewhere, 'harness/other']);
      const held = fails(await w.cli(['isolate', '--worker', 'other']), 'BRANCH_EXISTS');
      assert.match(held.message, new RegExp(`branch harness/other is already checked out in ${fs.realpathSync(elsewhere)}`));

      // The registry can be deleted: worktrees on disk are found again.
      fs.rmSync(path.join(w.dir, '.harness', 'isolation.json'));
      const list = ok(await w.cli(['isolate', '--list']));
      assert.deepEqual(list.workers.map((x: any) => x.worker).sort(), ['ann', 'old']);
    });

    it('starts from --base, and reports a bad one', async () => {
      const w = await workspace({ git: true });
      const first = head(w);
      commitIn(w, w.dir, 'later.txt', 'later\n');
      const x = ok(await w.cli(['isolate', '--worker', 'x', '--base', first]));
      assert.equal(x.base, first);
      assert.ok(!fs.existsSync(path.join(x.path, 'later.txt')));
      const e = fails(await w.cli(['isolate', '--worker', 'y', '--base', 'no-such-ref']), 'NOT_FOUND');
      assert.match(e.message, /--base "no-such-ref" is not a branch, tag or commit/);
      const dash = fails(await w.cli(['isolate', '--worker', 'z', '--base=--output=x']), 'INVALID_ARGUMENT');
      assert.match(dash.message, /is not a valid branch, tag or commit name/);
    });

    it('puts worktrees in isolation.directory, kept out of git status', async () => {
      const w = await workspace({ git: true, config: { isolation: { directory: 'agents' } } });
      const a = ok(await w.cli(['isolate', '--worker', 'a']));
      assert.equal(a.path, path.join(w.dir, 'agents', 'a'));
      assert.equal(status(w), '', 'agents/ carries a .gitignore of *');
      const outside = path.join(tempDir('hs-out-'), 'trees');
      fs.writeFileSync(path.join(w.dir, '.harness', 'config.json'), JSON.stringify({ isolation: { directory: outside } }));
      const b = ok(await w.cli(['isolate', '--worker', 'b']));
      assert.equal(b.path, path.join(fs.realpathSync(path.dirname(outside)), 'trees', 'b'));
      assert.equal(ok(await w.cli(['isolate', '--worker', 'a'])).path, a.path, 'an existing worker keeps its directory');
    });
  });

  describe('merge', () => {
    it('merges two non-conflicting workers: both changes land in the target branch', async () => {
      const w = await workspace({ git: true });
      const a = ok(await w.cli(['isolate', '--worker', 'a']));
      const b = ok(await w.cli(['isolate', '--worker', 'b']));
      commitIn(w, a.path, 'from-a.txt', 'A\n');
      commitIn(w, b.path, 'from-b.txt', 'B\n');
      commitIn(w, b.path, 'from-b2.txt', 'B2\n');
      fs.writeFileSync(path.join(b.path, 'draft.txt'), 'not committed\n');
      const before = head(w);

      const m = ok(await w.cli(['merge']));
      assert.equal(m.git, true);
      assert.deepEqual([m.target, m.merged_in, m.before], ['main', 'main-worktree', before]);
      assert.deepEqual(m.merged.map((x: any) => [x.worker, x.commits]), [['a', 1], ['b', 2]]);
      assert.deepEqual(m.merged[1].uncommitted, ['?? draft.txt'], 'uncommitted work is reported, not merged');
      assert.equal(head(w), m.after);
      assert.equal(fs.readFileSync(path.join(w.dir, 'from-a.txt'), 'utf8'), 'A\n');
      assert.equal(fs.readFileSync(path.join(w.dir, 'from-b.txt'), 'utf8'), 'B\n');
      assert.ok(!fs.existsSync(path.join(w.dir, 'draft.txt')));
      assert.equal(status(w), '');
      // --no-ff: one merge commit per worker, the workers' commits are ancestors.
      assert.equal(w.git(['rev-list', '--merges', '--count', `${before}..HEAD`]).trim(), '2');
      assert.equal(w.git(['merge-base', '--is-ancestor', 'harness/a', 'HEAD']), '');

      const again = await w.cli(['merge', '--format', 'text']);
      assert.equal(again.code, 0);
      assert.match(again.stdout, /skipped a: nothing new: already merged/);
    });

    it('stops at a conflict: names the worker and files, and leaves the target unchanged', async () => {
      const w = await workspace({ git: true });
      const a = ok(await w.cli(['isolate', '--worker', 'a']));
      const b = ok(await w.cli(['isolate', '--worker', 'b']));
      const c = ok(await w.cli(['isolate', '--worker', 'c']));
      commitIn(w, a.path, 'shared.txt', 'line 1\nline 2 by a\nline 3\n');
      commitIn(w, b.path, 'shared.txt', 'line 1\nline 2 by b\nline 3\n');
      commitIn(w, b.path, 'b-only.txt', 'b\n');
      commitIn(w, c.path, 'c-only.txt', 'c\n');
      const before = head(w);

      const e = fails(await w.cli(['merge']), 'MERGE_CONFLICT');
      assert.match(e.message, /^worker b \(branch harness\/b\) conflicts with main in shared\.txt; nothing was merged: main is unchanged at [0-9a-f]{10} \(the merge of a made before it was undone too\)/);
      assert.deepEqual(e.details, { worker: 'b', branch: 'harness/b', files: ['shared.txt'], target: 'main', target_head: before, undone: ['a'] });
      assert.equal(head(w), before, 'same HEAD');
      assert.equal(status(w), '', 'clean status');
      assert.ok(!mergeHead(w), 'no MERGE_HEAD');
      assert.ok(!fs.existsSync(path.join(w.dir, 'b-only.txt')));
      assert.equal(fs.readFileSync(path.join(w.dir, 'shared.txt'), 'utf8'), 'line 1\nline 2\nline 3\n');
      assert.equal(head(w, 'harness/b'), w.git(['rev-parse', 'harness/b']).trim(), 'the worker keeps its commits');

      // Without the conflicting worker it goes through.
      const m = ok(await w.cli(['merge', '--worker', 'a', '--worker', 'c']));
      assert.deepEqual(m.merged.map((x: any) => x.worker), ['a', 'c']);
      assert.equal(fs.readFileSync(path.join(w.dir, 'shared.txt'), 'utf8'), 'line 1\nline 2 by a\nline 3\n');
    });

    it('merges into a branch not checked out via a temporary worktree, moving it only on success', async () => {
      const w = await workspace({ git: true });
      w.git(['branch', 'integration']);
      const a = ok(await w.cli(['isolate', '--worker', 'a']));
      const b = ok(await w.cli(['isolate', '--worker', 'b']));
      commitIn(w, a.path, 'a.txt', 'a\n');
      commitIn(w, b.path, 'shared.txt', 'changed by b\n');
      const main = head(w);

      const m = ok(await w.cli(['merge', '--into', 'integration', '--worker', 'a']));
      assert.deepEqual([m.target, m.merged_in], ['integration', 'temporary-worktree']);
      assert.equal(head(w, 'integration'), m.after);
      assert.equal(w.git(['show', 'integration:a.txt']), 'a\n');
      assert.equal(head(w), main, 'main is not touched');
      assert.ok(!fs.existsSync(path.join(w.dir, 'a.txt')));
      assert.doesNotMatch(w.git(['worktree', 'list']), /merge-/, 'the temporary worktree is gone');

      // A conflict there leaves integration where it was.
      commitIn(w, w.dir, 'shared.txt', 'changed on main\n');
      w.git(['branch', '-f', 'integration', 'main']);
      const tip = head(w, 'integration');
      const e = fails(await w.cli(['merge', '--into', 'integration', '--worker', 'a', '--worker', 'b']), 'MERGE_CONFLICT');
      assert.deepEqual([e.details.worker, e.details.files], ['b', ['shared.txt']]);
      assert.equal(head(w, 'integration'), tip);
      assert.doesNotMatch(w.git(['worktree', 'list']), /merge-/);

      // A branch checked out in another worktree is refused.
      const held = fails(await w.cli(['merge', '--into', 'harness/a']), 'INVALID_ARGUMENT');
      assert.match(held.message, /harness\/a is a worker's branch/);
      const e2 = fails(await w.cli(['merge', '--into', 'nope']), 'NOT_FOUND');
      assert.match(e2.message, /there is no branch "nope" to merge into/);
    });

    it('refuses a dirty main worktree, a merge in progress, a detached HEAD and unknown workers', async () => {
      const w = await workspace({ git: true });
      const a = ok(await w.cli(['isolate', '--worker', 'a']));
      commitIn(w, a.path, 'a.txt', 'a\n');
      const before = head(w);

      fs.writeFileSync(path.join(w.dir, 'README.md'), 'edited, not committed\n');
      const dirty = fails(await w.cli(['merge']), 'DIRTY_WORKTREE');
      assert.match(dirty.message, /the main worktree .* has uncommitted changes to tracked files \(README\.md\); commit or stash them first, nothing was merged/);
      assert.equal(head(w), before);
      w.git(['checkout', '--', 'README.md']);
      fs.writeFileSync(path.join(w.dir, 'untracked-is-fine.txt'), 'x\n');

      const unknown = fails(await w.cli(['merge', '--worker', 'ghost']), 'NOT_FOUND');
      assert.match(unknown.message, /unknown worker "ghost": it has no isolated directory \(isolated workers: a\)/);
      const badId = fails(await w.cli(['merge', '--worker', '../etc']), 'INVALID_ARGUMENT');
      assert.match(badId.message, /invalid worker id/);

      w.git(['checkout', '-q', '--detach']);
      const detached = fails(await w.cli(['merge']), 'DETACHED_HEAD');
      assert.match(detached.message, /detached HEAD.*pass --into BRANCH/);
      w.git(['checkout', '-q', 'main']);

      // A merge someone left half done.
      const b = ok(await w.cli(['isolate', '--worker', 'b']));
      commitIn(w, b.path, 'shared.txt', 'b\n');
      commitIn(w, w.dir, 'shared.txt', 'main\n');
      assert.throws(() => w.git(['merge', 'harness/b']));
      const inProgress = fails(await w.cli(['merge', '--worker', 'a']), 'DIRTY_WORKTREE');
      assert.match(inProgress.message, /a merge is already in progress/);
      w.git(['merge', '--abort']);

      assert.ok(ok(await w.cli(['merge', '--worker', 'a'])).merged.length === 1);
    });

    it('a merge git refuses for another reason (an untracked file in the way) is MERGE_FAILED, all undone', async () => {
      const w = await workspace({ git: true });
      const a = ok(await w.cli(['isolate', '--worker', 'a']));
      const b = ok(await w.cli(['isolate', '--worker', 'b']));
      commitIn(w, a.path, 'a.txt', 'a\n');
      commitIn(w, b.path, 'report.txt', 'from b\n');
      fs.writeFileSync(path.join(w.dir, 'report.txt'), 'my own untracked notes\n');
      const before = head(w);
      const e = fails(await w.cli(['merge']), 'MERGE_FAILED');
      assert.match(e.message, /git could not merge worker b \(branch harness\/b\) into main: .*untracked working tree files would be overwritten/);
      assert.match(e.message, /nothing was merged: main is unchanged at [0-9a-f]{10} \(the merge of a made before it was undone too\)/);
      assert.equal(head(w), before);
      assert.ok(!fs.existsSync(path.join(w.dir, 'a.txt')));
      assert.equal(fs.readFileSync(path.join(w.dir, 'report.txt'), 'utf8'), 'my own untracked notes\n', 'the untracked file is untouched');
      assert.equal(status(w), '?? report.txt\n');

      // A target checked out in some other worktree is not moved behind its back.
      w.git(['branch', 'release']);
      w.git(['worktree', 'add', '-q', path.join(tempDir('hs-wt-'), 'rel'), 'release']);
      const held = fails(await w.cli(['merge', '--into', 'release', '--worker', 'a']), 'CONFLICT');
      assert.match(held.message, /branch release is checked out in .*rel; merge there/);
    });
  });

  describe('cleanup', () => {
    it('refuses unmerged or uncommitted work (listing it), removes merged worktrees and their branches', async () => {
      const w = await workspace({ git: true });
      const a = ok(await w.cli(['isolate', '--worker', 'a']));
      const b = ok(await w.cli(['isolate', '--worker', 'b']));
      const idle = ok(await w.cli(['isolate', '--worker', 'idle']));
      commitIn(w, a.path, 'a.txt', 'a\n', 'add the a feature');
      fs.writeFileSync(path.join(b.path, 'wip.txt'), 'work in progress\n');

      const refused = fails(await w.cli(['isolate', '--cleanup']), 'UNMERGED_WORK');
      assert.match(refused.message, /refusing to remove 2 workers' directories, that would lose: /);
      assert.match(refused.message, /a: 1 commit on harness\/a not in main \([0-9a-f]+ add the a feature\)/);
      assert.match(refused.message, /b: uncommitted changes \(\?\? wip\.txt\)/);
      assert.match(refused.message, /Nothing was removed; removable now: --worker idle/);
      assert.deepEqual(refused.details.removable, ['idle']);
      assert.ok(fs.existsSync(a.path) && fs.existsSync(b.path) && fs.existsSync(idle.path));

      const onlyDirty = fails(await w.cli(['isolate', '--cleanup', '--worker', 'b']), 'DIRTY_WORKTREE');
      assert.match(onlyDirty.message, /refusing to remove worker b's directory, that would lose: b: uncommitted changes \(\?\? wip\.txt\)/);

      ok(await w.cli(['merge', '--worker', 'a']));
      const done = ok(await w.cli(['isolate', '--cleanup', '--worker', 'a', '--worker', 'idle']));
      assert.deepEqual(done.removed.map((r: any) => [r.worker, r.forced]), [['a', false], ['idle', false]]);
      assert.ok(!fs.existsSync(a.path) && !fs.existsSync(idle.path));
      assert.deepEqual(branches(w), ['harness/b', 'main']);
      assert.doesNotMatch(w.git(['worktree', 'list']), /worktrees\/a/);

      // --force throws the work away, and says where the branch was.
      commitIn(w, b.path, 'b.txt', 'b\n');
      const tip = head(w, 'harness/b');
      const forced = ok(await w.cli(['isolate', '--cleanup', '--worker', 'b', '--force']));
      assert.equal(forced.removed[0].forced, true);
      assert.equal(forced.removed[0].branch_head, tip);
      assert.deepEqual(forced.removed[0].discarded.length, 2);
      assert.deepEqual(branches(w), ['main']);
      assert.ok(!fs.existsSync(b.path));
      assert.equal(status(w), '');
      assert.deepEqual(ok(await w.cli(['isolate', '--list'])).workers, []);
      assert.equal(ok(await w.cli(['isolate', '--cleanup'])).removed.length, 0);
    });
  });

  describe('outside git', () => {
    it('isolates into plain per-worker directories; merge lists each worker\'s outputs; cleanup needs --force for files', async () => {
      const w = await workspace({ git: false, config: { isolation: { ports: { base: 7000, per_worker: 3 } } } });
      const a = ok(await w.cli(['isolate', '--worker', 'a']));
      const b = ok(await w.cli(['isolate', '--worker', 'b']));
      assert.deepEqual([a.mode, a.branch, a.created], ['plain', null, true]);
      assert.equal(a.path, path.join(w.dir, '.harness', 'workers', 'a'));
      assert.deepEqual([a.ports, b.ports], [{ base: 7000, count: 3 }, { base: 7003, count: 3 }]);
      fs.writeFileSync(path.join(a.path, 'out.txt'), 'a\n');
      fs.writeFileSync(path.join(b.path, 'out.txt'), 'b\n');
      fs.mkdirSync(path.join(b.path, 'sub'));
      fs.writeFileSync(path.join(b.path, 'sub', 'more.txt'), 'b2\n');
      assert.equal(fs.readFileSync(path.join(a.path, 'out.txt'), 'utf8'), 'a\n');
      assert.equal(ok(await w.cli(['isolate', '--worker', 'a'])).created, false);

      const m = ok(await w.cli(['merge']));
      assert.equal(m.git, false);
      assert.match(m.message, /is not in a git repository: there is nothing to merge in git terms/);
      assert.deepEqual(m.outputs.map((o: any) => [o.worker, o.files]), [['a', ['out.txt']], ['b', ['out.txt', 'sub/more.txt']]]);

      const into = fails(await w.cli(['merge', '--into', 'main']), 'NOT_A_GIT_REPO');
      assert.match(into.message, /is not in a git repository, so there is no branch main to merge into/);

      const refused = fails(await w.cli(['isolate', '--cleanup', '--worker', 'a']), 'UNMERGED_WORK');
      assert.match(refused.message, /a: files in its directory \(out\.txt\)/);
      const removed = ok(await w.cli(['isolate', '--cleanup', '--worker', 'a', '--force']));
      assert.deepEqual(removed.removed.map((r: any) => [r.worker, r.discarded]), [['a', ['file out.txt']]]);
      assert.ok(!fs.existsSync(a.path));
      assert.ok(fs.existsSync(path.join(b.path, 'out.txt')));
    });
  });

  describe('errors and the wire', () => {
    it('rejects unsafe worker ids, bad config (naming the field), and misused options', async () => {
      const w = await workspace({ git: true });
      for (const id of ['../up', 'a b', 'x..y', 'ends.lock', '-dash', 'a/b']) {
        const e = fails(await w.cli(['isolate', `--worker=${id}`]), 'INVALID_ARGUMENT');
        assert.match(e.message, /invalid worker id .*it names a git branch and a directory/);
      }
      const config = path.join(w.dir, '.harness', 'config.json');
      fs.writeFileSync(config, JSON.stringify({ isolation: { ports: { base: '4000', per_worker: 10 } } }));
      let e = fails(await w.cli(['isolate', '--worker', 'a']), 'INVALID_CONFIG');
      assert.match(e.message, /config\.json: isolation\.ports\.base: .*expected number/);
      assert.equal(e.details!.field, 'isolation.ports.base');
      fs.writeFileSync(config, JSON.stringify({ isolation: { copyy: ['.env'] } }));
      e = fails(await w.cli(['isolate', '--worker', 'a']), 'INVALID_CONFIG');
      assert.match(e.message, /config\.json: isolation\.copyy: unknown field/);
      assert.equal(e.details!.field, 'isolation.copyy');
      fs.writeFileSync(config, JSON.stringify({ isolaton: { copy: ['.env'] } }));
      e = fails(await w.cli(['isolate', '--worker', 'a']), 'INVALID_CONFIG');
      assert.match(e.message, /config\.json: isolaton: unknown field/, 'a misspelt section is an error, not silently ignored');
      fs.writeFileSync(config, JSON.stringify({ isolation: { copy: ['../outside'] } }));
      e = fails(await w.cli(['isolate', '--worker', 'a']), 'INVALID_CONFIG');
      assert.match(e.message, /isolation\.copy\[0\]: must be a path relative to the workspace/);
      fs.writeFileSync(config, '{ not json');
      e = fails(await w.cli(['isolate', '--worker', 'a']), 'INVALID_CONFIG');
      assert.match(e.message, /config\.json is not valid JSON/);
      fs.rmSync(config);

      for (const args of [['isolate', '--force'], ['isolate', '--list', '--worker', 'a'], ['isolate', '--worker', 'a', '--worker', 'b'], ['isolate', '--cleanup', '--base', 'x']]) {
        const r = await w.cli(args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}`);
        assert.equal(r.json.code, 'USAGE');
      }
    });

    it('speaks NDJSON on the socket: isolate, isolate_list, merge, isolate_cleanup', async () => {
      const w = await workspace({ git: true });
      const c = await RawConnection.connect(w.socket);
      const iso = await c.ok({ command: 'isolate', worker_id: 's1', id: 7 });
      assert.equal(iso.branch, 'harness/s1');
      const bad = await c.request({ command: 'isolate', id: 8 });
      assert.deepEqual([bad.status, bad.code, bad.id], ['error', 'INVALID_ARGUMENT', 8]);
      assert.match(bad.message, /invalid isolate: worker_id/);
      commitIn(w, iso.path, 's.txt', 's\n');
      assert.equal((await c.ok({ command: 'isolate_list' })).workers[0].unmerged_commits, 1);
      const refused = await c.request({ command: 'isolate_cleanup', worker_id: 's1' });
      assert.equal(refused.code, 'UNMERGED_WORK');
      assert.equal(refused.details.refused[0].unmerged_commits.length, 1);
      assert.deepEqual((await c.ok({ command: 'merge', worker_ids: ['s1'] })).merged.map((m: any) => m.worker), ['s1']);
      assert.equal((await c.ok({ command: 'isolate_cleanup', worker_ids: ['s1'] })).removed.length, 1);
      const conflict = await c.request({ command: 'merge', worker_id: 'nobody' });
      assert.equal(conflict.code, 'NOT_FOUND');
    });
  });
});

describe('isolation module in-process (what the extension calls)', function () {
  this.timeout(60_000);
  const saved: Record<string, string | undefined> = {};
  const vars = ['HOME', 'GIT_CONFIG_NOSYSTEM', 'GIT_CONFIG_GLOBAL', 'GIT_CEILING_DIRECTORIES', 'XDG_CONFIG_HOME'];
  let repo: string;

  before(() => {
    const env = isolatedGitEnv();
    for (const k of vars) {
      saved[k] = process.env[k];
      process.env[k] = env[k];
    }
    repo = fs.realpathSync(tempDir('hs-api-'));
    const run = (...args: string[]) => execFileSync('git', args, { cwd: repo, stdio: 'pipe' });
    run('init', '-q', '-b', 'main');
    fs.writeFileSync(path.join(repo, 'f.txt'), 'f\n');
    run('add', 'f.txt');
    run('commit', '-q', '-m', 'init');
    fs.mkdirSync(path.join(repo, '.harness'));
    fs.writeFileSync(path.join(repo, '.harness', 'config.json'), JSON.stringify({ isolation: { ports: { base: 9000, per_worker: 2 } } }));
  });
  after(() => {
    for (const k of vars) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    return cleanupAll();
  });

  it('workerEnvironment gives the directory and env; concurrent calls never share a directory or ports', async () => {
    const ids = ['p0', 'p1', 'p2', 'p3', 'p4', 'p0', 'p1'];
    const config = readHarnessConfig(path.join(repo, '.harness')).isolation; // read by the coordinator, handed in
    const all = await Promise.all(ids.map((id) => workerEnvironment(repo, id, { config })));
    for (const [i, r] of all.entries()) {
      assert.equal(r.cwd, path.join(repo, '.harness', 'worktrees', ids[i]!));
      assert.equal(r.env.HARNESS_WORKER_ID, ids[i]);
      assert.equal(r.branch, `harness/${ids[i]}`);
    }
    assert.equal(all[0]!.cwd, all[5]!.cwd);
    assert.equal(all[0]!.env.HARNESS_PORT_BASE, all[5]!.env.HARNESS_PORT_BASE);
    const bases = new Set(all.slice(0, 5).map((r) => r.env.HARNESS_PORT_BASE));
    assert.deepEqual([...bases].sort(), ['9000', '9002', '9004', '9006', '9008']);
    const listing = await listIsolated(repo);
    assert.equal(listing.workers.length, 5);
    assert.equal((await cleanup(repo)).removed.length, 5);
  });

  it('a workspace below the top of the repository: the worker runs in the same subdirectory of its worktree', async () => {
    const sub = path.join(repo, 'packages', 'app');
    fs.mkdirSync(sub, { recursive: true });
    fs.writeFileSync(path.join(sub, 'index.js'), '1\n');
    execFileSync('git', ['add', 'packages'], { cwd: repo, stdio: 'pipe' });
    execFileSync('git', ['commit', '-q', '-m', 'app'], { cwd: repo, stdio: 'pipe' });
    fs.writeFileSync(path.join(sub, '.env'), 'X=1\n'); // untracked
    fs.mkdirSync(path.join(sub, '.harness'));
    fs.writeFileSync(path.join(sub, '.harness', 'config.json'), JSON.stringify({ isolation: { copy: ['.env'] } }));
    const r = await isolate(sub, 'deep', { config: readHarnessConfig(path.join(sub, '.harness')).isolation });
    assert.equal(r.path, path.join(sub, '.harness', 'worktrees', 'deep'));
    assert.equal(r.cwd, path.join(r.path, 'packages', 'app'));
    assert.deepEqual(r.copied, ['.env']);
    assert.equal(fs.readFileSync(path.join(r.cwd, 'index.js'), 'utf8'), '1\n');
    assert.equal(fs.readFileSync(path.join(r.cwd, '.env'), 'utf8'), 'X=1\n');
    assert.equal(execFileSync('git', ['status', '--porcelain'], { cwd: repo, encoding: 'utf8' }), '?? packages/app/.env\n');
    assert.equal((await cleanup(sub, { workers: ['deep'] })).removed.length, 1);
  });
});

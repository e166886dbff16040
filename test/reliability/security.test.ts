// Security: the socket and its directory are owner-only and another local user cannot connect
// (checked as a throwaway user made with useradd when running as root, as CI does); a shared
// directory like /tmp is never chmod-ed; a read-only state directory as a real permission (as that
// user, since root ignores modes); lock paths cannot leave the workspace; exec runs no shell
// unless asked; the webview's CSP allows no script without its nonce.
import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findCommand } from '../../src/protocol/catalog';
import { contentSecurityPolicy, makeNonce, renderPanelHtml } from '../../src/ui/panel-html';
import { childEnv, cleanupAll, CLI, ensureCliBuilt, oneJsonDoc, RawConnection, runCli, ServeProcess, tempDir, within } from '../support/harness-process';

const PROBE_USER = 'harness-probe';

/** The throwaway user's uid/gid, creating it if needed; a reason to skip when that cannot be done. */
function probeUser(): { uid: number; gid: number } | string {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not running as root (cannot create a throwaway user; run as root, as CI does)';
  const id = (flag: string) => Number(execFileSync('id', [flag, PROBE_USER], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    // not there yet
  }
  try {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', PROBE_USER], { stdio: 'pipe' });
  } catch (e) {
    return `useradd is unavailable or failed: ${(e as Error).message.split('\n')[0]}`;
  }
  return { uid: id('-u'), gid: id('-g') };
}

/** Runs `node -e script` as the throwaway user; returns its stdout. */
function asProbe(script: string, args: string[] = []): string {
  return execFileSync('runuser', ['-u', PROBE_USER, '--', process.execPath, '-e', script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 20_000,
    cwd: '/',
  }).toString();
}

const CONNECT = `
const s = require('net').connect(process.argv[1]);
s.on('connect', () => { console.log('CONNECTED'); s.destroy(); });
s.on('error', (e) => console.log(e.code));`;

const mode = (p: string) => fs.statSync(p).mode & 0o7777;

describe('reliability: security', function () {
  this.timeout(60_000);
  before(() => ensureCliBuilt());
  afterEach(cleanupAll);

  describe('the socket', () => {
    it('is 0600 in a 0700 directory, at the default place and at a --socket path', async () => {
      const runtime = tempDir('hrel-rt-');
      const dir = tempDir('hrel-');
      const serve = ServeProcess.spawn(['--worktree', dir], childEnv({ XDG_RUNTIME_DIR: runtime }));
      const ready = await within(serve.ready, 20_000, 'harness serve');
      assert.equal(path.dirname(ready.socket), path.join(runtime, 'agent-harness'));
      assert.equal(mode(ready.socket), 0o600, 'socket mode');
      assert.equal(mode(path.dirname(ready.socket)), 0o700, 'socket directory mode');
      await serve.stop();

      const own = path.join(tempDir('hrel-'), 'sockets');
      fs.mkdirSync(own, { mode: 0o755 });
      fs.chmodSync(own, 0o755);
      const s2 = await ServeProcess.start(dir, path.join(own, 'h.sock'));
      assert.equal(mode(path.join(own, 'h.sock')), 0o600);
      assert.equal(mode(own), 0o700, 'a directory of our own is made private');
      await s2.stop();
    });

    it('refuses a shared (sticky, world-writable) directory instead of chmod-ing it to 0700', async () => {
      const shared = path.join(tempDir('hrel-'), 'shared');
      fs.mkdirSync(shared);
      fs.chmodSync(shared, 0o1777);
      const serve = ServeProcess.spawn(['--worktree', tempDir('hrel-'), '--socket', path.join(shared, 'h.sock')]);
      const exit = await within(serve.exited, 20_000, 'harness serve to refuse');
      assert.notEqual(exit.code, 0, `harness serve used a shared directory:\n${serve.stdout}${serve.stderr}`);
      assert.match(oneJsonDoc(serve.stdout, 'serve').message, /shared with other users/);
      assert.equal(mode(shared), 0o1777, 'the shared directory was changed');
    });

    it('never changes the mode of a directory with other contents; says so when it makes an empty one private', async () => {
      const project = path.join(tempDir('hrel-'), 'project');
      fs.mkdirSync(project);
      fs.chmodSync(project, 0o755);
      fs.writeFileSync(path.join(project, 'README.md'), 'mine\n');
      const refused = ServeProcess.spawn(['--worktree', tempDir('hrel-'), '--socket', path.join(project, 'h.sock')]);
      const exit = await within(refused.exited, 20_000, 'harness serve to refuse');
      assert.notEqual(exit.code, 0, `harness serve used a directory with other contents:\n${refused.stdout}${refused.stderr}`);
      const message = oneJsonDoc(refused.stdout, 'serve').message as string;
      assert.match(message, new RegExp(`socket directory ${project} is open to others \\(mode 755\\) and holds other files \\(README\\.md\\)`));
      assert.match(message, /chmod 700/);
      assert.equal(mode(project), 0o755, 'the directory was changed');
      assert.equal(fs.existsSync(path.join(project, 'h.sock')), false);

      const empty = path.join(tempDir('hrel-'), 'run');
      fs.mkdirSync(empty);
      fs.chmodSync(empty, 0o755);
      const serve = await ServeProcess.start(tempDir('hrel-'), path.join(empty, 'h.sock'));
      assert.equal(mode(empty), 0o700);
      assert.match(serve.stderr, new RegExp(`made the socket directory ${empty} private \\(mode 755 → 700\\)`));
      await serve.stop();
    });

    it('cannot be connected to by another local user (EACCES)', async function () {
      const user = probeUser();
      if (typeof user === 'string') {
        console.log(`      SKIPPED: ${user}`);
        return this.skip();
      }
      const dir = tempDir('hrel-');
      const sockDir = path.join(dir, 'run');
      fs.mkdirSync(sockDir);
      const socket = path.join(sockDir, 'h.sock');
      const serve = await ServeProcess.start(dir, socket);
      // Through the private directory: cannot even reach the socket.
      fs.chmodSync(dir, 0o711); // the worktree itself traversable, so only the socket's own protections count
      assert.equal(asProbe(CONNECT, [socket]).trim(), 'EACCES', 'through its 0700 directory');
      // Even with the directory opened up, the socket file's 0600 stops it.
      fs.chmodSync(sockDir, 0o711);
      assert.equal(asProbe(CONNECT, [socket]).trim(), 'EACCES', 'the 0600 socket file itself');
      // And we can.
      const c = await RawConnection.connect(socket);
      assert.equal((await c.ok({ command: 'ping' })).pong, true);
      c.close();
      await serve.stop();
    });
  });

  describe('a read-only state directory, as a real permission (throwaway user)', () => {
    it('keeps what it acknowledged, reports the failed snapshot, refuses to start read-only, and recovers', async function () {
      const user = probeUser();
      if (typeof user === 'string') {
        console.log(`      SKIPPED: ${user}`);
        return this.skip();
      }
      const dir = tempDir('hrel-');
      fs.chownSync(dir, user.uid, user.gid);
      const socket = path.join(dir, 'h.sock');
      const state = path.join(dir, '.harness');
      const serveAs = () => {
        // Spawned as the user directly (not through runuser, whose exit does not wait for its
        // child's): this process is the coordinator's parent and sees its real exit.
        const child = spawn(process.execPath, [CLI, 'serve', '--worktree', dir, '--socket', socket], {
          env: childEnv(),
          cwd: '/',
          uid: user.uid,
          gid: user.gid,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
        return { child, exited, out: () => stdout, err: () => stderr };
      };
      const waitReady = async (p: ReturnType<typeof serveAs>) => {
        await within(
          (async () => {
            while (!p.out().includes('"ready":true')) {
              if (p.child.exitCode !== null) throw new Error(`serve exited: ${p.out()}${p.err()}`);
              await new Promise((r) => setTimeout(r, 20));
            }
          })(),
          20_000,
          'serve as the throwaway user',
        );
      };

      let serve = serveAs();
      try {
        await waitReady(serve);
        const c = await RawConnection.connect(socket);
        await c.ok({ command: 'task_add', task_id: 'before' });
        fs.chmodSync(state, 0o500);
        // The journal is open (and its file still writable): these are durable, so acknowledged.
        await c.ok({ command: 'task_add', task_id: 'while-read-only' });
        c.close();
        serve.child.kill('SIGTERM');
        const code = await within(serve.exited, 20_000, 'serve to stop');
        // Shutting down writes a snapshot, which needs a new file in the directory.
        assert.notEqual(code, 0, `the failed snapshot at shutdown went unreported:\n${serve.err()}`);
        assert.match(serve.err(), /EACCES|permission denied/i, serve.err());

        // Starting on a read-only directory: refused with the reason.
        serve = serveAs();
        const refused = await within(serve.exited, 20_000, 'serve to refuse a read-only directory');
        assert.notEqual(refused, 0, `started read-only:\n${serve.out()}`);
        assert.match(serve.out() + serve.err(), /EACCES|permission denied|could not lock/i);

        fs.chmodSync(state, 0o700);
        serve = serveAs();
        await waitReady(serve);
        const c2 = await RawConnection.connect(socket);
        const ids = (await c2.ok({ command: 'task_list' })).tasks.map((t: { id: string }) => t.id);
        assert.deepEqual(ids, ['before', 'while-read-only'], 'everything acknowledged is there');
        c2.close();
      } finally {
        if (fs.existsSync(state)) fs.chmodSync(state, 0o700);
        if (serve.child.exitCode === null) {
          serve.child.kill('SIGKILL');
          await serve.exited;
        }
      }
    });
  });

  describe('the state directory', () => {
    async function refusedStart(dir: string, args: string[] = []): Promise<{ code: string; message: string }> {
      const serve = ServeProcess.spawn(['--worktree', dir, '--socket', path.join(dir, 'h.sock'), ...args]);
      const exit = await within(serve.exited, 20_000, 'harness serve to refuse the state directory');
      assert.notEqual(exit.code, 0, `harness serve started:\n${serve.stdout}${serve.stderr}`);
      return oneJsonDoc(serve.stdout, 'harness serve');
    }
    const listing = (d: string) => fs.readdirSync(d).sort();

    it('a symlink to a directory elsewhere is refused, naming it and --state-dir; nothing is written there', async () => {
      const dir = tempDir('hrel-');
      const target = tempDir('hrel-target-');
      fs.writeFileSync(path.join(target, 'theirs.txt'), 'not yours');
      fs.symlinkSync(target, path.join(dir, '.harness'));
      const doc = await refusedStart(dir);
      assert.equal(doc.code, 'STATE_UNSAFE', JSON.stringify(doc));
      assert.ok(doc.message.includes(path.join(dir, '.harness')), doc.message);
      assert.match(doc.message, /symbolic link/);
      assert.match(doc.message, /--state-dir/);
      assert.deepEqual(listing(target), ['theirs.txt'], 'the coordinator wrote into the link target');
      // Placing state there on purpose works.
      const serve = ServeProcess.spawn(['--worktree', dir, '--socket', path.join(dir, 'h.sock'), '--state-dir', target]);
      await within(serve.ready, 20_000, `harness serve --state-dir\n${serve.stderr}`);
      await serve.stop();
      assert.ok(listing(target).includes('journal.log'), 'the state is there');
    });

    it('a state directory of another user is refused (throwaway user)', async function () {
      const user = probeUser();
      if (typeof user === 'string') {
        console.log(`      SKIPPED: ${user}`);
        return this.skip();
      }
      const dir = tempDir('hrel-');
      const state = path.join(dir, '.harness');
      fs.mkdirSync(state, { mode: 0o777 });
      fs.chownSync(state, user.uid, user.gid);
      const doc = await refusedStart(dir);
      assert.equal(doc.code, 'STATE_UNSAFE', JSON.stringify(doc));
      assert.match(doc.message, new RegExp(`belongs to another user \\(uid ${user.uid}`));
      assert.deepEqual(listing(state), [], 'nothing was written into it');
    });

    it('a state file that is a symlink is not followed: the start fails and the target is untouched', async () => {
      const dir = tempDir('hrel-');
      const target = tempDir('hrel-target-');
      const state = path.join(dir, '.harness');
      fs.mkdirSync(state, { mode: 0o700 });
      fs.writeFileSync(path.join(target, 'journal'), 'theirs\n');
      fs.symlinkSync(path.join(target, 'journal'), path.join(state, 'journal.log'));
      const doc = await refusedStart(dir);
      assert.match(doc.message, /ELOOP|symbolic link/, JSON.stringify(doc));
      assert.equal(fs.readFileSync(path.join(target, 'journal'), 'utf8'), 'theirs\n');
    });
  });

  describe('lock paths', () => {
    // No skipping when the command is missing: a renamed lock_acquire must fail this test, not turn it off.
    it('cannot escape the workspace (.., absolute, symlinks out)', async () => {
      assert.ok(findCommand('lock_acquire'), 'the catalog has no lock_acquire command: this test must follow it');
      const dir = tempDir('hrel-');
      const outside = tempDir('hrel-out-');
      fs.symlinkSync(outside, path.join(dir, 'link-out'));
      const socket = path.join(dir, 'h.sock');
      await ServeProcess.start(dir, socket);
      const c = await RawConnection.connect(socket);
      for (const p of ['../x', '../../etc/passwd', '/etc/passwd', `${outside}/f`, 'a/../../b', 'link-out/f', 'link-out']) {
        const reply = await c.request({ command: 'lock_acquire', worker_id: 'w', path: p });
        assert.equal(reply.status, 'error', `lock on ${p} was granted: ${JSON.stringify(reply)}`);
        assert.equal(reply.code, 'PATH_OUTSIDE_WORKSPACE', `${p}: ${JSON.stringify(reply)}`);
      }
      const ok = await c.ok({ command: 'lock_acquire', worker_id: 'w', path: 'src/../inside.txt' });
      assert.ok(ok, 'a path inside is fine');
      c.close();
    });
  });

  describe('exec', () => {
    it('never goes through a shell unless asked', async () => {
      const dir = tempDir('hrel-');
      const env = childEnv({ HARNESS_SOCKET: path.join(dir, 'nobody.sock'), HARNESS_WORKER_ID: 'sec' });
      // One argument that is a whole shell line: a program by that name, which does not exist.
      const whole = await runCli(['exec', '--', 'echo $HOME; touch pwned-1'], env, dir);
      assert.notEqual(whole.code, 0);
      assert.equal(whole.json.code, 'SPAWN_FAILED', whole.stdout);
      // Metacharacters as arguments stay arguments.
      const args = await runCli(['exec', '--', 'echo', '$HOME; touch pwned-2', '`id`', '$(id)'], env, dir);
      assert.equal(args.code, 0, args.stderr);
      assert.equal(args.json.data.stdout_tail, '$HOME; touch pwned-2 `id` $(id)\n');
      assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('pwned')), [], 'a shell ran');
      // Asked for: --shell does run one.
      const shell = await runCli(['exec', '--shell', '--', 'touch shell-ran'], env, dir);
      assert.equal(shell.code, 0, shell.stderr);
      assert.ok(fs.existsSync(path.join(dir, 'shell-ran')));
    });
  });

  describe("the webview's content security policy", () => {
    const html = (title = 'Agent Harness', nonce = makeNonce()) =>
      renderPanelHtml({ cspSource: 'vscode-webview://abc', nonce, scriptUri: 'vscode-webview://abc/webview.js', styleUri: 'vscode-webview://abc/webview.css', layoutWorkerUri: 'vscode-webview://abc/elk-worker.js', title });

    it('allows no script without its nonce: no unsafe-inline/eval, every script tag carries it, no inline handlers', () => {
      const nonce = makeNonce();
      const page = html('Agent Harness', nonce);
      const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(page)?.[1]?.replace(/&#39;/g, "'");
      assert.ok(csp, 'the page has a CSP meta tag');
      assert.equal(csp, contentSecurityPolicy('vscode-webview://abc', nonce));
      const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k!, v]));
      assert.deepEqual(directives.get('default-src'), ["'none'"]);
      assert.deepEqual(directives.get('script-src'), [`'nonce-${nonce}'`], 'scripts: the nonce and nothing else');
      // The layout worker: fetched from the extension's own files only, started from a blob.
      assert.deepEqual(directives.get('connect-src'), ['vscode-webview://abc']);
      assert.deepEqual(directives.get('worker-src'), ['blob:']);
      assert.ok(!/unsafe-inline|unsafe-eval|\*/.test(csp), csp);
      const scripts = [...page.matchAll(/<script\b([^>]*)>/g)];
      assert.ok(scripts.length > 0);
      for (const [, attrs] of scripts) assert.match(attrs!, new RegExp(`nonce="${nonce}"`), `a script tag without the nonce: ${attrs}`);
      assert.ok(!/\son[a-z]+\s*=/i.test(page), 'an inline event handler');
      assert.ok(!/javascript:/i.test(page));
    });

    it('escapes what it interpolates and takes a fresh, unguessable nonce each time', () => {
      const page = html('</title><script>alert(1)</script>');
      assert.equal([...page.matchAll(/<script\b/g)].length, 1, 'an injected script tag');
      assert.ok(page.includes('&lt;/title&gt;&lt;script&gt;'));
      const nonces = new Set(Array.from({ length: 100 }, makeNonce));
      assert.equal(nonces.size, 100);
      for (const n of nonces) assert.ok(n.length >= 22, n);
      assert.throws(() => html('x', 'short'), /nonce/);
      assert.throws(() => html('x', 'abcdefghijklmnop" onload="x'), /nonce/);
    });
  });
});

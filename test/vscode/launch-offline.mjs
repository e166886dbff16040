#!/usr/bin/env node
// Runs the extension-host tests (out/vscode/suite, built from test/vscode/suite by
// `npm run build`) in a real VS Code, offline: code-server serves VS Code with this repository as
// the extension under development, headless Chromium opens the workbench, and the extension host
// runs the suite's run(). Prints the mocha report live and exits with the suite's code:
// 0 passed, 1 a test failed or the run timed out, 2 the machinery is missing or broke.
//
//   node test/vscode/launch-offline.mjs [--workspace DIR] [--timeout MS] [--grep PATTERN]
//
// Environment: HARNESS_VSCODE_WORKSPACE (as --workspace), HARNESS_VSCODE_TIMEOUT_MS (as
// --timeout, default 300000, the whole run), HARNESS_VSCODE_GREP (as --grep),
// HARNESS_VSCODE_START_TIMEOUT_MS (code-server's start, default 60000), HARNESS_CHROMIUM
// (default /usr/bin/chromium). Without a workspace each run gets a fresh empty temp folder,
// removed afterwards. Logs stay in .run/vscode/test-*/ (the last 10 runs are kept).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { followFile } from './follow.mjs';
import { SetupError, diagnoseLogs, repoRoot, startWorkbench } from './workbench.mjs';

const say = (line) => process.stderr.write(`vscode-host: ${line}\n`);
const rel = (path) => relative(process.cwd(), path) || '.';
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

const { values: options } = parseArgs({
  options: {
    workspace: { type: 'string' },
    timeout: { type: 'string' },
    grep: { type: 'string' },
  },
});
const timeoutMs = Number(options.timeout ?? process.env.HARNESS_VSCODE_TIMEOUT_MS) || 300_000;
const grep = options.grep ?? process.env.HARNESS_VSCODE_GREP ?? '';
const extensionTests = join(repoRoot, 'out', 'vscode', 'suite', 'index.js');

/** Keeps the workbench's own log files that codeAutomationExit hands over, for post-mortems. */
function saveWorkbenchLogs(runDir, logs) {
  if (!Array.isArray(logs)) return;
  for (const { relativePath, contents } of logs) {
    if (typeof relativePath !== 'string' || typeof contents !== 'string') continue;
    const path = join(runDir, 'workbench-logs', normalize(relativePath).replace(/^(\.\.(\/|$))+/, ''));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, contents);
  }
}

async function main() {
  const started = Date.now();
  for (const [path, what] of [
    [join(repoRoot, 'dist', 'extension.js'), 'the extension'],
    [extensionTests, 'the extension-host test runner'],
  ]) {
    if (!existsSync(path)) throw new SetupError(`${what} is not built (${rel(path)} missing): run npm run build`);
  }
  const given = options.workspace ?? process.env.HARNESS_VSCODE_WORKSPACE;
  const workspace = given ? resolve(given) : mkdtempSync(join(tmpdir(), 'agent-harness-ws-'));
  mkdirSync(workspace, { recursive: true });
  // 'exit' also runs when a signal ends the run (startWorkbench's handler calls process.exit).
  const removeWorkspace = () => rmSync(workspace, { recursive: true, force: true });
  if (!given) process.on('exit', removeWorkspace);

  let workbench;
  let tail;
  try {
    workbench = await startWorkbench({
      kind: 'test',
      workspace,
      env: (runDir) => ({
        HARNESS_VSCODE_REPORT: join(runDir, 'report.txt'),
        HARNESS_VSCODE_WORKSPACE: workspace,
        HARNESS_VSCODE_GREP: grep,
      }),
    });
    const { runDir, page } = workbench;
    say(`VS Code at ${workbench.origin}, workspace ${workspace}, logs in ${rel(runDir)}`);
    const report = join(runDir, 'report.txt');
    writeFileSync(report, '', { flag: 'a' });
    tail = followFile(report, process.stdout);

    let settle;
    const outcome = new Promise((done) => (settle = done));
    await page.exposeFunction('codeAutomationExit', (code, logs) => {
      saveWorkbenchLogs(runDir, logs);
      settle({ code: Number(code) });
    });
    page.on('crash', () => settle({ problem: 'the workbench page crashed' }));
    page.on('close', () => settle({ problem: 'the workbench page closed' }));
    const remaining = Math.max(1000, started + timeoutMs - Date.now());
    const timer = setTimeout(() => settle({ problem: `timed out after ${timeoutMs / 1000}s`, code: 1 }), remaining);
    page
      .goto(workbench.url({ extensionDevelopmentPath: repoRoot, extensionTestsPath: extensionTests }), {
        waitUntil: 'domcontentloaded',
        timeout: remaining,
      })
      .catch((error) => settle({ problem: `could not open the workbench: ${error.message.split('\n')[0]}`, code: 1 }));
    const result = await outcome;
    clearTimeout(timer);
    await sleep(300); // the runner's last appendFileSync is on disk; let the tail catch it
    tail.stop();
    tail = undefined;

    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (result.problem || result.code !== 0) {
      say(`FAILED (${result.problem ?? `exit code ${result.code}`}) after ${seconds}s`);
      const cause = diagnoseLogs(workbench);
      if (cause) say(cause);
      say(`browser and extension-host console: ${rel(workbench.consoleLog)}`);
      say(`code-server log: ${rel(workbench.codeServerLog)}; workbench logs: ${rel(join(runDir, 'workbench-logs'))}`);
      return result.code ?? 2;
    }
    say(`passed in ${seconds}s`);
    return 0;
  } finally {
    tail?.stop();
    // Teardown must not hang the shell either.
    const watchdog = setTimeout(() => {
      say('teardown hung; exiting');
      process.exit(2);
    }, 30_000);
    watchdog.unref();
    await workbench?.close();
    clearTimeout(watchdog);
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    say(error instanceof SetupError ? error.message : `launcher error: ${error?.stack ?? error}`);
    process.exit(2);
  },
);

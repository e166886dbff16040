#!/usr/bin/env node
// Runs the same extension-host suite as launch-offline.mjs, in VS Code desktop (Electron) through
// @vscode/test-electron, for machines that can download VS Code (a developer's own, CI with
// internet). It cannot run on the offline project machines: use `npm run test:vscode` there.
// On Linux without a display, run it under xvfb-run.
//
//   node test/vscode/launch-electron.mjs [--workspace DIR] [--grep PATTERN]
//
// Environment: HARNESS_VSCODE_WORKSPACE, HARNESS_VSCODE_GREP (as with the offline launcher),
// HARNESS_VSCODE_VERSION (the VS Code to download, default 1.100.3 as code-server's; or
// `stable`). VS Code is cached in .vscode-test/ (git-ignored).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runTests } from '@vscode/test-electron';
import { followFile } from './follow.mjs';
import { repoRoot } from './workbench.mjs';

const say = (line) => process.stderr.write(`vscode-electron: ${line}\n`);

const { values: options } = parseArgs({
  options: {
    workspace: { type: 'string' },
    grep: { type: 'string' },
  },
});
const extensionTestsPath = join(repoRoot, 'out', 'vscode', 'suite', 'index.js');
for (const path of [join(repoRoot, 'dist', 'extension.js'), extensionTestsPath]) {
  if (!existsSync(path)) {
    say(`${path} is missing: run npm run build`);
    process.exit(2);
  }
}
const given = options.workspace ?? process.env.HARNESS_VSCODE_WORKSPACE;
const workspace = given ? resolve(given) : mkdtempSync(join(tmpdir(), 'agent-harness-ws-'));
mkdirSync(workspace, { recursive: true });
const runDir = mkdtempSync(join(tmpdir(), 'agent-harness-electron-'));
const report = join(runDir, 'report.txt');
writeFileSync(report, '');
const tail = followFile(report, process.stdout);

let code;
try {
  code = await runTests({
    version: process.env.HARNESS_VSCODE_VERSION || '1.100.3',
    extensionDevelopmentPath: repoRoot,
    extensionTestsPath,
    extensionTestsEnv: {
      HARNESS_VSCODE_REPORT: report,
      HARNESS_VSCODE_WORKSPACE: workspace,
      HARNESS_VSCODE_GREP: options.grep ?? process.env.HARNESS_VSCODE_GREP ?? '',
    },
    // The workspace first: VS Code opens it. No other installed extension gets in the way.
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes'],
  });
} catch (error) {
  // runTests rejects with TestRunFailedError when the suite fails, or on a download error.
  if (typeof error?.code === 'number') code = error.code;
  else {
    say(`could not run VS Code: ${error?.message ?? error}`);
    code = 2;
  }
} finally {
  tail.stop();
  rmSync(runDir, { recursive: true, force: true });
  if (!given) rmSync(workspace, { recursive: true, force: true });
}
say(code === 0 ? 'passed' : `FAILED (exit code ${code})`);
process.exit(code === 0 ? 0 : code || 1);

// The test runner that VS Code's extension host loads as `extensionTestsPath`. It exports
// run(), the contract that @vscode/test-electron and the code-server launcher share, so one suite
// serves test/vscode/launch-offline.mjs and test/vscode/launch-electron.mjs alike.
//
// scripts/build.mjs bundles this file (mocha included, `vscode` left external) to
// out/vscode/suite/index.js, and each test/vscode/suite/**/*.test.ts to a *.test.js beside it.
//
// The extension host's console and stdout cannot be redirected (VS Code forwards them to the
// browser console or the Electron main process), so the report goes to the file named by
// HARNESS_VSCODE_REPORT, which the launcher tails to the shell; without it, to console.log.
import { appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import Mocha from 'mocha';
import * as vscode from 'vscode';

export async function run(): Promise<void> {
  // Stack traces of failures name the .ts sources (esbuild writes the maps beside the bundles).
  process.setSourceMapsEnabled(true);
  const reportPath = process.env.HARNESS_VSCODE_REPORT;
  const write = (text: string): void => {
    if (reportPath) appendFileSync(reportPath, `${text}\n`);
    else console.log(text);
  };
  // Plain text: mocha's symbols colour themselves when CI=true, whatever `color` says.
  Mocha.reporters.Base.consoleLog = (...args: unknown[]): void => write(format(...args).replace(/\x1b\[[0-9;]*m/g, ''));

  write(`VS Code ${vscode.version} (${vscode.env.appHost}, ui ${vscode.UIKind[vscode.env.uiKind]})`);
  const mocha = new Mocha({
    ui: 'bdd',
    reporter: 'spec',
    color: false,
    timeout: Number(process.env.HARNESS_VSCODE_TEST_TIMEOUT_MS) || 20_000,
    grep: process.env.HARNESS_VSCODE_GREP || undefined,
  });
  for (const file of testFiles(__dirname)) mocha.addFile(file);

  let stats: Mocha.Stats | undefined;
  try {
    stats = await new Promise<Mocha.Stats | undefined>((resolve) => {
      const runner = mocha.run(() => resolve(runner.stats));
    });
  } catch (error) {
    // A test file that throws while loading lands here, before any test ran.
    write(`Loading the extension-host tests failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    throw error;
  }
  const passed = stats?.passes ?? 0;
  const failed = stats?.failures ?? 0;
  const skipped = stats?.pending ?? 0;
  // The plain closing line that CI reads, whatever the runner.
  write(`vscode: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  if (failed > 0) throw new Error(`${failed} extension-host test(s) failed`);
  if (passed === 0) {
    write(`No extension-host test ran${mocha.options.grep ? ` (grep ${String(mocha.options.grep)})` : ''}.`);
    throw new Error('no extension-host test ran');
  }
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.test.js'))
    .sort()
    .map((name) => join(dir, name));
}

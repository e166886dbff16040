#!/usr/bin/env node
// Takes a screenshot of the workbench with this repository loaded as the extension under
// development (no tests), offline through code-server and headless Chromium (workbench.mjs).
// The workspace holds a .harness folder, so the extension activates as in a real project.
//
//   npm run build && node test/vscode/screenshot.mjs [--out media/screenshot-workbench.png]
//     [--workspace DIR] [--width 1280] [--height 800]
//
// Later steps (open the view container, run a command, wait inside a webview) go in shoot():
// see shared VSCODE-TESTING.md, "Screenshots".
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SetupError, repoRoot, startWorkbench } from './workbench.mjs';

const say = (line) => process.stderr.write(`screenshot: ${line}\n`);

const { values: options } = parseArgs({
  options: {
    out: { type: 'string', default: join(repoRoot, 'media', 'screenshot-workbench.png') },
    workspace: { type: 'string' },
    width: { type: 'string', default: '1280' },
    height: { type: 'string', default: '800' },
  },
});

/** Opens the workbench and waits until it is laid out and the extension host is up. */
async function shoot(workbench, out) {
  const { page } = workbench;
  await page.goto(workbench.url({ extensionDevelopmentPath: repoRoot }), { waitUntil: 'domcontentloaded' });
  await page.locator('.monaco-workbench .part.activitybar').waitFor({ state: 'visible', timeout: 60_000 });
  await page.locator('.monaco-workbench .part.statusbar').waitFor({ state: 'visible', timeout: 60_000 });
  await page.waitForFunction(() => document.title.includes('[Extension Development Host]'), undefined, {
    timeout: 60_000,
  });
  // The explorer's tree is rendered once the remote file system answered.
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 60_000 });
  await page.waitForLoadState('networkidle', { timeout: 10_000 }).catch(() => {});
  await page.mouse.move(0, 0); // no tooltip in the picture
  mkdirSync(dirname(out), { recursive: true });
  await page.screenshot({ path: out });
}

async function main() {
  const out = resolve(options.out);
  if (!existsSync(join(repoRoot, 'dist', 'extension.js'))) {
    throw new SetupError('the extension is not built (dist/extension.js missing): run npm run build');
  }
  // A fixed folder name inside a fresh temp folder, so the picture does not change per run.
  const scratch = options.workspace ? undefined : mkdtempSync(join(tmpdir(), 'agent-harness-shot-'));
  const workspace = scratch ? join(scratch, 'demo-project') : resolve(options.workspace);
  if (scratch) {
    process.on('exit', () => rmSync(scratch, { recursive: true, force: true })); // signals too
    mkdirSync(join(workspace, '.harness'), { recursive: true });
    writeFileSync(join(workspace, 'README.md'), '# Demo workspace\n');
  }
  let workbench;
  try {
    workbench = await startWorkbench({
      kind: 'screenshot',
      workspace,
      viewport: { width: Number(options.width), height: Number(options.height) },
    });
    await shoot(workbench, out);
    say(`wrote ${relative(process.cwd(), out)}`);
  } catch (error) {
    if (workbench) say(`browser console: ${relative(process.cwd(), workbench.consoleLog)}`);
    throw error;
  } finally {
    await workbench?.close();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    say(error instanceof SetupError ? error.message : `failed: ${error?.stack ?? error}`);
    process.exit(error instanceof SetupError ? 2 : 1);
  },
);

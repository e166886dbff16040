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
import { startSampleRun } from './sample-run.mjs';
import { SetupError, repoRoot, startWorkbench } from './workbench.mjs';

const say = (line) => process.stderr.write(`screenshot: ${line}\n`);

const { values: options } = parseArgs({
  options: {
    out: { type: 'string', default: join(repoRoot, 'media', 'screenshot-panel.png') },
    workspace: { type: 'string' },
    width: { type: 'string', default: '1280' },
    height: { type: 'string', default: '800' },
  },
});

/** Opens the workbench and waits until it is laid out and the extension host is up. */
async function openWorkbench(workbench) {
  const { page } = workbench;
  await page.goto(workbench.url({ extensionDevelopmentPath: repoRoot }), { waitUntil: 'domcontentloaded' });
  await page.locator('.monaco-workbench .part.activitybar').waitFor({ state: 'visible', timeout: 60_000 });
  await page.locator('.monaco-workbench .part.statusbar').waitFor({ state: 'visible', timeout: 60_000 });
  await page.waitForFunction(() => document.title.includes('[Extension Development Host]'), undefined, {
    timeout: 60_000,
  });
  await page.waitForLoadState('networkidle', { timeout: 10_000 }).catch(() => {});
}

/** The sidebar with the Tasks and Instances trees, and the coordination panel beside it. */
async function shoot(workbench, out) {
  const { page } = workbench;
  await openWorkbench(workbench);
  await page.locator('.activitybar a[aria-label^="Agent Harness"], .activitybar .action-item[aria-label^="Agent Harness"]').first().click();
  const rows = page.locator('.pane-body .monaco-list-row');
  await rows.first().waitFor({ timeout: 60_000 });
  await page.keyboard.press('Control+Shift+P');
  await page.keyboard.type('>Agent Harness: Open Coordination Panel');
  await page.waitForTimeout(300); // the palette filters as it is typed
  await page.keyboard.press('Enter');
  const frame = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  await frame.locator('svg').first().waitFor({ timeout: 60_000 });
  const run = frame.locator('[data-run-id]').first();
  if (await run.count()) await run.click();
  await page.waitForTimeout(2500); // let live output stream in
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
  const scratch = mkdtempSync(join(tmpdir(), 'agent-harness-shot-'));
  process.on('exit', () => rmSync(scratch, { recursive: true, force: true })); // signals too
  const workspace = options.workspace ? resolve(options.workspace) : join(scratch, 'demo-project');
  const runtimeDir = join(scratch, 'runtime');
  const sample = await startSampleRun(workspace, runtimeDir);
  let workbench;
  try {
    workbench = await startWorkbench({
      kind: 'screenshot',
      workspace,
      env: { XDG_RUNTIME_DIR: runtimeDir },
      viewport: { width: Number(options.width), height: Number(options.height) },
    });
    await shoot(workbench, out);
    say(`wrote ${relative(process.cwd(), out)}`);
  } catch (error) {
    if (workbench) say(`browser console: ${relative(process.cwd(), workbench.consoleLog)}`);
    throw error;
  } finally {
    await workbench?.close();
    await sample.stop();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    say(error instanceof SetupError ? error.message : `failed: ${error?.stack ?? error}`);
    process.exit(error instanceof SetupError ? 2 : 1);
  },
);

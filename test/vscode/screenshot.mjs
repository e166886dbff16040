#!/usr/bin/env node
// Takes the README's three screenshots of the real workbench, offline through code-server and
// headless Chromium (workbench.mjs), with this repository as the extension under development and
// a 40-task plan mid-run (sample-run.mjs) served by a real `harness serve`:
//   media/screenshot-sidebar.png  the sidebar: Tasks (attention first), Workers, Coordination
//   media/screenshot-panel.png    the Task Graph panel: the graph mid-run, workers, runs, live output
//   media/screenshot-task.png     a task selected: its upstream and downstream lit, its details
//
//   npm run screenshot  (or: npm run build && node test/vscode/screenshot.mjs [--out-dir DIR]
//     [--width 1280] [--height 800])
//
// How it drives the workbench (activity bar, command palette, webview frames): docs/testing.md.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startSampleRun } from './sample-run.mjs';
import { SetupError, diagnoseLogs, repoRoot, startWorkbench } from './workbench.mjs';

const say = (line) => process.stderr.write(`screenshot: ${line}\n`);

const { values: options } = parseArgs({
  options: {
    'out-dir': { type: 'string', default: join(repoRoot, 'media') },
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
  await page.waitForFunction(() => document.title.includes('[Extension Development Host]'), undefined, { timeout: 60_000 });
  await page.waitForLoadState('networkidle', { timeout: 10_000 }).catch(() => {});
}

/** Runs a command by its title through the palette (F1 opens it with the `>` already typed). */
async function runCommand(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${title}`);
  await page.locator(`.quick-input-list .monaco-list-row[aria-label*="${title}"]`).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
}

/** No hover tooltip, no focus ring from the last click in the picture. */
async function settle(page) {
  await page.mouse.move(2, 400);
  await page.waitForTimeout(400);
}

async function shoot(workbench, outDir) {
  const { page } = workbench;
  await openWorkbench(workbench);

  // 1. The sidebar.
  await page.locator('.activitybar a[aria-label^="Agent Harness"], .activitybar .action-item[aria-label^="Agent Harness"]').first().click();
  const rows = page.locator('.part.sidebar .monaco-list-row');
  await rows.filter({ hasText: 'Dead-lettered' }).first().waitFor({ timeout: 60_000 });
  await rows.filter({ hasText: 'agent-4 (script)' }).first().waitFor({ timeout: 60_000 });
  await rows.filter({ hasText: 'db/seed.sql' }).first().waitFor({ timeout: 60_000 });
  await page.waitForTimeout(1500); // the periodic refresh has drawn every row
  await settle(page);
  const sidebar = await page.locator('.part.sidebar').boundingBox();
  const height = Number(options.height);
  const sidebarShot = join(outDir, 'screenshot-sidebar.png');
  await page.screenshot({ path: sidebarShot, clip: { x: 0, y: 0, width: Math.ceil(sidebar.x + sidebar.width), height } });
  say(`wrote ${relative(process.cwd(), sidebarShot)}`);

  // 2. The Task Graph panel, the sidebar closed to give it the window.
  await runCommand(page, 'Agent Harness: Open Task Graph');
  const frame = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  await frame.locator('#dag g.node.collapsed').first().waitFor({ timeout: 60_000 }); // completed work starts folded
  await page.keyboard.press('Control+B');
  await page.locator('.part.sidebar').waitFor({ state: 'hidden', timeout: 10_000 });
  await frame.locator('#output .line').nth(12).waitFor({ timeout: 60_000 });
  await page.waitForTimeout(2500); // the graph fits the wider view again; output streams in
  await settle(page);
  const panelShot = join(outDir, 'screenshot-panel.png');
  await page.screenshot({ path: panelShot });
  say(`wrote ${relative(process.cwd(), panelShot)}`);

  // 3. One task selected: its upstream and downstream lit, its details and its run's output.
  await frame.locator('#dag g.node[data-task-id="api-payments"]').click();
  await frame.locator('#task-detail .detail-id', { hasText: 'api-payments' }).waitFor({ timeout: 10_000 });
  await frame.locator('#task-detail button', { hasText: 'Output: running' }).first().click();
  await frame.locator('#output .line', { hasText: 'POST /api/payments' }).nth(8).waitFor({ timeout: 30_000 });
  await page.waitForTimeout(1500);
  await settle(page);
  const taskShot = join(outDir, 'screenshot-task.png');
  await page.screenshot({ path: taskShot });
  say(`wrote ${relative(process.cwd(), taskShot)}`);
}

async function main() {
  const outDir = resolve(options['out-dir']);
  if (!existsSync(join(repoRoot, 'dist', 'extension.js'))) {
    throw new SetupError('the extension is not built (dist/extension.js missing): run npm run build');
  }
  mkdirSync(outDir, { recursive: true });
  // A fixed folder name inside a fresh temp folder, so the pictures do not change per run.
  const scratch = mkdtempSync(join(tmpdir(), 'ah-shot-'));
  process.on('exit', () => rmSync(scratch, { recursive: true, force: true })); // signals too
  const workspace = join(scratch, 'shop');
  const runtimeDir = join(scratch, 'run');
  const sample = await startSampleRun(workspace, runtimeDir);
  let workbench;
  try {
    workbench = await startWorkbench({
      kind: 'screenshot',
      workspace,
      env: { XDG_RUNTIME_DIR: runtimeDir },
      viewport: { width: Number(options.width), height: Number(options.height) },
    });
    await shoot(workbench, outDir);
  } catch (error) {
    if (workbench) {
      const cause = diagnoseLogs(workbench);
      if (cause) say(cause);
      say(`browser console: ${relative(process.cwd(), workbench.consoleLog)}`);
      await workbench.page.screenshot({ path: join(workbench.runDir, 'failure.png') }).catch(() => {});
      say(`the workbench when it failed: ${relative(process.cwd(), join(workbench.runDir, 'failure.png'))}`);
    }
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

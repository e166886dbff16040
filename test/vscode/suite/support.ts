import { execFile } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { HarnessExtensionApi } from '../../../src/host/extension';

export const EXTENSION_ID = 'agent-harness.agent-harness';

export async function harness(): Promise<HarnessExtensionApi> {
  const ext = vscode.extensions.getExtension<HarnessExtensionApi>(EXTENSION_ID);
  if (!ext) throw new Error(`${EXTENSION_ID} is not installed`);
  return ext.activate();
}

export function workspaceFolder(): string {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (!folder) throw new Error('the extension-host tests need a workspace folder');
  return folder;
}

export function repoRoot(): string {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  if (!ext) throw new Error(`${EXTENSION_ID} is not installed`);
  return ext.extensionPath;
}

/** Runs the built CLI as a separate process, as a worker in a terminal would. */
export function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(repoRoot(), 'dist', 'cli.js'), ...args],
      { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', ...env }, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Polls `probe` until it returns something truthy, or fails after `timeoutMs` with `what`. */
export async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A figure a test measured, printed with the report on the shell (the extension host's console
 * goes to the browser's, which only the run folder keeps).
 */
export function measure(line: string): void {
  const report = process.env.HARNESS_VSCODE_REPORT;
  if (report) appendFileSync(report, `      [measure] ${line}\n`);
  console.log(`[measure] ${line}`);
}

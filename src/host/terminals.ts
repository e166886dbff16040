import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

/**
 * Puts a `harness` command on the PATH of every integrated terminal, and tells those terminals
 * where the coordinator is, so `harness task claim` just works in any of them.
 */
export function installCliEnvironment(context: vscode.ExtensionContext, folder: string, socketPath: string): string {
  const binDir = path.join(context.globalStorageUri.fsPath, 'bin');
  fs.mkdirSync(binDir, { recursive: true });
  const cli = path.join(context.extensionPath, 'dist', 'cli.js');
  // In desktop VS Code the extension host runs in Electron: it behaves as Node with this variable.
  if (process.platform === 'win32') {
    fs.writeFileSync(path.join(binDir, 'harness.cmd'), `@echo off\r\nset ELECTRON_RUN_AS_NODE=1\r\n"${process.execPath}" "${cli}" %*\r\n`);
  } else {
    const shim = path.join(binDir, 'harness');
    fs.writeFileSync(shim, `#!/bin/sh\nELECTRON_RUN_AS_NODE=1 exec '${process.execPath}' '${cli}' "$@"\n`, { mode: 0o755 });
  }
  const env = context.environmentVariableCollection;
  env.description = 'Agent Harness: the `harness` CLI and the coordinator socket';
  env.prepend('PATH', binDir + path.delimiter);
  env.replace('HARNESS_SOCKET', socketPath);
  env.replace('HARNESS_WORKSPACE', folder);
  env.replace('HARNESS_WORKTREE', folder); // its old name, for scripts that read it
  env.replace('HARNESS_MCP_CONFIG', mcpConfigJson(binDir));
  return binDir;
}

/**
 * An MCP client config that starts `harness mcp` through the CLI on these terminals' PATH: an
 * agent started in one reads it (`claude --mcp-config "$HARNESS_MCP_CONFIG"`), and the server
 * it starts inherits the terminal's socket and worker id.
 */
export function mcpConfigJson(binDir: string): string {
  const command = path.join(binDir, process.platform === 'win32' ? 'harness.cmd' : 'harness');
  return JSON.stringify({ mcpServers: { 'agent-harness': { command, args: ['mcp'] } } });
}

/** Quotes one argument for a POSIX shell. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export interface WorkerTerminalOptions {
  folder: string;
  socketPath: string;
  binDir: string;
  /** The agent command each worker runs per task (`{id}`, `{description}` filled in); empty: an idle shell. */
  workerCommand: string;
  /** Working directory and extra environment per worker (isolated worktrees). */
  prepare?: (workerId: string) => Promise<{ cwd: string; env: Record<string, string> }>;
}

/** Opens `count` terminals, each a worker with its own id in its environment. */
export async function spawnWorkers(count: number, options: WorkerTerminalOptions): Promise<vscode.Terminal[]> {
  const terminals: vscode.Terminal[] = [];
  const batch = randomUUID().slice(0, 4);
  for (let n = 1; n <= count; n++) {
    const workerId = `vscode-${batch}-${n}`;
    const extra = options.prepare ? await options.prepare(workerId) : { cwd: options.folder, env: {} };
    const terminal = vscode.window.createTerminal({
      name: `Harness worker ${n}`,
      cwd: extra.cwd,
      env: {
        ...extra.env,
        HARNESS_SOCKET: options.socketPath,
        HARNESS_WORKSPACE: options.folder,
        HARNESS_WORKTREE: options.folder,
        HARNESS_WORKER_ID: workerId,
        HARNESS_MCP_CONFIG: mcpConfigJson(options.binDir),
        PATH: `${options.binDir}${path.delimiter}${process.env.PATH ?? ''}`,
      },
      iconPath: new vscode.ThemeIcon('vm'),
    });
    if (options.workerCommand.trim()) {
      terminal.sendText(`harness work --name ${shellQuote(`terminal ${n}`)} --shell -- ${shellQuote(options.workerCommand)}`);
    }
    terminal.show(n > 1);
    terminals.push(terminal);
  }
  return terminals;
}

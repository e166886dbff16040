// Workers of targets as VS Code terminals, named by target and slot ("Harness claude #2"), so a
// person sees each one run. The terminal's process is `harness work` itself (no shell in
// between): its exit code is the terminal's, and closing the terminal stops the worker (SIGHUP:
// it releases its task and deregisters). A window reload keeps the terminals and their
// processes; the next window adopts them by name.
import * as vscode from 'vscode';
import { watchProcess } from '../exec';

/** What the supervisor hands over (src/server/fleet/launcher.ts: LaunchSpec). */
export interface TerminalLaunch {
  title: string;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}

export interface TerminalExit {
  code: number | null;
  signal: string | null;
  lost?: boolean;
  tail: string;
}

export interface TerminalWorker {
  readonly pid: number | null;
  readonly exited: Promise<TerminalExit>;
  stop(): void;
}

function whenClosed(terminal: vscode.Terminal): Promise<TerminalExit> {
  return new Promise((resolve) => {
    const sub = vscode.window.onDidCloseTerminal((t) => {
      if (t !== terminal) return;
      sub.dispose();
      // A person closing it is a stop (the worker left cleanly); otherwise the process's own code.
      const status = t.exitStatus;
      const byUser = status?.reason === vscode.TerminalExitReason.User;
      resolve({ code: byUser ? 0 : (status?.code ?? null), signal: null, tail: '' });
    });
  });
}

export function terminalLauncher(): {
  readonly stopOnClose: false;
  launch(spec: TerminalLaunch): Promise<TerminalWorker>;
  adopt(spec: TerminalLaunch, pid: number): TerminalWorker;
} {
  return {
    stopOnClose: false,
    async launch(spec) {
      const terminal = vscode.window.createTerminal({
        name: spec.title,
        shellPath: spec.argv[0]!,
        shellArgs: spec.argv.slice(1),
        cwd: spec.cwd,
        env: spec.env,
        iconPath: new vscode.ThemeIcon('vm-running'),
      });
      const exited = whenClosed(terminal);
      const pid = (await terminal.processId) ?? null;
      return { pid, exited, stop: () => terminal.dispose() };
    },
    adopt(spec, pid) {
      // After a reload VS Code brings the terminal back, with the same process in it.
      const terminal = vscode.window.terminals.find((t) => t.name === spec.title);
      if (terminal) return { pid, exited: whenClosed(terminal), stop: () => terminal.dispose() };
      return watchProcess(pid);
    },
  };
}

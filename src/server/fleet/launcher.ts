// How the supervisor starts and watches a worker's process. Headless (`harness serve`): child
// processes whose output goes to the run logs (this file). In VS Code: terminals named by target
// and slot (src/host/fleet-terminals.ts). The supervisor sees both the same way.
import { spawn, type ChildProcess } from 'node:child_process';
import { watchProcess } from '../../exec';
import type { RunRegistry } from '../runs';

/** Everything needed to start one worker: `harness work` around the target's command. */
export interface LaunchSpec {
  target: string;
  slot: number;
  worker_id: string;
  generation: number;
  /** What a person sees it as: the terminal's name, "Harness <target> #<slot>". */
  title: string;
  argv: string[];
  cwd: string;
  /** Set on top of the host's own environment. */
  env: Record<string, string>;
  /** The run its output is kept under (headless). */
  run_id: string;
}

export interface WorkerExit {
  code: number | null;
  signal: string | null;
  /** Not seen exiting: a process started by an earlier host that was found gone. */
  lost?: boolean;
  /** The end of its output, when the launcher has it. */
  tail: string;
}

export interface LaunchedWorker {
  readonly pid: number | null;
  readonly exited: Promise<WorkerExit>;
  /** Asks it to stop: `harness work` then releases its task and deregisters. */
  stop(): void;
}

export interface WorkerLauncher {
  /** Starts a worker; resolves once it runs, rejects when it could not be started. */
  launch(spec: LaunchSpec): Promise<LaunchedWorker>;
  /** Watches a worker an earlier host started (it is still running as `pid`). */
  adopt(spec: LaunchSpec, pid: number): LaunchedWorker;
  /** Stop the workers when the coordinator stops (headless); a window reload leaves them running. */
  readonly stopOnClose: boolean;
}

/** How much of a worker's output is kept in memory for a target that trips its breaker. */
const TAIL_CHARS = 4000;
/** After asking a worker to stop, how long before it is killed. */
const STOP_GRACE_MS = 15_000;

/**
 * Workers as child processes of the coordinator: detached (a Ctrl+C meant for `harness serve`
 * does not reach them; a killed coordinator leaves them running, to be adopted by the next one),
 * output streamed into a run of the run registry (`harness run log`, the panel).
 */
export class ProcessLauncher implements WorkerLauncher {
  readonly stopOnClose = true;

  constructor(private readonly runs: RunRegistry) {}

  launch(spec: LaunchSpec): Promise<LaunchedWorker> {
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(spec.argv[0]!, spec.argv.slice(1), {
          cwd: spec.cwd,
          env: { ...process.env, ...spec.env },
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
          windowsHide: true,
        });
      } catch (e) {
        reject(e as Error);
        return;
      }
      let tail = '';
      // 'close': the process ended and its output was read to the end, so the tail is complete.
      const exited = new Promise<WorkerExit>((done) => child.once('close', (code, sig) => done({ code, signal: sig, tail })));
      child.once('error', reject);
      child.once('spawn', () => {
        child.off('error', reject);
        child.on('error', () => {}); // a failed kill later: the exit tells the rest
        this.runs.start({ run_id: spec.run_id, argv: spec.argv, cwd: spec.cwd, worker_id: spec.worker_id });
        for (const [stream, pipe] of [['stdout', child.stdout!], ['stderr', child.stderr!]] as const) {
          pipe.setEncoding('utf8');
          pipe.on('data', (data: string) => {
            tail = (tail + data).slice(-TAIL_CHARS);
            this.runs.output(spec.run_id, stream, data);
          });
        }
        void exited.then((e) => this.runs.finish(spec.run_id, { returncode: e.code, signal_name: e.signal }));
        let stopTimer: NodeJS.Timeout | undefined;
        void exited.then(() => stopTimer && clearTimeout(stopTimer));
        resolve({
          pid: child.pid ?? null,
          exited,
          stop: () => {
            if (child.exitCode !== null || child.signalCode !== null) return;
            child.kill('SIGTERM');
            stopTimer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
            stopTimer.unref();
          },
        });
      });
    });
  }

  adopt(_spec: LaunchSpec, pid: number): LaunchedWorker {
    return watchProcess(pid);
  }
}

import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ParsedParamsOf } from '../protocol/command';
import type { EventData } from '../protocol/events';
import type { OutputChunk, Stream } from '../protocol/output';
import type { RunInfo, RunStart } from '../protocol/runs';
import { ErrorCode, HarnessError } from '../core/errors';
import { TypedEmitter } from '../core/events';
import type { Logger } from '../core/log';

export type { OutputChunk, RunInfo, Stream };

export interface RunEvents {
  'run:started': EventData<'run:started'>;
  'run:output': EventData<'run:output'>;
  'run:finished': EventData<'run:finished'>;
}

/**
 * Every exec run the coordinator knows of, with its output. The output log of a run is kept on
 * disk (bounded: past `maxLogBytes` only a count of what was dropped) so a viewer who opens a
 * run late still sees it from the start. Logs are not coordinator state, so they are not fsync'd.
 */
export class RunRegistry {
  readonly events = new TypedEmitter<RunEvents>();
  private readonly runs = new Map<string, RunInfo>();

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
    private readonly maxLogBytes = 8 * 1024 * 1024,
    private readonly maxRuns = 200,
  ) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      try {
        const run = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as RunInfo;
        // A run still "running" in a file outlived the coordinator that watched it.
        this.runs.set(run.run_id, run);
      } catch {
        log.warn(`ignoring unreadable run record ${file}`);
      }
    }
  }

  start(p: ParsedParamsOf<typeof RunStart>): RunInfo {
    const run: RunInfo = {
      run_id: p.run_id ?? `run-${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`,
      worker_id: p.worker_id ?? null,
      task_id: p.task_id ?? null,
      argv: p.argv,
      cwd: p.cwd ?? null,
      started_at: new Date().toISOString(),
      status: 'running',
      result: null,
      output_bytes: 0,
      logged_bytes: 0,
    };
    if (this.runs.has(run.run_id)) throw new HarnessError(ErrorCode.AlreadyExists, `run ${run.run_id} already exists`);
    this.runs.set(run.run_id, run);
    this.saveInfo(run);
    this.prune();
    this.events.emit('run:started', { run });
    return run;
  }

  output(runId: string, stream: Stream, data: string): void {
    const run = this.require(runId);
    const bytes = Buffer.byteLength(data);
    run.output_bytes += bytes;
    if (run.logged_bytes + bytes <= this.maxLogBytes) {
      run.logged_bytes += bytes;
      fs.appendFileSync(this.logPath(runId), JSON.stringify([stream === 'stdout' ? 1 : 2, data]) + '\n', { mode: 0o600 });
    }
    this.events.emit('run:output', { run_id: runId, task_id: run.task_id, stream, data });
  }

  finish(runId: string, result: Record<string, unknown>): RunInfo {
    const run = this.require(runId);
    run.status = 'finished';
    run.result = result;
    this.saveInfo(run);
    this.events.emit('run:finished', { run });
    return run;
  }

  list(): RunInfo[] {
    return [...this.runs.values()].sort((a, b) => a.started_at.localeCompare(b.started_at));
  }

  get(runId: string): RunInfo {
    return this.require(runId);
  }

  /** The run's output from the start, as kept; `dropped_bytes` says how much was not. */
  output_log(runId: string): { run: RunInfo; output: OutputChunk[]; dropped_bytes: number } {
    const run = this.require(runId);
    let text = '';
    try {
      text = fs.readFileSync(this.logPath(runId), 'utf8');
    } catch {
      // No output yet.
    }
    const output: OutputChunk[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const [s, data] = JSON.parse(line) as [number, string];
        output.push({ stream: s === 1 ? 'stdout' : 'stderr', data });
      } catch {
        // A line cut short by a crash: the rest of the log is still worth showing.
      }
    }
    return { run, output, dropped_bytes: run.output_bytes - run.logged_bytes };
  }

  private require(runId: string): RunInfo {
    const run = this.runs.get(runId);
    if (!run) throw new HarnessError(ErrorCode.NotFound, `run ${runId} does not exist`, { run_id: runId });
    return run;
  }

  private logPath(runId: string): string {
    return path.join(this.dir, `${runId}.log`);
  }

  private saveInfo(run: RunInfo): void {
    fs.writeFileSync(path.join(this.dir, `${run.run_id}.json`), JSON.stringify(run), { mode: 0o600 });
  }

  /** Keeps the newest `maxRuns` finished runs. */
  private prune(): void {
    const finished = this.list().filter((r) => r.status === 'finished');
    for (const run of finished.slice(0, Math.max(0, this.runs.size - this.maxRuns))) {
      this.runs.delete(run.run_id);
      fs.rmSync(path.join(this.dir, `${run.run_id}.json`), { force: true });
      fs.rmSync(this.logPath(run.run_id), { force: true });
    }
  }
}

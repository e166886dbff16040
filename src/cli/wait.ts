import type { EventName } from '../protocol/events';
import type { GroupStatus, StreamState } from '../protocol/groups';
import { CheckpointRecord, GroupStatusCommand, TaskProgressCommand } from '../protocol/tasks';
import { DURATIONS, integer, secondsOf } from './args';
import { call, type CliCommand } from './commands';
import { connect, resolveWorkerId, UsageError } from './context';
import { isText, printError, printReply } from './output';
import { clip, columns, json } from './table';
import { taskChanged } from './text';

const WAIT = 'harness wait --group G [--progressive] [--checkpoint-interval S] [--timeout S]';
const PROGRESS = 'harness task progress --id ID --percent P [--message M] [--token N]';

/** Events after which a group may have moved on; they only say "look again" (the status is read whole). */
const GROUP_EVENTS: EventName[] = ['task:completed', 'task:dead_letter', 'task:cancelled', 'task:added', 'task:progress', 'task:failed'];

type Summary = ReturnType<typeof summary>;

function summaryText(d: Summary): string {
  return (
    `group ${d.group}: ${d.completed} of ${d.total} completed\n` +
    columns([['TASK', 'STATUS', 'RESULT'], ...d.results.map((r) => [r.task_id, r.status, r.error ? clip(r.error, 60) : json(r.result, 60)])], '  ')
  );
}

/** A progressive or checkpoint line, for people. */
function eventText(doc: Record<string, unknown>): string {
  if (doc.event === 'stream_finished') {
    return `${doc.task_id} ${String(doc.status).replace('_', ' ')}${doc.error ? `: ${clip(String(doc.error), 80)}` : ''} (${doc.finished} of ${doc.total} finished)\n`;
  }
  const streams = (doc.streams as Array<{ task_id: string; status: string; progress: { percent: number } | null }>) ?? [];
  return `checkpoint ${doc.timestamp}: ${clip(streams.map((s) => `${s.task_id} ${s.status}${s.progress ? ` ${s.progress.percent}%` : ''}`).join(', '), 200)}\n`;
}

function summary(status: GroupStatus) {
  return {
    group: status.group,
    total: status.total,
    completed: status.completed,
    failed: status.failed,
    results: status.streams.map(({ task_id, status: s, result, error, completed_at }) => ({ task_id, status: s, result, error, completed_at })),
  };
}

/**
 * Waits for a group of parallel streams to converge. Barrier: one JSON document once every task
 * of the group has finished (exit 1 if any did not complete). Progressive: a line per task as it
 * finishes, in completion order, before that. Checkpoint: a recorded snapshot of every stream's
 * progress at a fixed interval, printed as a line too.
 */
export const WAIT_COMMAND: CliCommand = {
  name: 'wait',
  usage: WAIT,
  summary: 'wait for a group of tasks to finish (barrier, progressive, checkpoints)',
  options: {
    group: { type: 'string', short: 'g' },
    progressive: { type: 'boolean' },
  },
  durations: { 'checkpoint-interval': DURATIONS.checkpointInterval, timeout: DURATIONS.groupTimeout },
  async run(v, _p, o, io) {
    const group = v.group as string | undefined;
    if (!group) throw new UsageError('--group is required', WAIT);
    const interval = secondsOf(v, 'checkpoint-interval');
    const timeout = secondsOf(v, 'timeout');
    const line = (doc: Record<string, unknown>) => io.stdout(isText(o) ? eventText(doc) : JSON.stringify(doc) + '\n');
    let client;
    try {
      client = await connect(o, io);
    } catch (e) {
      return printError(e, io, o);
    }
    const c = client;
    const announced = new Set<string>();
    let wake: (() => void) | undefined;
    let saidEmpty = false;
    try {
      // Events only say "look again"; the group's status is always read whole, so nothing is missed.
      await c.subscribe(GROUP_EVENTS, () => wake?.());
      const deadline = timeout !== undefined ? Date.now() + timeout * 1000 : Infinity;
      let nextCheckpoint = interval !== undefined ? Date.now() + interval * 1000 : Infinity;
      for (;;) {
        const status = await c.call(GroupStatusCommand, { group });
        if (v.progressive) {
          const finished = status.streams
            .filter((s) => s.status !== 'pending' && s.status !== 'running' && !announced.has(s.task_id))
            .sort((a, b) => (a.completed_at ?? '').localeCompare(b.completed_at ?? ''));
          for (const s of finished) {
            announced.add(s.task_id);
            line({ event: 'stream_finished', group, ...pick(s), finished: announced.size, total: status.total });
          }
        }
        if (status.done) {
          if (status.failed === 0) return printReply({ status: 'ok', data: summary(status) }, io, o, summaryText);
          const bad = status.streams.filter((s) => s.status !== 'completed').map((s) => `${s.task_id} (${s.status})`);
          return printReply(
            {
              status: 'error',
              code: 'GROUP_FAILED',
              message: `${status.failed} of ${status.total} tasks of group ${group} did not complete: ${bad.join(', ')}`,
              details: summary(status),
            },
            io,
            o,
            summaryText,
          );
        }
        const now = Date.now();
        if (now >= deadline) {
          const open = status.streams.filter((s) => s.status === 'pending' || s.status === 'running').map((s) => s.task_id);
          return printReply(
            {
              status: 'error',
              code: 'TIMEOUT',
              message: `group ${group} did not converge within ${timeout} s: ${status.total ? `still open: ${open.join(', ')}` : 'it has no tasks'}`,
              details: summary(status),
            },
            io,
            o,
            summaryText,
          );
        }
        if (status.total === 0 && !saidEmpty) {
          // A misspelt group looks just like one whose tasks are yet to come: say which this wait is.
          saidEmpty = true;
          const until = timeout !== undefined ? `giving up after ${timeout} s` : 'with no time limit: Ctrl+C stops it, --timeout S gives up after S seconds';
          io.stderr(`harness: group ${group} has no tasks yet; waiting for tasks to be added to it and to finish (${until})\n`);
        }
        if (now >= nextCheckpoint) {
          const { checkpoint } = await c.call(CheckpointRecord, { group });
          line({ event: 'checkpoint', ...checkpoint });
          nextCheckpoint += interval! * 1000;
          continue;
        }
        // Sleep until an event, the next checkpoint, the deadline, or a periodic look (lost events).
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.max(0, Math.min(nextCheckpoint, deadline, now + 2000) - now));
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = undefined;
      }
    } catch (e) {
      return printError(e, io, o);
    } finally {
      c.close();
    }
  },
};

function pick(s: StreamState) {
  return { task_id: s.task_id, status: s.status, result: s.result, error: s.error, completed_at: s.completed_at };
}

export const PROGRESS_COMMAND: CliCommand = {
  name: 'task progress',
  usage: PROGRESS,
  summary: 'report progress on a task you hold (also renews its lease)',
  options: { id: { type: 'string' }, percent: { type: 'string' }, message: { type: 'string' }, token: { type: 'string' } },
  async run(v, _p, o, io) {
    const id = v.id as string | undefined;
    if (!id) throw new UsageError('--id is required', PROGRESS);
    const percent = Number(v.percent);
    if (v.percent === undefined || !Number.isFinite(percent) || percent < 0 || percent > 100) {
      throw new UsageError(`--percent must be a number from 0 to 100, got ${JSON.stringify(v.percent ?? null)}`, PROGRESS);
    }
    return call(o, io, TaskProgressCommand, {
      worker_id: resolveWorkerId(o, io),
      task_id: id,
      percent,
      ...(typeof v.message === 'string' ? { message: v.message } : {}),
      ...(v.token !== undefined ? { fencing_token: integer(v, 'token', PROGRESS) } : {}),
    }, (d) => taskChanged(d.task));
  },
};

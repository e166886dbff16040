import * as path from 'node:path';
import { inspectStateDirectory, repairStateDirectory, type StateReport } from '../server/recover';
import type { CliCommand } from './commands';
import { workspaceOption } from './context';
import { isText, printError, printReply } from './output';

const USAGE = 'harness recover [--workspace DIR] [--state-dir DIR] [--yes] [--format text]';

/** The report as a person reads it. */
function describe(report: StateReport, repaired?: { backup: string }): string {
  const s = report.snapshot;
  const lines = [`state directory ${report.dir}`];
  lines.push(
    s.status === 'missing'
      ? '  snapshot: none'
      : `  snapshot: ${s.status}${s.seq !== undefined ? `, up to record ${s.seq}, ${s.tasks} task(s)` : ''}${s.problem ? ` — ${s.problem}` : ''}` +
          (s.status === 'damaged' ? (s.readable ? ' (SQLite still reads it: its rows are kept, some may be altered)' : ' (unreadable: nothing of it can be kept)') : ''),
  );
  for (const j of report.journals) {
    const range = j.first_seq !== undefined ? `records ${j.first_seq}–${j.last_seq}` : 'no intact records';
    lines.push(`  ${path.basename(j.file)}: ${range}${j.problem ? ' (damaged, see below)' : ''}`);
  }
  if (report.healthy) {
    lines.push(`nothing to recover: the coordinator starts on this state (${report.tasks} task(s), up to record ${report.intact_through})`);
    return lines.join('\n') + '\n';
  }
  lines.push(...report.problems.map((p) => `  problem: ${p}`));
  const plan = `start from record ${report.intact_through} (${report.tasks} task(s)), dropping ${report.dropped_records} record(s) after it`;
  lines.push(repaired ? `recovered: ${plan.replace('start', 'started')}; the files as they were are in ${repaired.backup}` : `to ${plan}, run again with --yes (copies of the damaged files are kept)`);
  return lines.join('\n') + '\n';
}

/**
 * `harness recover`: shows what of a state directory is intact; with --yes, and only when
 * something is damaged, keeps a copy of the files and starts over from the last intact record.
 * It works on the files directly: no coordinator may be running on them.
 */
export const RECOVER_COMMAND: CliCommand = {
  name: 'recover',
  usage: USAGE,
  summary: 'show what of a damaged state directory is intact; with --yes, start from the last intact record',
  options: {
    workspace: { type: 'string' },
    /** Deprecated name of --workspace, kept because scripts use it. */
    worktree: { type: 'string' },
    'state-dir': { type: 'string' },
    yes: { type: 'boolean' },
  },
  async run(v, _p, o, io) {
    const dir = path.resolve(workspaceOption(v, io, USAGE), (v['state-dir'] as string | undefined) ?? '.harness');
    try {
      const report = await inspectStateDirectory(dir);
      const repaired = !report.healthy && v.yes === true ? await repairStateDirectory(dir) : undefined;
      const final = repaired?.report ?? report;
      const data = { ...final, recovered: repaired !== undefined, ...(repaired ? { backup: repaired.backup } : {}) };
      printReply({ status: 'ok', data }, io, o, () => describe(final, repaired));
      if (!isText(o) && !final.healthy) io.stderr(describe(final, repaired));
      // Damage left as it is (no --yes) is not success: scripts must not carry on as if it were.
      return final.healthy || repaired ? 0 : 1;
    } catch (e) {
      return printError(e, io, o);
    }
  },
};

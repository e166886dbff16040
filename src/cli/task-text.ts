// Tasks for people (--format text): `task list` as sections of aligned columns, from what is
// finished down to what runs now (the end of the output, next to the prompt, is the present),
// with ready tasks apart from blocked ones, and `task show` as one task's fields.
import type { Task } from '../protocol/model';
import { standingOf, unmetDependencies, type Standing, type StatusLookup } from '../protocol/task-standing';
import { clip, columns, count, json, relative, took } from './table';

// Widths that keep a line within 200 columns, however long ids, groups or descriptions are.
const DESCRIPTION = 60;
const ID = 32;
const WAITING = 40;
const SHORT = 20;

/** What a blocked task waits for, with the status of a dependency that will never complete by itself. */
function unmet(t: Task, statusOf: StatusLookup): string[] {
  return unmetDependencies(t, statusOf).map((d) => {
    const s = statusOf(d);
    return s === 'dead_letter' ? `${d} (dead letter)` : s === 'cancelled' ? `${d} (cancelled)` : s === undefined ? `${d} (unknown)` : d;
  });
}

const dash = (s: string) => s || '-';
const needs = (t: Task) => dash(clip([...t.capabilities, ...Object.entries(t.resources ?? {}).map(([k, n]) => `${k}=${n}`)].join(','), SHORT));
const attempt = (t: Task) => `${t.attempts}/${t.max_attempts}`;

/**
 * When a running task's lease ends; one that ran out (its worker went quiet or stale) says that the
 * next claim takes the task over, which is what happens: it is not waiting for its old worker.
 */
function lease(expiresAt: string, now: number): string {
  return Date.parse(expiresAt) > now ? relative(expiresAt, now) : `ran out ${relative(expiresAt, now)}: the next claim takes it over`;
}

/** As many of `items` as fit in `max` columns, then "+N" for the rest. */
function listOf(items: readonly string[], max: number): string {
  let text = '';
  for (let i = 0; i < items.length; i++) {
    const rest = items.length - i - 1;
    const next = (text ? `${text}, ` : '') + clip(items[i]!, ID);
    if (text && next.length + (rest ? ` +${rest}`.length : 0) > max) return `${text} +${items.length - i}`;
    text = next;
  }
  return text;
}

interface Section {
  title: string;
  header: string[];
  row(t: Task): string[];
  /** The order rows are shown in. */
  sort?: (a: Task, b: Task) => number;
}

function sections(statusOf: StatusLookup, now: number): Record<Standing, Section> {
  const id = (t: Task) => clip(t.id, ID);
  const description = (t: Task) => clip(t.description, DESCRIPTION);
  const group = (t: Task) => dash(clip(t.group ?? '', SHORT));
  const worker = (t: Task) => dash(clip(t.claimed_by ?? '', SHORT));
  return {
    completed: {
      title: 'COMPLETED',
      header: ['ID', 'BY', 'TOOK', 'GROUP', 'DESCRIPTION'],
      row: (t) => [id(t), worker(t), t.duration_ms === null ? '-' : took(t.duration_ms), group(t), description(t)],
    },
    cancelled: {
      title: 'CANCELLED',
      header: ['ID', 'GROUP', 'DESCRIPTION'],
      row: (t) => [id(t), group(t), description(t)],
    },
    dead_letter: {
      title: 'DEAD LETTER (harness task retry --id ID puts one back)',
      header: ['ID', 'ATTEMPTS', 'GROUP', 'ERROR'],
      row: (t) => [id(t), attempt(t), group(t), clip(t.error ?? '', DESCRIPTION)],
    },
    blocked: {
      title: 'BLOCKED (waiting for dependencies)',
      header: ['ID', 'WAITING FOR', 'GROUP', 'NEEDS', 'DESCRIPTION'],
      row: (t) => [id(t), listOf(unmet(t, statusOf), WAITING), group(t), needs(t), description(t)],
    },
    retrying: {
      title: 'RETRYING (failed; the next attempt waits out its backoff)',
      header: ['ID', 'NEXT ATTEMPT', 'ATTEMPTS', 'GROUP', 'LAST ERROR'],
      row: (t) => [id(t), relative(t.retry_at!, now), attempt(t), group(t), clip(t.error ?? '', DESCRIPTION)],
      sort: (a, b) => Date.parse(a.retry_at!) - Date.parse(b.retry_at!),
    },
    ready: {
      title: 'READY (in the order they are claimed)',
      header: ['ID', 'PRIORITY', 'ATTEMPT', 'GROUP', 'NEEDS', 'DESCRIPTION'],
      row: (t) => [id(t), String(t.priority), attempt(t), group(t), needs(t), description(t)],
      sort: (a, b) => b.priority - a.priority,
    },
    running: {
      title: 'RUNNING',
      header: ['ID', 'WORKER', 'ATTEMPT', 'LEASE ENDS', 'GROUP', 'NEEDS', 'DESCRIPTION'],
      row: (t) => [
        id(t),
        worker(t),
        attempt(t),
        t.lease_expires_at ? lease(t.lease_expires_at, now) : '-',
        group(t),
        needs(t),
        clip(t.description + (t.progress ? ` [${t.progress.percent}%${t.progress.message ? ` ${t.progress.message}` : ''}]` : ''), DESCRIPTION),
      ],
    },
  };
}

const ORDER: Standing[] = ['completed', 'cancelled', 'dead_letter', 'blocked', 'retrying', 'ready', 'running'];
const SUMMARY: Record<Standing, string> = {
  running: 'running',
  ready: 'ready',
  blocked: 'blocked',
  retrying: 'retrying',
  dead_letter: 'dead letter',
  cancelled: 'cancelled',
  completed: 'completed',
};

/**
 * The tasks as sections (completed, cancelled, dead letter, blocked, retrying, ready, running), each a
 * table, then one summary line. `statusOf` answers for dependencies outside `tasks` too.
 */
export function taskListText(tasks: readonly Task[], statusOf: StatusLookup, now = Date.now()): string {
  if (tasks.length === 0) return 'no tasks\n';
  const bySection = new Map<Standing, Task[]>(ORDER.map((s) => [s, []]));
  for (const t of tasks) bySection.get(standingOf(t, statusOf, now))!.push(t);
  const layout = sections(statusOf, now);
  let out = '';
  for (const s of ORDER) {
    const rows = bySection.get(s)!;
    if (rows.length === 0) continue;
    const section = layout[s];
    // Array.prototype.sort is stable: equal rows keep the list's order (oldest first).
    const sorted = section.sort ? [...rows].sort(section.sort) : rows;
    out += `${section.title}: ${rows.length}\n` + columns([section.header, ...sorted.map(section.row)], '  ');
  }
  const parts = ORDER.slice()
    .reverse()
    .filter((s) => bySection.get(s)!.length)
    .map((s) => `${bySection.get(s)!.length} ${SUMMARY[s]}`);
  const ranOut = bySection.get('running')!.filter((t) => t.lease_expires_at && Date.parse(t.lease_expires_at) <= now).length;
  if (ranOut > 0) parts[0] += ` (${ranOut} whose lease ran out: the next claim takes ${ranOut === 1 ? 'it' : 'them'} over)`;
  return `${out}${count(tasks.length, 'task')}: ${parts.join(', ')}\n`;
}

/** One task, field by field (empty fields left out). */
export function taskText(t: Task, statusOf: StatusLookup, now = Date.now()): string {
  const s = standingOf(t, statusOf, now);
  const state = {
    running: () => `running, held by ${t.claimed_by}${t.lease_expires_at ? `, lease ${Date.parse(t.lease_expires_at) > now ? 'ends ' : ''}${lease(t.lease_expires_at, now)}` : ''}`,
    blocked: () => `pending, blocked: waiting for ${unmet(t, statusOf).join(', ')}`,
    retrying: () => `pending, failed ${t.attempts} of ${t.max_attempts} attempts: the next one ${relative(t.retry_at!, now)}`,
    ready: () => 'pending, ready to be claimed',
    completed: () => 'completed',
    cancelled: () => 'cancelled',
    dead_letter: () => 'dead letter',
  }[s]();
  const backoff = t.retry_backoff;
  const rows: Array<[string, string | null | undefined | false]> = [
    ['id', t.id],
    ['status', state],
    ['description', t.description],
    ['group', t.group],
    ['priority', String(t.priority)],
    ['needs', t.capabilities.length || t.resources ? needs(t) : null],
    ['depends on', t.dependencies.map((d) => `${d} (${(statusOf(d) ?? 'unknown').replace('_', ' ')})`).join(', ')],
    ['attempts', `${t.attempts} of ${t.max_attempts}`],
    ['lease', `${t.timeout_seconds} s per claim`],
    [
      'retry backoff',
      backoff
        ? `${backoff.strategy}, ${backoff.delay_seconds} s after the first failure${backoff.max_delay_seconds !== undefined ? `, at most ${backoff.max_delay_seconds} s` : ''}`
        : null,
    ],
    ['next attempt', t.retry_at ? `${t.retry_at} (${relative(t.retry_at, now)})` : null],
    ['fencing token', t.fencing_token ? String(t.fencing_token) : null],
    ['progress', t.progress ? `${t.progress.percent}%${t.progress.message ? ` ${t.progress.message}` : ''} (${relative(t.progress.at, now)})` : null],
    ['created', `${t.created_at} (${relative(t.created_at, now)})`],
    ['started', t.started_at],
    ['finished', t.completed_at ? `${t.completed_at}${t.duration_ms !== null ? ` after ${took(t.duration_ms)}` : ''}` : null],
    ['error', t.error],
    ['result', t.result !== null ? json(t.result, 500) : null],
    ['payload', t.payload !== null ? json(t.payload, 500) : null],
    ['source', t.source ? [t.source.kind, t.source.title, t.source.url].filter(Boolean).join(' ') : null],
  ];
  return columns(rows.filter((r): r is [string, string] => typeof r[1] === 'string' && r[1] !== '').map(([k, v]) => [k, v.replace(/\n/g, ' ')]));
}

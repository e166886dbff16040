// `harness target ...` (worker targets), `harness worker restart`, `harness usage` and
// `harness budget ...`.
import { budgetLabel, BudgetList, BudgetRemove, BudgetSet, UsageGrouping, UsageSummary, type Budget, type BudgetScope, type UsageTotals } from '../protocol/usage';
import { TargetAdd, TargetList, TargetRemove, TargetReset, TargetScale, WorkerRestart, type TargetView } from '../protocol/targets';
import { MAX_DURATION_SECONDS } from '../protocol/durations';
import { integer, list, secondsOf, type Values } from './args';
import { call, type CliCommand } from './commands';
import { UsageError } from './context';
import { clip, columns, count as counted, relative } from './table';

const U = {
  add: 'harness target add NAME [--min N] [--max N] [--capability C]... [--isolation shared|worktree] [--env NAME=VALUE]... [--idle-timeout S] [--usage claude|codex [--usage-model M]] [--budget USD] [--shell] [--replace] -- CMD ARGS...',
  list: 'harness target list [--format text]',
  remove: 'harness target remove NAME',
  scale: 'harness target scale NAME COUNT | harness target scale NAME [--min N] [--max N]',
  reset: 'harness target reset NAME',
  restart: 'harness worker restart WORKER_ID',
  usage: 'harness usage [--by task|worker|target|group] [--limit N] [--format text]',
  budgetSet: 'harness budget set (--plan | --group G | --target T) USD',
  budgetRemove: 'harness budget remove (--plan | --group G | --target T)',
  budgetList: 'harness budget list [--format text]',
};

const usd = (n: number) => `$${n.toFixed(n !== 0 && Math.abs(n) < 0.01 ? 4 : 2)}`;

function count(v: Values, key: string, usage: string): number | undefined {
  const n = integer(v, key, usage);
  if (n !== undefined && n < 0) throw new UsageError(`--${key} must not be negative`, usage);
  return n;
}

function dollars(text: string | undefined, what: string, usage: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${what} must be an amount in USD, got ${JSON.stringify(text)}`, usage);
  return n;
}

function env(v: Values, usage: string): Record<string, string> | undefined {
  const pairs = list(v, 'env');
  if (!pairs) return undefined;
  return Object.fromEntries(
    pairs.map((pair: string) => {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new UsageError(`--env takes NAME=VALUE, got ${JSON.stringify(pair)}`, usage);
      return [pair.slice(0, eq), pair.slice(eq + 1)];
    }),
  );
}

/** One target and its workers, for --format text. */
export function targetText(t: TargetView): string {
  const live = t.workers.filter((w) => w.state === 'running' || w.state === 'starting').length;
  const range = t.min === t.max ? `${t.min}` : `${t.min}–${t.max}`;
  const head = [
    t.name,
    t.state === 'failing' ? `FAILING since ${t.failing_since} (${counted(t.crashes, 'crash', 'crashes')} in 10 minutes; reset it: harness target reset ${t.name})` : 'ok',
    `${live} running of ${range}`,
    t.capabilities.length ? `needs ${t.capabilities.join(',')}` : '',
    usd(t.cost_usd),
    t.budget ? `budget ${usd(t.budget.spent_usd)} of ${usd(t.budget.limit_usd)}${t.budget.spent ? ' SPENT' : ''}` : '',
    t.source === 'config' ? '(config.json)' : '',
  ].filter(Boolean);
  const rows = t.workers.map((w) => [
    w.worker_id,
    w.state,
    w.pid ? `pid ${w.pid}` : '',
    w.state === 'backoff' ? (w.restart_at ? `restarts ${relative(w.restart_at)}` : 'waits for a reset') : w.current_task ? `on ${w.current_task}` : w.instance === 'live' ? 'idle' : '',
    usd(w.cost_usd),
    w.last_exit ? `last: ${w.last_exit}` : '',
  ]);
  const failing = t.state === 'failing' && t.last_output ? `  last output:\n${t.last_output.trimEnd().split('\n').slice(-10).map((l) => `    ${clip(l, 200)}\n`).join('')}` : '';
  return `${head.join('  ')}\n${columns(rows, '  ')}${failing}`;
}

function budgetText(b: Budget): string {
  return `${budgetLabel(b)}: ${usd(b.spent_usd)} of ${usd(b.limit_usd)}${b.spent ? ' — SPENT, no new claims' : ` (${usd(b.remaining_usd)} left)`}`;
}

/** A row of `harness usage --format text`: key, cost, attempts, tokens. */
function totalsRow(key: string, t: UsageTotals): string[] {
  return [
    key,
    usd(t.cost_usd),
    counted(t.attempts, 'attempt'),
    `${t.input_tokens} in, ${t.output_tokens} out, ${t.cache_read_tokens} cache read, ${t.cache_write_tokens} cache write`,
    t.unpriced ? `(${t.unpriced} not priced)` : '',
  ];
}

/** `--plan`, `--group G` or `--target T`: exactly one. */
function budgetScope(v: Values, usage: string): { scope: BudgetScope; name?: string } {
  const given = [v.plan ? 'plan' : undefined, v.group !== undefined ? 'group' : undefined, v.target !== undefined ? 'target' : undefined].filter(Boolean);
  if (given.length !== 1) throw new UsageError('give one of --plan, --group G or --target T', usage);
  if (v.plan) return { scope: 'plan' };
  return v.group !== undefined ? { scope: 'group', name: v.group as string } : { scope: 'target', name: v.target as string };
}

const scopeOptions = { plan: { type: 'boolean' }, group: { type: 'string' }, target: { type: 'string' } } as const;

export const FLEET_CLI_COMMANDS: CliCommand[] = [
  {
    name: 'target add',
    usage: U.add,
    summary: 'add a worker target: keep between min and max workers running CMD per task',
    options: {
      min: { type: 'string' },
      max: { type: 'string' },
      capability: { type: 'string', multiple: true, short: 'c' },
      isolation: { type: 'string' },
      env: { type: 'string', multiple: true },
      usage: { type: 'string' },
      'usage-model': { type: 'string' },
      budget: { type: 'string' },
      shell: { type: 'boolean' },
      replace: { type: 'boolean' },
    },
    durations: { 'idle-timeout': { max: MAX_DURATION_SECONDS, means: 'a worker above min idle this long is stopped (default 300)' } },
    positionals: { min: 2, max: Infinity },
    run: (v, [name, ...command], o, io) => {
      const isolation = v.isolation as string | undefined;
      if (isolation !== undefined && isolation !== 'shared' && isolation !== 'worktree') {
        throw new UsageError(`--isolation must be shared or worktree, got ${JSON.stringify(isolation)}`, U.add);
      }
      const usage = v.usage as string | undefined;
      if (usage !== undefined && usage !== 'claude' && usage !== 'codex') throw new UsageError(`--usage must be claude or codex, got ${JSON.stringify(usage)}`, U.add);
      const idle = secondsOf(v, 'idle-timeout');
      const budget = dollars(v.budget as string | undefined, '--budget', U.add);
      return call(
        o,
        io,
        TargetAdd,
        {
          name: name!,
          argv: command,
          ...(count(v, 'min', U.add) !== undefined ? { min: count(v, 'min', U.add)! } : {}),
          ...(count(v, 'max', U.add) !== undefined ? { max: count(v, 'max', U.add)! } : {}),
          ...(list(v, 'capability') ? { capabilities: list(v, 'capability') } : {}),
          ...(isolation ? { isolation: isolation as 'shared' | 'worktree' } : {}),
          ...(env(v, U.add) ? { env: env(v, U.add) } : {}),
          ...(idle !== undefined ? { idle_timeout_seconds: idle } : {}),
          ...(usage ? { usage: usage as 'claude' | 'codex' } : {}),
          ...(v['usage-model'] !== undefined ? { usage_model: v['usage-model'] as string } : {}),
          ...(budget !== undefined ? { budget_usd: budget } : {}),
          ...(v.shell ? { shell: true } : {}),
          ...(v.replace ? { replace: true } : {}),
        },
        (d) => targetText(d.target),
      );
    },
  },
  {
    name: 'target list',
    usage: U.list,
    summary: 'list worker targets, their workers, state and cost',
    run: (_v, _p, o, io) => call(o, io, TargetList, {}, (d) => (d.targets.length ? d.targets.map(targetText).join('') : 'no targets\n')),
  },
  {
    name: 'target remove',
    usage: U.remove,
    summary: 'remove a worker target (its workers are stopped, their tasks released)',
    positionals: { min: 1, max: 1 },
    run: (_v, [name], o, io) => call(o, io, TargetRemove, { name: name! }, (d) => `removed ${d.name}${d.stopping.length ? `; stopping ${d.stopping.join(', ')}` : ''}\n`),
  },
  {
    name: 'target scale',
    usage: U.scale,
    summary: "change how many workers a target keeps (COUNT: exactly that many)",
    options: { min: { type: 'string' }, max: { type: 'string' } },
    positionals: { min: 1, max: 2 },
    run: (v, [name, fixed], o, io) => {
      const min = count(v, 'min', U.scale);
      const max = count(v, 'max', U.scale);
      if (fixed !== undefined && (min !== undefined || max !== undefined)) throw new UsageError('give COUNT or --min/--max, not both', U.scale);
      if (fixed !== undefined && !/^\d+$/.test(fixed)) throw new UsageError(`COUNT must be a whole number, got ${JSON.stringify(fixed)}`, U.scale);
      if (fixed === undefined && min === undefined && max === undefined) throw new UsageError('give COUNT, --min or --max', U.scale);
      const counts = fixed !== undefined ? { min: Number(fixed), max: Number(fixed) } : { ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) };
      return call(o, io, TargetScale, { name: name!, ...counts }, (d) => targetText(d.target));
    },
  },
  {
    name: 'target reset',
    usage: U.reset,
    summary: 'clear a failing target: its workers are started again',
    positionals: { min: 1, max: 1 },
    run: (_v, [name], o, io) => call(o, io, TargetReset, { name: name! }, (d) => targetText(d.target)),
  },
  {
    name: 'worker restart',
    usage: U.restart,
    summary: "restart one worker of a target (its task is released)",
    positionals: { min: 1, max: 1 },
    run: (_v, [worker], o, io) => call(o, io, WorkerRestart, { worker_id: worker! }, (d) => targetText(d.target)),
  },
  {
    name: 'usage',
    usage: U.usage,
    summary: 'what the work cost: the total, or per task, worker, target or group; and the budgets',
    options: { by: { type: 'string' }, limit: { type: 'string' } },
    run: (v, _p, o, io) => {
      const by = v.by as string | undefined;
      if (by !== undefined && !UsageGrouping.safeParse(by).success) {
        throw new UsageError(`--by must be one of ${UsageGrouping.options.join(', ')}, got ${JSON.stringify(by)}`, U.usage);
      }
      const limit = integer(v, 'limit', U.usage);
      return call(o, io, UsageSummary, { ...(by ? { by: by as UsageGrouping } : {}), ...(limit !== undefined ? { limit } : {}) }, (d) => {
        const table = columns([...(d.by !== 'plan' ? [[d.by, 'cost', 'attempts', 'tokens', '']] : []), ...d.rows.map((r) => totalsRow(r.key, r)), totalsRow('total', d.total)]);
        const more = d.truncated ? `(only the ${d.rows.length} most expensive are listed)\n` : '';
        const budgets = d.budgets.length ? `budgets:\n${d.budgets.map((b) => `  ${budgetText(b)}\n`).join('')}` : '';
        return `${table}${more}${budgets}`;
      });
    },
  },
  {
    name: 'budget set',
    usage: U.budgetSet,
    summary: 'set a budget in USD on the plan, a group or a target: once spent, no new claims for it',
    options: scopeOptions,
    positionals: { min: 1, max: 1 },
    run: (v, [amount], o, io) =>
      call(o, io, BudgetSet, { ...budgetScope(v, U.budgetSet), limit_usd: dollars(amount, 'USD', U.budgetSet)! }, (d) => budgetText(d.budget) + '\n'),
  },
  {
    name: 'budget remove',
    usage: U.budgetRemove,
    summary: 'remove a budget',
    options: scopeOptions,
    run: (v, _p, o, io) => call(o, io, BudgetRemove, budgetScope(v, U.budgetRemove), (d) => (d.removed ? 'removed\n' : 'there was no such budget\n')),
  },
  {
    name: 'budget list',
    usage: U.budgetList,
    summary: 'list the budgets: limit, spent, whether claims are stopped',
    run: (_v, _p, o, io) => call(o, io, BudgetList, {}, (d) => (d.budgets.length ? d.budgets.map((b) => budgetText(b) + '\n').join('') : 'no budgets\n')),
  },
];

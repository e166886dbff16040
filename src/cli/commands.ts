import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { Task } from '../core/model';
import type { Reply } from '../protocol/messages';
import { connect, errorReply, printReply, resolveWorkerId, UsageError, type GlobalOptions, type Io } from './context';
import { githubIssuesPlanFromFile } from './github-issues';
import { pieces } from './run-stream';

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface CliCommand {
  name: string;
  usage: string;
  summary: string;
  options?: NonNullable<ParseArgsConfig['options']>;
  /** Positional arguments accepted after the command name. */
  positionals?: { min: number; max: number };
  run(values: Values, positionals: string[], opts: GlobalOptions, io: Io): Promise<number>;
}

/** One request to the coordinator, its reply printed as the command's output (`text` for --format text). */
export async function call(
  opts: GlobalOptions,
  io: Io,
  command: string,
  params: Record<string, unknown>,
  text?: (data: never) => string,
): Promise<number> {
  let reply: Reply;
  try {
    const client = await connect(opts, io);
    try {
      reply = await client.send(command, params);
    } finally {
      client.close();
    }
  } catch (e) {
    reply = errorReply(e);
  }
  if (opts.format === 'text' && text && reply.status === 'ok') {
    io.stdout(text(reply.data as never));
    return 0;
  }
  return printReply(reply, io);
}

function str(v: Values, key: string): string | undefined {
  const x = v[key];
  return typeof x === 'string' ? x : undefined;
}

function required(v: Values, key: string, usage: string): string {
  const x = str(v, key);
  if (x === undefined || x === '') throw new UsageError(`--${key} is required`, usage);
  return x;
}

export function integer(v: Values, key: string, usage: string): number | undefined {
  const x = str(v, key);
  if (x === undefined) return undefined;
  if (!/^-?\d+$/.test(x)) throw new UsageError(`--${key} must be a whole number, got ${JSON.stringify(x)}`, usage);
  return Number(x);
}

export function seconds(v: Values, key: string, usage: string): number | undefined {
  const x = str(v, key);
  if (x === undefined) return undefined;
  const n = Number(x);
  if (x.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new UsageError(`--${key} must be a number of seconds, got ${JSON.stringify(x)}`, usage);
  }
  return n;
}

export function jsonArg(text: string, what: string, usage: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${what} is not valid JSON: ${(e as Error).message}`, usage);
  }
}

const capability = { type: 'string', multiple: true, short: 'c' } as const;
const id = { type: 'string' } as const;

function taskLine(t: Task): string {
  const holder = t.claimed_by && t.status === 'running' ? ` @${t.claimed_by}` : '';
  const deps = t.dependencies.length ? ` <- ${t.dependencies.join(',')}` : '';
  return `${t.status.padEnd(11)} ${t.id}${holder}  p${t.priority} a${t.attempts}/${t.max_attempts}${deps}  ${t.description}\n`;
}

/** Reads a plan file: JSON, or YAML by extension; `{"tasks": [...]}` or a bare list. */
export function readPlan(file: string, usage: string): { tasks: unknown[] } & Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read plan file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, usage);
  }
  let plan: unknown;
  try {
    plan = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new UsageError(`plan file ${file} is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(e as Error).message}`, usage);
  }
  if (Array.isArray(plan)) return { tasks: plan };
  if (!plan || typeof plan !== 'object' || !Array.isArray((plan as { tasks?: unknown }).tasks)) {
    throw new UsageError(`plan file ${file} must hold {"tasks": [...]}`, usage);
  }
  return plan as { tasks: unknown[] };
}

const U = {
  claim: 'harness task claim [--capability C]... [--worker ID]',
  complete: 'harness task complete --id ID [--result JSON] [--token N]',
  fail: 'harness task fail --id ID --error MSG [--no-retry] [--token N]',
  heartbeat: 'harness task heartbeat --id ID [--token N]',
  release: 'harness task release --id ID [--token N]',
  add: 'harness task add --id ID --description TEXT [--depends-on A,B] [--priority N] [--timeout S] [--max-attempts N] [--capability C]... [--payload JSON]',
  list: 'harness task list [--status S] [--format text]',
  plan: 'harness plan import FILE | --github-issues FILE (gh issue list --json number,title,body,labels,url; - for stdin)',
};

const leaseCommand = (name: string, command: string, usage: string): CliCommand => ({
  name: `task ${name}`,
  usage,
  summary: `${name} a task you hold`,
  options: { id, token: { type: 'string' } },
  run: (v, _p, o, io) =>
    call(o, io, command, { worker_id: resolveWorkerId(o, io), task_id: required(v, 'id', usage), fencing_token: integer(v, 'token', usage) }),
});

export const TASK_COMMANDS: CliCommand[] = [
  {
    name: 'task claim',
    usage: U.claim,
    summary: 'claim the next ready task (or the one you hold)',
    options: { capability },
    run: (v, _p, o, io) =>
      call(o, io, 'task_claim', {
        worker_id: resolveWorkerId(o, io),
        ...(v.capability ? { capabilities: v.capability } : {}),
      }),
  },
  {
    name: 'task complete',
    usage: U.complete,
    summary: 'complete a task you hold',
    options: { id, result: { type: 'string' }, token: { type: 'string' } },
    run: (v, _p, o, io) =>
      call(o, io, 'task_complete', {
        worker_id: resolveWorkerId(o, io),
        task_id: required(v, 'id', U.complete),
        fencing_token: integer(v, 'token', U.complete),
        ...(str(v, 'result') !== undefined ? { result: jsonArg(str(v, 'result')!, '--result', U.complete) } : {}),
      }),
  },
  {
    name: 'task fail',
    usage: U.fail,
    summary: 'fail a task you hold (retried while attempts last)',
    options: { id, error: { type: 'string' }, 'no-retry': { type: 'boolean' }, token: { type: 'string' } },
    run: (v, _p, o, io) =>
      call(o, io, 'task_fail', {
        worker_id: resolveWorkerId(o, io),
        task_id: required(v, 'id', U.fail),
        error: required(v, 'error', U.fail),
        retry: !v['no-retry'],
        fencing_token: integer(v, 'token', U.fail),
      }),
  },
  leaseCommand('heartbeat', 'task_heartbeat', U.heartbeat),
  leaseCommand('release', 'task_release', U.release),
  ...(['retry', 'cancel'] as const).map(
    (name): CliCommand => ({
      name: `task ${name}`,
      usage: `harness task ${name} --id ID`,
      summary: name === 'retry' ? 'put a dead-lettered task back in the queue' : 'cancel a task',
      options: { id },
      run: (v, _p, o, io) => call(o, io, `task_${name}`, { task_id: required(v, 'id', `harness task ${name} --id ID`) }),
    }),
  ),
  {
    name: 'task show',
    usage: 'harness task show --id ID',
    summary: 'show one task',
    options: { id },
    run: (v, _p, o, io) => call(o, io, 'task_get', { task_id: required(v, 'id', 'harness task show --id ID') }),
  },
  {
    name: 'task list',
    usage: U.list,
    summary: 'list tasks',
    options: { status: { type: 'string' } },
    run: (v, _p, o, io) =>
      call(o, io, 'task_list', str(v, 'status') ? { status: str(v, 'status') } : {}, (d: { tasks: Task[] }) =>
        d.tasks.length ? d.tasks.map(taskLine).join('') : 'no tasks\n',
      ),
  },
  {
    name: 'task add',
    usage: U.add,
    summary: 'add a task',
    options: {
      id,
      description: { type: 'string', short: 'd' },
      'depends-on': { type: 'string' },
      priority: { type: 'string' },
      timeout: { type: 'string' },
      'max-attempts': { type: 'string' },
      capability,
      payload: { type: 'string' },
    },
    run: (v, _p, o, io) => {
      const task: Record<string, unknown> = { description: str(v, 'description') ?? '' };
      if (str(v, 'id')) task.id = str(v, 'id');
      const deps = str(v, 'depends-on');
      if (deps) task.dependencies = deps.split(',').map((d) => d.trim()).filter(Boolean);
      if (str(v, 'priority') !== undefined) task.priority = integer(v, 'priority', U.add);
      if (str(v, 'timeout') !== undefined) task.timeout_seconds = seconds(v, 'timeout', U.add);
      if (str(v, 'max-attempts') !== undefined) task.max_attempts = integer(v, 'max-attempts', U.add);
      if (v.capability) task.capabilities = v.capability;
      if (str(v, 'payload') !== undefined) task.payload = jsonArg(str(v, 'payload')!, '--payload', U.add);
      return call(o, io, 'task_add', { task });
    },
  },
  {
    name: 'plan import',
    usage: U.plan,
    summary: 'import a plan file (JSON or YAML), or GitHub issues: all tasks or none',
    options: { 'github-issues': { type: 'string' } },
    positionals: { min: 0, max: 1 },
    run: async (v, p, o, io) => {
      const issues = str(v, 'github-issues');
      if ((issues === undefined) === (p.length === 0)) throw new UsageError('give a plan FILE or --github-issues FILE (one of them)', U.plan);
      const plan = issues !== undefined ? await githubIssuesPlanFromFile(issues, o, io, U.plan) : readPlan(path.resolve(io.cwd, p[0]!), U.plan);
      const text = JSON.stringify(plan);
      if (Buffer.byteLength(text) < 900 * 1024) return call(o, io, 'plan_import', plan);
      // Over a request line's cap: stage it in pieces, then import it at once (still atomic).
      let reply: Reply;
      try {
        const client = await connect(o, io);
        try {
          let stageId: string | undefined;
          for (const data of pieces(text)) {
            ({ stage_id: stageId } = await client.request<{ stage_id: string }>('plan_stage', { data, ...(stageId ? { stage_id: stageId } : {}) }));
          }
          reply = await client.send('plan_import', { stage_id: stageId });
        } finally {
          client.close();
        }
      } catch (e) {
        reply = errorReply(e);
      }
      return printReply(reply, io);
    },
  },
  {
    name: 'instance list',
    usage: 'harness instance list [--format text]',
    summary: 'list registered workers',
    run: (_v, _p, o, io) =>
      call(o, io, 'instance_list', {}, (d: { instances: Array<{ worker_id: string; status: string; name: string; last_seen_age_ms: number; current_task: string | null }> }) =>
        d.instances.length
          ? d.instances
              .map((i) => `${i.status.padEnd(5)} ${i.worker_id} (${i.name}) seen ${(i.last_seen_age_ms / 1000).toFixed(0)}s ago${i.current_task ? `, on ${i.current_task}` : ''}\n`)
              .join('')
          : 'no instances\n',
      ),
  },
  {
    name: 'instance register',
    usage: 'harness instance register [--name NAME] [--capability C]... [--worker ID]',
    summary: 'register this worker (harness work does it for you)',
    options: { name: { type: 'string' }, capability },
    run: (v, _p, o, io) =>
      call(o, io, 'instance_register', {
        worker_id: resolveWorkerId(o, io),
        ...(str(v, 'name') ? { name: str(v, 'name') } : {}),
        ...(v.capability ? { capabilities: v.capability } : {}),
      }),
  },
  {
    name: 'instance deregister',
    usage: 'harness instance deregister [--worker ID]',
    summary: 'remove a worker from the registry (its leases are freed)',
    run: (_v, _p, o, io) => call(o, io, 'instance_deregister', { worker_id: resolveWorkerId(o, io) }),
  },
  {
    name: 'status',
    usage: 'harness status',
    summary: 'task counts and live workers',
    run: (_v, _p, o, io) => call(o, io, 'status', {}),
  },
  {
    name: 'ping',
    usage: 'harness ping',
    summary: 'check that a coordinator answers',
    run: (_v, _p, o, io) => call(o, io, 'ping', {}),
  },
];

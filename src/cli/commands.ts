import * as path from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import type { HarnessClient } from '../client/client';
import { listAllTasks } from '../client/paging';
import { importPlan, readPlanFile } from '../client/plan';
import type { AnyCommand, ParamsOf, ResultOf } from '../protocol/command';
import { InstanceDeregister, InstanceList, InstanceRegister } from '../protocol/instances';
import type { Reply } from '../protocol/messages';
import { Ping } from '../protocol/meta';
import { TaskStatus, type Json, type Task, type TaskInput } from '../protocol/model';
import {
  Status,
  TaskAdd,
  TaskCancel,
  TaskClaim,
  TaskComplete,
  TaskFail,
  TaskGet,
  TaskHeartbeat,
  TaskList,
  TaskRelease,
  TaskRetry,
} from '../protocol/tasks';
import { connect, errorReply, printReply, resolveWorkerId, UsageError, type GlobalOptions, type Io } from './context';
import { githubIssuesPlan, readGithubIssues } from './github-issues';

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

/** Runs `fn` on a connection to the coordinator; its reply (or the error) is the command's output. */
export async function withClient(opts: GlobalOptions, io: Io, fn: (client: HarnessClient) => Promise<Reply>): Promise<Reply> {
  try {
    const client = await connect(opts, io);
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  } catch (e) {
    return errorReply(e);
  }
}

/** Prints a reply: the JSON document, or `text` of its data for --format text. */
export function output<D extends AnyCommand>(opts: GlobalOptions, io: Io, reply: Reply, text?: (data: ResultOf<D>) => string): number {
  if (opts.format === 'text' && text && reply.status === 'ok') {
    io.stdout(text(reply.data as ResultOf<D>));
    return 0;
  }
  return printReply(reply, io);
}

/** One command to the coordinator, its reply printed as the command's output (`text` for --format text). */
export async function call<D extends AnyCommand>(
  opts: GlobalOptions,
  io: Io,
  command: D,
  params: ParamsOf<D>,
  text?: (data: ResultOf<D>) => string,
): Promise<number> {
  return output<D>(opts, io, await withClient(opts, io, (client) => client.send(command.name, params as Record<string, unknown>)), text);
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

/** A repeatable option's values (`--capability a --capability b`). */
export function list(v: Values, key: string): string[] | undefined {
  const x = v[key];
  return Array.isArray(x) ? x : typeof x === 'string' ? [x] : undefined;
}

export function jsonArg(text: string, what: string, usage: string): Json {
  try {
    return JSON.parse(text) as Json;
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

const U = {
  claim: 'harness task claim [--capability C]... [--worker ID]',
  complete: 'harness task complete --id ID [--result JSON] [--token N]',
  fail: 'harness task fail --id ID --error MSG [--no-retry] [--token N]',
  heartbeat: 'harness task heartbeat --id ID [--token N]',
  release: 'harness task release --id ID [--token N]',
  add: 'harness task add --id ID --description TEXT [--depends-on A,B] [--priority N] [--timeout S] [--max-attempts N] [--capability C]... [--payload JSON]',
  list: 'harness task list [--status S] [--group G] [--format text]',
  plan: 'harness plan import FILE | --github-issues FILE (gh issue list --json number,title,body,labels,url; - for stdin)',
};

const leaseCommand = (name: string, command: typeof TaskHeartbeat | typeof TaskRelease, usage: string): CliCommand => ({
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
      call(o, io, TaskClaim, {
        worker_id: resolveWorkerId(o, io),
        ...(list(v, 'capability') ? { capabilities: list(v, 'capability') } : {}),
      }),
  },
  {
    name: 'task complete',
    usage: U.complete,
    summary: 'complete a task you hold',
    options: { id, result: { type: 'string' }, token: { type: 'string' } },
    run: (v, _p, o, io) =>
      call(o, io, TaskComplete, {
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
      call(o, io, TaskFail, {
        worker_id: resolveWorkerId(o, io),
        task_id: required(v, 'id', U.fail),
        error: required(v, 'error', U.fail),
        retry: !v['no-retry'],
        fencing_token: integer(v, 'token', U.fail),
      }),
  },
  leaseCommand('heartbeat', TaskHeartbeat, U.heartbeat),
  leaseCommand('release', TaskRelease, U.release),
  ...(['retry', 'cancel'] as const).map(
    (name): CliCommand => ({
      name: `task ${name}`,
      usage: `harness task ${name} --id ID`,
      summary: name === 'retry' ? 'put a dead-lettered task back in the queue' : 'cancel a task',
      options: { id },
      run: (v, _p, o, io) => call(o, io, name === 'retry' ? TaskRetry : TaskCancel, { task_id: required(v, 'id', `harness task ${name} --id ID`) }),
    }),
  ),
  {
    name: 'task show',
    usage: 'harness task show --id ID',
    summary: 'show one task',
    options: { id },
    run: (v, _p, o, io) => call(o, io, TaskGet, { task_id: required(v, 'id', 'harness task show --id ID') }),
  },
  {
    name: 'task list',
    usage: U.list,
    summary: 'list tasks',
    options: { status: { type: 'string' }, group: { type: 'string' } },
    run: async (v, _p, o, io) => {
      const status = str(v, 'status');
      if (status !== undefined && !TaskStatus.safeParse(status).success) {
        throw new UsageError(`--status must be one of ${TaskStatus.options.join(', ')}, got ${JSON.stringify(status)}`, U.list);
      }
      const filter = { ...(status !== undefined ? { status: status as TaskStatus } : {}), ...(str(v, 'group') ? { group: str(v, 'group') } : {}) };
      // Page by page: each reply stays bounded however many tasks there are.
      const reply = await withClient(o, io, async (client) => ({ status: 'ok', data: { tasks: await listAllTasks(client, filter), next_cursor: null } }));
      return output<typeof TaskList>(o, io, reply, (d) => (d.tasks.length ? d.tasks.map(taskLine).join('') : 'no tasks\n'));
    },
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
      const task: TaskInput = { description: str(v, 'description') ?? '' };
      if (str(v, 'id')) task.id = str(v, 'id');
      const deps = str(v, 'depends-on');
      if (deps) task.dependencies = deps.split(',').map((d) => d.trim()).filter(Boolean);
      if (str(v, 'priority') !== undefined) task.priority = integer(v, 'priority', U.add);
      if (str(v, 'timeout') !== undefined) task.timeout_seconds = seconds(v, 'timeout', U.add);
      if (str(v, 'max-attempts') !== undefined) task.max_attempts = integer(v, 'max-attempts', U.add);
      if (list(v, 'capability')) task.capabilities = list(v, 'capability');
      if (str(v, 'payload') !== undefined) task.payload = jsonArg(str(v, 'payload')!, '--payload', U.add);
      return call(o, io, TaskAdd, { task });
    },
  },
  {
    name: 'plan import',
    usage: U.plan,
    summary: 'import a plan file (JSON or YAML), or GitHub issues: all tasks or none',
    options: { 'github-issues': { type: 'string' } },
    positionals: { min: 0, max: 1 },
    run: async (v, p, o, io) => {
      const issuesFile = str(v, 'github-issues');
      if ((issuesFile === undefined) === (p.length === 0)) throw new UsageError('give a plan FILE or --github-issues FILE (one of them)', U.plan);
      const issues = issuesFile !== undefined ? readGithubIssues(issuesFile, io, U.plan) : undefined;
      // Read and checked here, so a mistake names the file; a big plan goes in pieces, still atomic.
      const reply = await withClient(o, io, async (client) => {
        const plan = issues !== undefined ? await githubIssuesPlan(client, issues, io) : readPlanFile(path.resolve(io.cwd, p[0]!));
        return { status: 'ok', data: await importPlan(client, plan) };
      });
      return printReply(reply, io);
    },
  },
  {
    name: 'instance list',
    usage: 'harness instance list [--format text]',
    summary: 'list registered workers',
    run: (_v, _p, o, io) =>
      call(o, io, InstanceList, {}, (d) =>
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
      call(o, io, InstanceRegister, {
        worker_id: resolveWorkerId(o, io),
        ...(str(v, 'name') ? { name: str(v, 'name') } : {}),
        ...(list(v, 'capability') ? { capabilities: list(v, 'capability') } : {}),
      }),
  },
  {
    name: 'instance deregister',
    usage: 'harness instance deregister [--worker ID]',
    summary: 'remove a worker from the registry (its leases are freed)',
    run: (_v, _p, o, io) => call(o, io, InstanceDeregister, { worker_id: resolveWorkerId(o, io) }),
  },
  {
    name: 'status',
    usage: 'harness status',
    summary: 'task counts and live workers',
    run: (_v, _p, o, io) => call(o, io, Status, {}),
  },
  {
    name: 'ping',
    usage: 'harness ping',
    summary: 'check that a coordinator answers',
    run: (_v, _p, o, io) => call(o, io, Ping, {}),
  },
];

import type { HarnessClient } from '../client/client';
import { listAllTasks } from '../client/paging';
import { importPlan, parsePlan } from '../client/plan';
import type { AnyCommand, ParamsOf, ResultOf } from '../protocol/command';
import { InstanceDeregister, InstanceList, InstanceRegister } from '../protocol/instances';
import { dataOf, toErrorReply, type Reply } from '../protocol/messages';
import { Ping } from '../protocol/meta';
import { TaskStatus, type RetryBackoff, type Task, type TaskInput } from '../protocol/model';
import {
  Status,
  TaskAdd,
  TaskCancel,
  TaskClaim,
  TaskComplete,
  TaskFail,
  TaskGet,
  TaskHeartbeat,
  TaskRelease,
  TaskRetry,
} from '../protocol/tasks';
import { DURATIONS, integer, jsonArg, list, readFileArg, required, secondsOf, str, type CommandLineSpec, type Values } from './args';
import { connect, resolveWorkerId, UsageError, type GlobalOptions, type Io } from './context';
import { githubIssuesPlan, readGithubIssues } from './github-issues';
import type { UsageInput } from '../protocol/usage';
import { printReply } from './output';
import { leadingAmounts } from './prim-args';
import { taskListText, taskText } from './task-text';
import { claimText, instancesText, pingText, planText, statusText, taskChanged } from './text';

export type { Values };

export interface CliCommand extends CommandLineSpec {
  summary: string;
  run(values: Values, positionals: string[], opts: GlobalOptions, io: Io): Promise<number>;
}

/** Runs `fn` on a connection to the coordinator; its reply (or the error) is the command's output. */
export async function withClient<T>(opts: GlobalOptions, io: Io, fn: (client: HarnessClient) => Promise<T>): Promise<Reply<T>> {
  try {
    const client = await connect(opts, io);
    try {
      return { status: 'ok', data: await fn(client) };
    } finally {
      client.close();
    }
  } catch (e) {
    return toErrorReply(e);
  }
}

/** One command to the coordinator, its reply printed as the command's output (`text` for --format text). */
export async function call<D extends AnyCommand>(opts: GlobalOptions, io: Io, command: D, params: ParamsOf<D>, text: (data: ResultOf<D>) => string): Promise<number> {
  const send = async (client: HarnessClient) => dataOf(await client.send(command.name, params as Record<string, unknown>)) as ResultOf<D>;
  return printReply(await withClient(opts, io, send), io, opts, text);
}

/** `--usage JSON`: what the attempt used and cost, checked by the coordinator against the schema. */
function usageArg(v: Values, usage: string): { usage?: UsageInput } {
  const text = str(v, 'usage');
  return text === undefined ? {} : { usage: jsonArg(text, '--usage', usage) as UsageInput };
}

const capability = { type: 'string', multiple: true, short: 'c' } as const;
const id = { type: 'string' } as const;

const U = {
  claim: 'harness task claim [--capability C]... [--worker ID]',
  complete: 'harness task complete --id ID [--result JSON] [--usage JSON] [--token N]',
  fail: 'harness task fail --id ID --error MSG [--no-retry] [--usage JSON] [--token N]',
  heartbeat: 'harness task heartbeat --id ID [--token N]',
  release: 'harness task release --id ID [--token N]',
  add:
    'harness task add --id ID --description TEXT [--depends-on A,B] [--group NAME] [--priority N] [--timeout S] [--max-attempts N] [--retry-delay S [--retry-max-delay S] [--retry-fixed]] [--capability C]... [--resource NAME=N]... [--payload JSON]',
  list: 'harness task list [--status S] [--group G] [--format text]',
  show: 'harness task show --id ID [--format text]',
  plan: 'harness plan import FILE | --github-issues FILE (gh issue list --json number,title,body,labels,url; - for stdin)',
};

/**
 * The status of every task `tasks` depends on: from the list itself, else from the whole list
 * (a filtered list leaves out the dependencies it does not match), read only when needed.
 */
async function dependencyStatus(client: HarnessClient, tasks: readonly Task[]): Promise<(id: string) => TaskStatus | undefined> {
  const known = new Map(tasks.map((t) => [t.id, t.status]));
  if (tasks.some((t) => t.dependencies.some((d) => !known.has(d)))) {
    for (const t of await listAllTasks(client)) known.set(t.id, t.status);
  }
  return (taskId) => known.get(taskId);
}

/** `--retry-delay S [--retry-max-delay S] [--retry-fixed]`: the task's own retry backoff, if given. */
function retryBackoff(v: Values): RetryBackoff | undefined {
  const delay = secondsOf(v, 'retry-delay');
  const max = secondsOf(v, 'retry-max-delay');
  if (delay === undefined) {
    if (max !== undefined || v['retry-fixed']) throw new UsageError('--retry-max-delay and --retry-fixed go with --retry-delay S', U.add);
    return undefined;
  }
  return { strategy: v['retry-fixed'] ? 'fixed' : 'exponential', delay_seconds: delay, ...(max !== undefined ? { max_delay_seconds: max } : {}) };
}

/** `--resource NAME=N`, repeatable: the amounts of resource pools the task holds while it runs. */
function resourceAmounts(v: Values): Record<string, number> | undefined {
  const given = list(v, 'resource');
  if (!given) return undefined;
  const { amounts, count } = leadingAmounts(given);
  if (count < given.length) throw new UsageError(`--resource must be NAME=N, a pool and a whole number (e.g. gpu=1), got ${JSON.stringify(given[count])}`, U.add);
  return amounts;
}

const leaseCommand = (name: string, command: typeof TaskHeartbeat | typeof TaskRelease, usage: string): CliCommand => ({
  name: `task ${name}`,
  usage,
  summary: `${name} a task you hold`,
  options: { id, token: { type: 'string' } },
  run: (v, _p, o, io) =>
    call(o, io, command, { worker_id: resolveWorkerId(o, io), task_id: required(v, 'id', usage), fencing_token: integer(v, 'token', usage) }, (d) => taskChanged(d.task)),
});

export const TASK_COMMANDS: CliCommand[] = [
  {
    name: 'task claim',
    usage: U.claim,
    summary: 'claim the next ready task (or the one you hold)',
    options: { capability },
    run: (v, _p, o, io) =>
      call(
        o,
        io,
        TaskClaim,
        { worker_id: resolveWorkerId(o, io), ...(list(v, 'capability') ? { capabilities: list(v, 'capability') } : {}) },
        claimText,
      ),
  },
  {
    name: 'task complete',
    usage: U.complete,
    summary: 'complete a task you hold',
    options: { id, result: { type: 'string' }, usage: { type: 'string' }, token: { type: 'string' } },
    run: (v, _p, o, io) =>
      call(
        o,
        io,
        TaskComplete,
        {
          worker_id: resolveWorkerId(o, io),
          task_id: required(v, 'id', U.complete),
          fencing_token: integer(v, 'token', U.complete),
          ...(str(v, 'result') !== undefined ? { result: jsonArg(str(v, 'result')!, '--result', U.complete) } : {}),
          ...usageArg(v, U.complete),
        },
        (d) => taskChanged(d.task),
      ),
  },
  {
    name: 'task fail',
    usage: U.fail,
    summary: 'fail a task you hold (retried while attempts last)',
    options: { id, error: { type: 'string' }, 'no-retry': { type: 'boolean' }, usage: { type: 'string' }, token: { type: 'string' } },
    run: (v, _p, o, io) =>
      call(
        o,
        io,
        TaskFail,
        {
          worker_id: resolveWorkerId(o, io),
          task_id: required(v, 'id', U.fail),
          error: required(v, 'error', U.fail),
          retry: !v['no-retry'],
          fencing_token: integer(v, 'token', U.fail),
          ...usageArg(v, U.fail),
        },
        (d) => taskChanged(d.task),
      ),
  },
  leaseCommand('heartbeat', TaskHeartbeat, U.heartbeat),
  leaseCommand('release', TaskRelease, U.release),
  ...(['retry', 'cancel'] as const).map(
    (name): CliCommand => ({
      name: `task ${name}`,
      usage: `harness task ${name} --id ID`,
      summary: name === 'retry' ? 'put a dead-lettered task back in the queue' : 'cancel a task',
      options: { id },
      run: (v, _p, o, io) =>
        call(o, io, name === 'retry' ? TaskRetry : TaskCancel, { task_id: required(v, 'id', `harness task ${name} --id ID`) }, (d) => taskChanged(d.task)),
    }),
  ),
  {
    name: 'task show',
    usage: U.show,
    summary: 'show one task',
    options: { id },
    run: async (v, _p, o, io) => {
      const taskId = required(v, 'id', U.show);
      const reply = await withClient(o, io, async (client) => {
        const { task } = await client.call(TaskGet, { task_id: taskId });
        // The dependencies' status, for "blocked: waiting for ..." (text only; JSON stays the reply as it came).
        const deps = new Map<string, TaskStatus>();
        if (o.format === 'text') {
          // Pipelined on the one connection: a task with many dependencies is not one round trip each.
          // One that does not exist shows as unknown.
          const found = await Promise.all(task.dependencies.map((d) => client.call(TaskGet, { task_id: d }).then((r) => r.task, () => undefined)));
          for (const dep of found) if (dep) deps.set(dep.id, dep.status);
        }
        return { task, deps };
      });
      const shown: Reply<ResultOf<typeof TaskGet>> = reply.status === 'ok' ? { status: 'ok', data: { task: reply.data.task } } : reply;
      return printReply(shown, io, o, (d) => taskText(d.task, (dep) => (reply.status === 'ok' ? reply.data.deps.get(dep) : undefined)));
    },
  },
  {
    name: 'task list',
    usage: U.list,
    summary: 'list tasks (text: ready apart from blocked, by section)',
    options: { status: { type: 'string' }, group: { type: 'string' } },
    run: async (v, _p, o, io) => {
      const status = str(v, 'status');
      if (status !== undefined && !TaskStatus.safeParse(status).success) {
        throw new UsageError(`--status must be one of ${TaskStatus.options.join(', ')}, got ${JSON.stringify(status)}`, U.list);
      }
      const filter = { ...(status !== undefined ? { status: status as TaskStatus } : {}), ...(str(v, 'group') ? { group: str(v, 'group') } : {}) };
      // Page by page: each reply stays bounded however many tasks there are.
      const reply = await withClient(o, io, async (client) => {
        const tasks = await listAllTasks(client, filter);
        return { tasks, statusOf: o.format === 'text' ? await dependencyStatus(client, tasks) : () => undefined };
      });
      const listed: Reply<{ tasks: Task[]; next_cursor: null }> = reply.status === 'ok' ? { status: 'ok', data: { tasks: reply.data.tasks, next_cursor: null } } : reply;
      return printReply(listed, io, o, (d) => taskListText(d.tasks, reply.status === 'ok' ? reply.data.statusOf : () => undefined));
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
      'max-attempts': { type: 'string' },
      group: { type: 'string' },
      capability,
      resource: { type: 'string', multiple: true },
      payload: { type: 'string' },
      'retry-fixed': { type: 'boolean' },
    },
    durations: { timeout: DURATIONS.timeout, 'retry-delay': DURATIONS.retryDelay, 'retry-max-delay': DURATIONS.retryMaxDelay },
    run: (v, _p, o, io) => {
      const task: TaskInput = { description: str(v, 'description') ?? '' };
      if (str(v, 'id')) task.id = str(v, 'id');
      const deps = str(v, 'depends-on');
      if (deps) task.dependencies = deps.split(',').map((d) => d.trim()).filter(Boolean);
      if (str(v, 'priority') !== undefined) task.priority = integer(v, 'priority', U.add);
      if (secondsOf(v, 'timeout') !== undefined) task.timeout_seconds = secondsOf(v, 'timeout');
      if (str(v, 'max-attempts') !== undefined) task.max_attempts = integer(v, 'max-attempts', U.add);
      if (list(v, 'capability')) task.capabilities = list(v, 'capability');
      if (str(v, 'group') !== undefined) task.group = str(v, 'group');
      const resources = resourceAmounts(v);
      if (resources) task.resources = resources;
      if (str(v, 'payload') !== undefined) task.payload = jsonArg(str(v, 'payload')!, '--payload', U.add);
      const backoff = retryBackoff(v);
      if (backoff) task.retry_backoff = backoff;
      return call(o, io, TaskAdd, { task }, (d) => `added ${taskChanged(d.task)}`);
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
      // Read and checked here, before connecting, so a mistake names the file; a big plan goes in pieces, still atomic.
      const file = issues === undefined ? readFileArg(p[0]!, 'plan file', io.cwd, U.plan) : undefined;
      const fromFile = file !== undefined ? parsePlan(file.text, file.name) : undefined;
      const reply = await withClient(o, io, async (client) => importPlan(client, fromFile ?? (await githubIssuesPlan(client, issues, io))));
      return printReply(reply, io, o, planText);
    },
  },
  {
    name: 'instance list',
    usage: 'harness instance list [--format text]',
    summary: 'list registered workers',
    run: (_v, _p, o, io) => call(o, io, InstanceList, {}, instancesText),
  },
  {
    name: 'instance register',
    usage: 'harness instance register [--name NAME] [--capability C]... [--worker ID]',
    summary: 'register this worker (harness work does it for you)',
    options: { name: { type: 'string' }, capability },
    run: (v, _p, o, io) =>
      call(
        o,
        io,
        InstanceRegister,
        {
          worker_id: resolveWorkerId(o, io),
          ...(str(v, 'name') ? { name: str(v, 'name') } : {}),
          ...(list(v, 'capability') ? { capabilities: list(v, 'capability') } : {}),
        },
        (d) => `registered ${d.instance.worker_id} (${d.instance.name})${d.instance.capabilities.length ? ` with ${d.instance.capabilities.join(', ')}` : ''}\n`,
      ),
  },
  {
    name: 'instance deregister',
    usage: 'harness instance deregister [--worker ID]',
    summary: 'remove a worker from the registry (its leases are freed)',
    run: (_v, _p, o, io) =>
      call(o, io, InstanceDeregister, { worker_id: resolveWorkerId(o, io) }, (d) =>
        `deregistered ${d.worker_id}${d.freed_tasks.length ? `; freed ${d.freed_tasks.join(', ')}` : ''}\n`,
      ),
  },
  {
    name: 'status',
    usage: 'harness status [--format text]',
    summary: 'task counts and live workers',
    run: (_v, _p, o, io) => call(o, io, Status, {}, statusText),
  },
  {
    name: 'ping',
    usage: 'harness ping [--format text]',
    summary: 'check that a coordinator answers',
    run: (_v, _p, o, io) => call(o, io, Ping, {}, pingText),
  },
];

// CLI commands that run a command under a coordination primitive:
//   with-lock PATH -- CMD        holds a file lock while CMD runs
//   with-resources a=N -- CMD    holds amounts of resource pools while CMD runs
//   state update KEY -- CMD      read-modify-write of a shared value through CMD, with retries
// with-lock and with-resources pass CMD's output through and exit with its status; what they
// hold is renewed while CMD runs and always released, on failure and on Ctrl+C too.
import { spawn } from 'node:child_process';
import { HarnessClient } from '../client/client';
import { ErrorCode, HarnessError } from '../core/errors';
import { RunError, runProcess, type RunHandle, type RunResult } from '../exec';
import type { Reply } from '../protocol/messages';
import type { CliCommand, Values } from './commands';
import { integer } from './commands';
import { errorReply, printReply, resolveSocket, resolveWorkerId, UsageError, type GlobalOptions, type Io } from './context';
import { absolute, ttl, waitMs } from './prim-args';

interface Lease {
  acquire: { command: string; params: Record<string, unknown> };
  /** What the grant is called in messages, its renewal and its release. */
  describe(grant: any): string;
  renew(grant: any): { command: string; params: Record<string, unknown> };
  release(grant: any): { command: string; params: Record<string, unknown> };
  env(grant: any): Record<string, string>;
  ttlSeconds(grant: any): number;
}

const exitStatus = (r: RunResult) => (r.returncode >= 0 ? r.returncode : 128 - r.returncode);

/** Acquires, runs `argv` with its output passed through, renews meanwhile, always releases. */
async function runHolding(lease: Lease, argv: string[], o: GlobalOptions, io: Io): Promise<number> {
  let client: HarnessClient;
  try {
    client = await HarnessClient.connect(resolveSocket(o, io), { retryForMs: 2000 });
  } catch (e) {
    return printReply(errorReply(e), io);
  }
  let interrupted = false;
  let handle: RunHandle | undefined;
  const onSignal = () => {
    interrupted = true;
    if (handle) handle.cancel();
    else client.close(); // still waiting: closing the connection withdraws the request
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let grant: any;
  let renewTimer: NodeJS.Timeout | undefined;
  try {
    let reply: Reply;
    try {
      reply = await client.send(lease.acquire.command, lease.acquire.params);
    } catch (e) {
      reply = errorReply(e);
    }
    if (interrupted) return 130;
    if (reply.status === 'error') return printReply(reply, io);
    grant = reply.data;
    const every = Math.max(200, (lease.ttlSeconds(grant) * 1000) / 3);
    renewTimer = setInterval(() => {
      const r = lease.renew(grant);
      client.request(r.command, r.params).catch((e: Error) => {
        io.stderr(`harness: could not renew ${lease.describe(grant)} (${e.message}); stopping the command\n`);
        clearInterval(renewTimer);
        handle?.cancel();
      });
    }, every);
    handle = runProcess({ argv, cwd: io.cwd, env: lease.env(grant) });
    handle.onOutput((chunk) => (chunk.stream === 'stdout' ? io.stdout(chunk.data) : io.stderr(chunk.data)));
    if (interrupted) handle.cancel();
    const result = await handle.result;
    return interrupted ? 130 : exitStatus(result);
  } catch (e) {
    if (e instanceof RunError) return printReply({ status: 'error', code: e.code, message: e.message }, io);
    throw e;
  } finally {
    clearInterval(renewTimer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (grant !== undefined) {
      const r = lease.release(grant);
      await client.request(r.command, r.params).catch((e: Error) => io.stderr(`harness: could not release ${lease.describe(grant)}: ${e.message}\n`));
    }
    client.close();
  }
}

const LOCK = 'harness with-lock PATH [--read] [--wait S] [--ttl S] -- CMD ARGS...';
const RESOURCES = 'harness with-resources NAME=N... [--wait S] [--ttl S] -- CMD ARGS...';
const UPDATE = 'harness state update KEY [--retries N] -- CMD ARGS...';

/** Leading `name=N` arguments are amounts; the rest is the command. */
function splitAmounts(p: string[]): { amounts: Record<string, number>; argv: string[] } {
  const amounts: Record<string, number> = {};
  let i = 0;
  for (; i < p.length; i++) {
    const m = /^([A-Za-z0-9_.:-]+)=(\d+)$/.exec(p[i]!);
    if (!m) break;
    amounts[m[1]!] = (amounts[m[1]!] ?? 0) + Number(m[2]);
  }
  if (i === 0) throw new UsageError('name at least one amount, e.g. cpu_cores=2', RESOURCES);
  if (i === p.length) throw new UsageError('missing the command to run', RESOURCES);
  return { amounts, argv: p.slice(i) };
}

const commonOptions = { wait: { type: 'string', short: 'w' }, ttl: { type: 'string' } } as const;

export const WITH_LOCK: CliCommand = {
  name: 'with-lock',
  usage: LOCK,
  summary: 'run CMD holding a file lock (released however CMD ends); exits with its status',
  options: { read: { type: 'boolean' }, ...commonOptions },
  positionals: { min: 2, max: Infinity },
  run: (v, p, o, io) => {
    const worker_id = resolveWorkerId(o, io);
    const params = { worker_id, path: absolute(io, p[0]!), mode: v.read ? 'read' : 'write', wait_ms: waitMs(v, LOCK), ...ttl(v, LOCK) };
    return runHolding(
      {
        acquire: { command: 'lock_acquire', params },
        describe: (g) => `the lock on ${g.lock.path}`,
        renew: (g) => ({ command: 'lock_renew', params: { worker_id, token: g.lock.token } }),
        release: (g) => ({ command: 'lock_release', params: { worker_id, token: g.lock.token } }),
        env: (g) => ({ HARNESS_LOCK_TOKEN: String(g.lock.token), HARNESS_LOCK_PATH: g.lock.path }),
        ttlSeconds: (g) => g.lock.ttl_seconds,
      },
      p.slice(1),
      o,
      io,
    );
  },
};

export const WITH_RESOURCES: CliCommand = {
  name: 'with-resources',
  usage: RESOURCES,
  summary: 'run CMD holding amounts of resource pools, e.g. cpu_cores=2; exits with its status',
  options: commonOptions,
  positionals: { min: 2, max: Infinity },
  run: (v, p, o, io) => {
    const worker_id = resolveWorkerId(o, io);
    const { amounts, argv } = splitAmounts(p);
    return runHolding(
      {
        acquire: { command: 'resource_acquire', params: { worker_id, amounts, wait_ms: waitMs(v, RESOURCES), ...ttl(v, RESOURCES) } },
        describe: (g) => `hold ${g.hold.id}`,
        renew: (g) => ({ command: 'resource_renew', params: { worker_id, hold_id: g.hold.id } }),
        release: (g) => ({ command: 'resource_release', params: { worker_id, hold_id: g.hold.id } }),
        env: (g) => ({ HARNESS_HOLD_ID: g.hold.id }),
        ttlSeconds: (g) => g.hold.ttl_seconds,
      },
      argv,
      o,
      io,
    );
  },
};

/** Runs CMD with `input` on its stdin; its stderr passes through; resolves with its stdout. */
function pipeThrough(argv: string[], input: string, io: Io): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: io.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => io.stderr(d));
    child.stdin.on('error', () => {}); // a command that does not read its input is fine
    child.stdin.end(input);
    child.on('error', (e) => reject(new HarnessError(ErrorCode.InvalidArgument, `cannot run "${argv[0]}": ${e.message}`)));
    child.on('close', (code, signal) => resolve({ code: code ?? 128, stdout: signal ? '' : stdout }));
  });
}

export const STATE_UPDATE: CliCommand = {
  name: 'state update',
  usage: UPDATE,
  summary: 'read-modify-write: pipe the value (JSON) to CMD, write its output back if unchanged meanwhile, else retry',
  options: { retries: { type: 'string' } },
  positionals: { min: 2, max: Infinity },
  async run(v: Values, p, o, io) {
    const retries = integer(v, 'retries', UPDATE) ?? 1000;
    const [key, ...argv] = p as [string, ...string[]];
    const worker_id = resolveWorkerId(o, io);
    let client: HarnessClient | undefined;
    try {
      client = await HarnessClient.connect(resolveSocket(o, io), { retryForMs: 2000 });
      for (let attempt = 1; ; attempt++) {
        const got = await client.send('state_get', { key });
        if (got.status === 'error' && got.code !== ErrorCode.NotFound) return printReply(got, io);
        const { value, version } = got.status === 'ok' ? (got.data as { value: unknown; version: number }) : { value: null, version: 0 };
        const run = await pipeThrough(argv, JSON.stringify(value) + '\n', io);
        if (run.code !== 0) throw new HarnessError(ErrorCode.InvalidArgument, `${argv[0]} exited with status ${run.code}; nothing was written`);
        let next: unknown;
        try {
          next = JSON.parse(run.stdout);
        } catch (e) {
          throw new HarnessError(ErrorCode.InvalidArgument, `the output of ${argv[0]} is not JSON (${(e as Error).message}); nothing was written`);
        }
        const put = await client.send('state_put', { key, value: next, expected_version: version, worker_id });
        if (put.status === 'ok') return printReply({ status: 'ok', data: { ...(put.data as object), value: next, attempts: attempt } }, io);
        if (put.code !== ErrorCode.Conflict || attempt > retries) return printReply(put, io);
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(100, 2 ** attempt)));
      }
    } catch (e) {
      return printReply(e instanceof HarnessError ? { status: 'error', code: e.code, message: e.message } : errorReply(e), io);
    } finally {
      client?.close();
    }
  },
};

export const RUN_WITH_COMMANDS: CliCommand[] = [WITH_LOCK, WITH_RESOURCES, STATE_UPDATE];

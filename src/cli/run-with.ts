// CLI commands that run a command under a coordination primitive:
//   with-lock PATH -- CMD        holds a file lock while CMD runs
//   with-resources a=N -- CMD    holds amounts of resource pools while CMD runs
//   state update KEY -- CMD      read-modify-write of a shared value through CMD, with retries
// with-lock and with-resources pass CMD's output through and exit with its status; what they
// hold is renewed while CMD runs and always released, on failure and on Ctrl+C too.
import { spawn } from 'node:child_process';
import { HarnessClient } from '../client/client';
import { ErrorCode, HarnessError } from '../protocol/errors';
import { runProcess, type RunHandle, type RunResult } from '../exec';
import type { Json } from '../protocol/model';
import { LockAcquire, LockRelease, LockRenew } from '../protocol/locks';
import { ResourceAcquire, ResourceRelease, ResourceRenew } from '../protocol/pools';
import { StateGet, StatePut } from '../protocol/shared-state';
import { integer, type Values } from './args';
import type { CliCommand } from './commands';
import { resolveSocket, resolveWorkerId, UsageError, type GlobalOptions, type Io } from './context';
import { printError, printReply } from './output';
import { absolute, inWaitWords, leadingAmounts, ttl, WAIT_AND_TTL, waitMs } from './prim-args';
import { json } from './table';

/** Something held while a command runs (a grant): how to take it, renew it, release it, and tell the command. */
interface Lease<Grant> {
  acquire(client: HarnessClient): Promise<Grant>;
  /** What the grant is called in messages. */
  describe(grant: Grant): string;
  renew(client: HarnessClient, grant: Grant): Promise<unknown>;
  release(client: HarnessClient, grant: Grant): Promise<unknown>;
  env(grant: Grant): Record<string, string>;
  ttlSeconds(grant: Grant): number;
}

const exitStatus = (r: RunResult) => (r.returncode >= 0 ? r.returncode : 128 - r.returncode);

/** Acquires, runs `argv` with its output passed through, renews meanwhile, always releases. */
async function runHolding<Grant>(lease: Lease<Grant>, argv: string[], o: GlobalOptions, io: Io): Promise<number> {
  let client: HarnessClient;
  try {
    client = await HarnessClient.connect(resolveSocket(o, io), { retryForMs: 2000 });
  } catch (e) {
    return printError(e, io, o);
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
  let grant: Grant | undefined;
  let renewTimer: NodeJS.Timeout | undefined;
  try {
    let held: Grant;
    try {
      held = await lease.acquire(client);
    } catch (e) {
      return interrupted ? 130 : printError(e, io, o);
    }
    if (interrupted) return 130;
    grant = held;
    const every = Math.max(200, (lease.ttlSeconds(held) * 1000) / 3);
    renewTimer = setInterval(() => {
      lease.renew(client, held).catch((e: Error) => {
        io.stderr(`harness: could not renew ${lease.describe(held)} (${e.message}); stopping the command\n`);
        clearInterval(renewTimer);
        handle?.cancel();
      });
    }, every);
    handle = runProcess({ argv, cwd: io.cwd, env: lease.env(held) });
    handle.onOutput((chunk) => (chunk.stream === 'stdout' ? io.stdout(chunk.data) : io.stderr(chunk.data)));
    if (interrupted) handle.cancel();
    const result = await handle.result;
    return interrupted ? 130 : exitStatus(result);
  } catch (e) {
    return printError(e, io, o);
  } finally {
    clearInterval(renewTimer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (grant !== undefined) {
      const held = grant;
      await lease.release(client, held).catch((e: Error) => io.stderr(`harness: could not release ${lease.describe(held)}: ${e.message}\n`));
    }
    client.close();
  }
}

const LOCK = 'harness with-lock PATH [--read] [--wait S] [--ttl S] -- CMD ARGS...';
const RESOURCES = 'harness with-resources NAME=N... [--wait S] [--ttl S] -- CMD ARGS...';
const UPDATE = 'harness state update KEY [--retries N] -- CMD ARGS...';

/** Leading `name=N` arguments are amounts; the rest is the command. */
function splitAmounts(p: string[]): { amounts: Record<string, number>; argv: string[] } {
  const { amounts, count } = leadingAmounts(p);
  if (count === 0) throw new UsageError(`name at least one amount as NAME=N before the command, e.g. cpu_cores=2; got ${JSON.stringify(p[0])}`, RESOURCES);
  if (count === p.length) throw new UsageError('missing the command to run, after the amounts and --', RESOURCES);
  return { amounts, argv: p.slice(count) };
}

const commonOptions = { wait: { type: 'string', short: 'w' } } as const;

export const WITH_LOCK: CliCommand = {
  name: 'with-lock',
  usage: LOCK,
  summary: 'run CMD holding a file lock (released however CMD ends); exits with its status',
  options: { read: { type: 'boolean' }, ...commonOptions },
  durations: WAIT_AND_TTL,
  positionals: { min: 2, max: Infinity },
  run: (v, p, o, io) => {
    const worker_id = resolveWorkerId(o, io);
    return runHolding(
      {
        acquire: (client) => inWaitWords(v, client.call(LockAcquire, { worker_id, path: absolute(io, p[0]!), mode: v.read ? 'read' : 'write', wait_ms: waitMs(v), ...ttl(v) })),
        describe: (g) => `the lock on ${g.lock.path}`,
        renew: (client, g) => client.call(LockRenew, { worker_id, token: g.lock.token }),
        release: (client, g) => client.call(LockRelease, { worker_id, token: g.lock.token }),
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
  durations: WAIT_AND_TTL,
  positionals: { min: 2, max: Infinity },
  run: (v, p, o, io) => {
    const worker_id = resolveWorkerId(o, io);
    const { amounts, argv } = splitAmounts(p);
    return runHolding(
      {
        acquire: (client) => inWaitWords(v, client.call(ResourceAcquire, { worker_id, amounts, wait_ms: waitMs(v), ...ttl(v) })),
        describe: (g) => `hold ${g.hold.id}`,
        renew: (client, g) => client.call(ResourceRenew, { worker_id, hold_id: g.hold.id }),
        release: (client, g) => client.call(ResourceRelease, { worker_id, hold_id: g.hold.id }),
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
        let current: { value: unknown; version: number };
        try {
          current = await client.call(StateGet, { key });
        } catch (e) {
          if (!(e instanceof HarnessError) || e.code !== ErrorCode.NotFound) return printError(e, io, o);
          current = { value: null, version: 0 };
        }
        const { value, version } = current;
        const run = await pipeThrough(argv, JSON.stringify(value) + '\n', io);
        if (run.code !== 0) throw new HarnessError(ErrorCode.InvalidArgument, `${argv[0]} exited with status ${run.code}; nothing was written`);
        let next: Json;
        try {
          next = JSON.parse(run.stdout) as Json;
        } catch (e) {
          throw new HarnessError(ErrorCode.InvalidArgument, `the output of ${argv[0]} is not JSON (${(e as Error).message}); nothing was written`);
        }
        try {
          const put = await client.call(StatePut, { key, value: next, expected_version: version, worker_id });
          const data = { ...put, value: next, attempts: attempt };
          return printReply({ status: 'ok', data }, io, o, (d) => `${d.key}: now at version ${d.version} (attempt ${d.attempts}): ${json(d.value, 200)}\n`);
        } catch (e) {
          if (!(e instanceof HarnessError) || e.code !== ErrorCode.Conflict || attempt > retries) return printError(e, io, o);
        }
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(100, 2 ** attempt)));
      }
    } catch (e) {
      return printError(e, io, o);
    } finally {
      client?.close();
    }
  },
};

export const RUN_WITH_COMMANDS: CliCommand[] = [WITH_LOCK, WITH_RESOURCES, STATE_UPDATE];

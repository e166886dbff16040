/**
 * A load-generating worker process for the crash-under-load test (test/reliability/crash-load.test.ts):
 * `node worker.js '{"socket":..., "prefix":..., "connections":N}'`. Each connection is one worker
 * (id `<prefix>-<k>`, stable across reconnects) looping claim → complete; when the coordinator
 * dies it reconnects and carries on. It reports on stdout, one line per fact, written
 * synchronously so a line printed is a line the parent will read:
 *   claim T N W R        a claim of task T with fencing token N was acknowledged to W (R=1: held already)
 *   done T N W           W's complete of T under token N was acknowledged
 *   reject T N W CODE    W's complete of T under token N was refused (stale token, not held)
 *   lost-claim W         a claim was sent, the connection died before the reply (or a cluster said UNAVAILABLE)
 *   lost-complete T N W  a complete was sent, the connection died before the reply (outcome unknown)
 *   late T N W           after a lost-complete: the task is completed by W under N (the ack was lost)
 *   err W CODE MESSAGE   any other error reply (the checker fails on these)
 * Tasks with `payload.slow` sleep `payload.sleep_ms` on their first attempt before completing, so
 * their lease (timeout_seconds) runs out and another worker reclaims them: the old holder's
 * complete must then be refused (fencing).
 */
import * as fs from 'node:fs';
import { HarnessClient } from '../../src/client/client';
import { ErrorCode, HarnessError } from '../../src/core/errors';
import type { Reply } from '../../src/protocol/messages';

interface Args {
  socket: string;
  prefix: string;
  connections: number;
}

interface ClaimedTask {
  id: string;
  fencing_token: number;
  attempts: number;
  claimed_by: string | null;
  status: string;
  payload: { slow?: boolean; sleep_ms?: number } | null;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const say = (line: string) => fs.writeSync(1, `${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
  process.exit(0);
});

class Lost extends Error {}

async function worker(workerId: string): Promise<void> {
  let client: HarnessClient | undefined;
  const send = async (command: string, params: Record<string, unknown>): Promise<Reply> => {
    if (!client || client.closed) client = await HarnessClient.connect(args.socket, { retryForMs: 120_000 });
    let reply: Reply;
    try {
      reply = await client.send(command, params);
    } catch (e) {
      if (e instanceof HarnessError && e.code === ErrorCode.Closed) throw new Lost(e.message);
      throw e;
    }
    // A cluster that could not confirm (the leader died under the request): as if the connection
    // had closed, the outcome is unknown. NOT_LEADER (nothing applied) is the same to a worker.
    if (reply.status === 'error' && (reply.code === ErrorCode.Unavailable || reply.code === ErrorCode.NotLeader)) throw new Lost(reply.message);
    return reply;
  };
  /** A complete whose reply never came: settled after the next reconnect. */
  let unsettled: { task: string; token: number } | undefined;

  const complete = async (task: string, token: number) => {
    let reply: Reply;
    try {
      reply = await send('task_complete', { worker_id: workerId, task_id: task, fencing_token: token, result: { by: workerId, token } });
    } catch (e) {
      if (!(e instanceof Lost)) throw e;
      say(`lost-complete ${task} ${token} ${workerId}`);
      unsettled = { task, token };
      return;
    }
    if (reply.status === 'ok') return say(`done ${task} ${token} ${workerId}`);
    if (reply.code === ErrorCode.StaleFencingToken || reply.code === ErrorCode.NotClaimedBy) {
      // Refused: either the lease went to someone else, or an earlier complete of ours (whose
      // ack was lost) already went through. Look.
      const got = await send('task_get', { task_id: task });
      const t = got.status === 'ok' ? (got.data as { task: ClaimedTask }).task : undefined;
      if (t && t.status === 'completed' && t.claimed_by === workerId && t.fencing_token === token && unsettledWas(task, token)) {
        return say(`late ${task} ${token} ${workerId}`);
      }
      return say(`reject ${task} ${token} ${workerId} ${reply.code}`);
    }
    say(`err ${workerId} ${reply.code} ${reply.message.replace(/\n/g, ' ')}`);
  };
  let retrying: { task: string; token: number } | undefined;
  const unsettledWas = (task: string, token: number) => retrying?.task === task && retrying.token === token;

  while (!stopping) {
    try {
      if (unsettled) {
        // Send the complete again: ok means the first never became durable; a refusal with the
        // task completed by us under our token means it did, and only its ack was lost.
        retrying = unsettled;
        unsettled = undefined;
        await complete(retrying.task, retrying.token);
        retrying = undefined;
        continue;
      }
      let reply: Reply;
      try {
        reply = await send('task_claim', { worker_id: workerId });
      } catch (e) {
        if (!(e instanceof Lost)) throw e;
        say(`lost-claim ${workerId}`);
        continue;
      }
      if (reply.status !== 'ok') {
        say(`err ${workerId} ${reply.code} ${reply.message.replace(/\n/g, ' ')}`);
        await sleep(50);
        continue;
      }
      const { task, is_retry } = reply.data as { task: ClaimedTask | null; is_retry: boolean };
      if (!task) {
        await sleep(20 + Math.random() * 30);
        continue;
      }
      say(`claim ${task.id} ${task.fencing_token} ${workerId} ${is_retry ? 1 : 0}`);
      if (task.payload?.slow && task.attempts === 1) await sleep(task.payload.sleep_ms ?? 1500);
      await complete(task.id, task.fencing_token);
    } catch (e) {
      if (e instanceof Lost) {
        if (retrying) unsettled = retrying; // the retry itself was cut off: try again
        retrying = undefined;
        continue;
      }
      say(`err ${workerId} ${(e as { code?: string }).code ?? 'THROWN'} ${String((e as Error).message ?? e).replace(/\n/g, ' ')}`);
      await sleep(100);
    }
  }
}

Promise.all(Array.from({ length: args.connections }, (_, k) => worker(`${args.prefix}-${k}`))).then(
  () => process.exit(0),
  (e: unknown) => {
    say(`err ${args.prefix} FATAL ${String(e)}`);
    process.exit(1);
  },
);

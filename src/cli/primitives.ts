// CLI commands of the coordination primitives that are one request each: locks, shared state,
// pools, messages. The ones that run a command (with-lock, with-resources, state update) are in
// run-with.ts. Every one prints the reply as one JSON document on stdout (lines with --format text).
import type { AnyCommand, ParamsOf, ResultOf } from '../protocol/command';
import { LockAcquire, LockList, LockRelease, LockRenew } from '../protocol/locks';
import { MessageAck, MessageDrop, MessageList, MessageReceive, MessageSend, TopicSubscribe, TopicUnsubscribe } from '../protocol/mailbox';
import type { Json } from '../protocol/model';
import { PoolList, PoolSet } from '../protocol/pools';
import { StateDelete, StateGet, StateHistory, StateList, StatePut } from '../protocol/shared-state';
import { DURATIONS, integer, jsonArg, type Values } from './args';
import { call as request, withClient, type CliCommand } from './commands';
import { resolveWorkerId, UsageError, type GlobalOptions, type Io } from './context';
import { printReply } from './output';
import { absolute, inWaitWords, ttl, WAIT_AND_TTL, waitMs } from './prim-args';
import { RUN_WITH_COMMANDS } from './run-with';
import {
  ackText,
  dropText,
  lockGrantText,
  lockListText,
  lockReleaseText,
  messageListText,
  poolListText,
  poolSetText,
  receivedText,
  sentText,
  stateDeleteText,
  stateEntryText,
  stateHistoryText,
  stateListText,
  statePutText,
  topicText,
} from './text';

/** A message body: JSON, or else the text as a string. */
function body(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

const wait = { type: 'string', short: 'w' } as const;
const ifVersion = { type: 'string' } as const;
const one = { min: 1, max: 1 };

const U = {
  acquire: 'harness lock acquire PATH [--read] [--wait S] [--ttl S]',
  release: 'harness lock release [PATH] [--token N]',
  renew: 'harness lock renew --token N [--ttl S]',
  put: 'harness state put KEY JSON [--if-version N]',
  del: 'harness state delete KEY [--if-version N]',
  poolSet: 'harness pool set NAME CAPACITY',
  send: 'harness msg send --to WORKER|topic:NAME BODY [--from ID]',
  recv: 'harness msg recv [--wait S] [--max N]',
  drop: 'harness msg drop ID [--recipient WORKER]',
};

function expected(v: Values, usage: string): { expected_version?: number } {
  const n = integer(v, 'if-version', usage);
  if (n !== undefined && n < 0) throw new UsageError(`--if-version must be 0 or more (0: only if the key does not exist), got ${n}`, usage);
  return n === undefined ? {} : { expected_version: n };
}

const simple = <D extends AnyCommand>(
  name: string,
  usage: string,
  summary: string,
  command: D,
  params: (p: string[], o: GlobalOptions, io: Io) => ParamsOf<D>,
  text: (data: ResultOf<D>) => string,
  positionals = { min: 0, max: 0 },
): CliCommand => ({
  name,
  usage,
  summary,
  positionals,
  run: (_v, p, o, io) => request(o, io, command, params(p, o, io), text),
});

export const PRIMITIVE_CLI_COMMANDS: CliCommand[] = [
  {
    name: 'lock acquire',
    usage: U.acquire,
    summary: 'take a file lock (write, or --read shared) and keep it until released or its TTL ends',
    options: { read: { type: 'boolean' }, wait },
    durations: WAIT_AND_TTL,
    positionals: one,
    run: async (v, p, o, io) => {
      const params = { worker_id: resolveWorkerId(o, io), path: absolute(io, p[0]!), mode: v.read ? ('read' as const) : ('write' as const), wait_ms: waitMs(v), ...ttl(v) };
      return printReply(await withClient(o, io, (client) => inWaitWords(v, client.call(LockAcquire, params))), io, o, lockGrantText);
    },
  },
  {
    name: 'lock release',
    usage: U.release,
    summary: 'release your locks on PATH (or the one with --token)',
    options: { token: { type: 'string' } },
    positionals: { min: 0, max: 1 },
    run: (v, p, o, io) => {
      const token = integer(v, 'token', U.release);
      if (p[0] === undefined && token === undefined) throw new UsageError('give PATH or --token', U.release);
      return request(o, io, LockRelease, {
        worker_id: resolveWorkerId(o, io),
        ...(p[0] !== undefined ? { path: absolute(io, p[0]) } : {}),
        ...(token !== undefined ? { token } : {}),
      }, lockReleaseText);
    },
  },
  {
    name: 'lock renew',
    usage: U.renew,
    summary: 'extend a lock you hold by its TTL (or --ttl)',
    options: { token: { type: 'string' } },
    durations: { ttl: DURATIONS.ttl },
    run: (v, _p, o, io) => {
      const token = integer(v, 'token', U.renew);
      if (token === undefined) throw new UsageError('--token is required', U.renew);
      return request(o, io, LockRenew, { worker_id: resolveWorkerId(o, io), token, ...ttl(v) }, lockGrantText);
    },
  },
  simple('lock list', 'harness lock list [PATH]', 'list held locks and waiting requests', LockList, (p, _o, io) => (p[0] ? { path: absolute(io, p[0]) } : {}), lockListText, {
    min: 0,
    max: 1,
  }),

  simple('state get', 'harness state get KEY', 'read a shared value and its version', StateGet, (p) => ({ key: p[0] }), stateEntryText, one),
  {
    name: 'state put',
    usage: U.put,
    summary: 'write a shared JSON value; with --if-version, only if it is still at that version (0: absent)',
    options: { 'if-version': ifVersion },
    positionals: { min: 2, max: 2 },
    run: (v, p, o, io) =>
      request(
        o,
        io,
        StatePut,
        { key: p[0], value: jsonArg(p[1]!, 'the value (JSON)', U.put), worker_id: resolveWorkerId(o, io), ...expected(v, U.put) },
        statePutText,
      ),
  },
  {
    name: 'state delete',
    usage: U.del,
    summary: 'delete a shared value (optionally only at a given version)',
    options: { 'if-version': ifVersion },
    positionals: one,
    run: (v, p, o, io) => request(o, io, StateDelete, { key: p[0], worker_id: resolveWorkerId(o, io), ...expected(v, U.del) }, stateDeleteText),
  },
  simple('state history', 'harness state history KEY', 'the kept versions of a key, newest first', StateHistory, (p) => ({ key: p[0] }), stateHistoryText, one),
  simple('state list', 'harness state list [PREFIX]', 'current shared values, by key', StateList, (p) => ({ prefix: p[0] ?? '' }), stateListText, { min: 0, max: 1 }),

  simple('pool list', 'harness pool list', 'resource pools: capacity, use, holders, waiting requests', PoolList, () => ({}), poolListText),
  {
    name: 'pool set',
    usage: U.poolSet,
    summary: 'create a resource pool or change its capacity',
    positionals: { min: 2, max: 2 },
    run: (_v, p, o, io) => {
      if (!/^\d+$/.test(p[1]!)) throw new UsageError(`CAPACITY must be a whole number, got ${JSON.stringify(p[1])}`, U.poolSet);
      return request(o, io, PoolSet, { name: p[0], capacity: Number(p[1]) }, poolSetText);
    },
  },

  {
    name: 'msg send',
    usage: U.send,
    summary: 'send a message (JSON, or text) to a worker or to every subscriber of a topic',
    options: { to: { type: 'string' }, from: { type: 'string' } },
    positionals: one,
    run: (v, p, o, io) => {
      if (typeof v.to !== 'string' || v.to === '') throw new UsageError('--to is required', U.send);
      return request(o, io, MessageSend, { to: v.to, body: body(p[0]!), from: (v.from as string | undefined) ?? resolveWorkerId(o, io) }, sentText);
    },
  },
  {
    name: 'msg recv',
    usage: U.recv,
    summary: 'your oldest unacknowledged messages (they come again until acknowledged)',
    options: { wait, max: { type: 'string' } },
    durations: { wait: DURATIONS.messageWait },
    run: (v, _p, o, io) =>
      request(
        o,
        io,
        MessageReceive,
        { worker_id: resolveWorkerId(o, io), wait_ms: waitMs(v), ...(v.max !== undefined ? { max: integer(v, 'max', U.recv) } : {}) },
        receivedText,
      ),
  },
  simple('msg ack', 'harness msg ack ID', 'acknowledge a message: it is not delivered again', MessageAck, (p, o, io) => ({ worker_id: resolveWorkerId(o, io), message_id: p[0] }), ackText, one),
  simple('msg subscribe', 'harness msg subscribe TOPIC', 'receive the messages sent to topic:TOPIC from now on', TopicSubscribe, (p, o, io) => ({ worker_id: resolveWorkerId(o, io), topic: p[0] }), topicText, one),
  simple('msg unsubscribe', 'harness msg unsubscribe TOPIC', 'stop receiving a topic', TopicUnsubscribe, (p, o, io) => ({ worker_id: resolveWorkerId(o, io), topic: p[0] }), topicText, one),
  simple('msg list', 'harness msg list', 'every pending delivery, to anyone, and the topic subscriptions', MessageList, () => ({}), messageListText),
  {
    name: 'msg drop',
    usage: U.drop,
    summary: 'drop a pending message (for everyone, or for one recipient)',
    options: { recipient: { type: 'string' } },
    positionals: one,
    run: (v, p, o, io) =>
      request(o, io, MessageDrop, { message_id: p[0]!, ...(typeof v.recipient === 'string' && v.recipient ? { recipient: v.recipient } : {}) }, dropText),
  },
  ...RUN_WITH_COMMANDS,
];

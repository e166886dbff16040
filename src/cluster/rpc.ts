// Requests to the leader over NATS request-reply: a coordinator that does not lead forwards what
// its socket receives, and a client given `--nats` sends directly. One request line goes to the
// leader's own subject (parts when it is large); the reply comes back on the sender's inbox (parts
// likewise). The sender keeps track of who leads: a request refused with NOT_LEADER, or sent to a
// coordinator that is gone, was not applied and goes again to the next leader; a leader that
// vanishes while working on one leaves its outcome unknown, and the sender says so.
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { describeError, ErrorCode } from '../core/errors';
import type { Logger } from '../core/log';
import type { EventLine, Reply, RequestId } from '../protocol/messages';
import type { ClusterNames } from './names';
import { nats } from './nats-loader';
import { PART, PartAssembler, splitParts } from './parts';

const REQUEST = 'Harness-Request';

export interface LeaderSource {
  /** The node that leads as last seen, if any. */
  current(): string | undefined;
  /** Resolves at the next change of what is known about the leader. */
  changed(): Promise<void>;
}

/** Answers one request line with one reply line; `signal` fires when the sender withdrew it. */
export type RpcHandler = (line: string, signal: AbortSignal) => Promise<string>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Serves requests addressed to `node`: what a leader answers (and a standby refuses). */
export class RpcServer {
  private readonly subscriptions: Subscription[] = [];
  private readonly parts = new PartAssembler<string>();
  private readonly inFlight = new Map<string, AbortController>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: ClusterNames,
    private readonly node: string,
    private readonly maxBytes: number,
    private readonly handler: RpcHandler,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.subscriptions.push(
      this.nc.subscribe(this.names.rpc(this.node), {
        callback: (err, msg) => {
          if (!err) this.onRequest(msg);
        },
      }),
      this.nc.subscribe(this.names.cancel(this.node), {
        callback: (err, msg) => {
          if (!err) this.inFlight.get(msg.string())?.abort();
        },
      }),
    );
  }

  private onRequest(msg: Msg): void {
    const id = msg.headers?.get(REQUEST);
    const reply = msg.reply;
    if (!id || !reply) return;
    const whole = this.parts.add(id, msg.headers?.get(PART), msg.data);
    if (!whole) return;
    const controller = new AbortController();
    this.inFlight.set(id, controller);
    this.handler(decoder.decode(whole), controller.signal)
      .then((line) => {
        for (const part of splitParts(encoder.encode(line), this.maxBytes)) this.nc.publish(reply, part.data, part.headers ? { headers: part.headers } : {});
      })
      .catch((e) => this.log.error(`request from the cluster failed: ${describeError(e)}`))
      .finally(() => this.inFlight.delete(id));
  }

  close(): void {
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
    for (const c of this.inFlight.values()) c.abort();
  }
}

interface Pending {
  resolve(outcome: { reply: Uint8Array } | { noResponders: true }): void;
}

export interface ForwardOptions {
  /** The request's own id, echoed in replies this side makes up. */
  id?: RequestId;
  signal?: AbortSignal;
  /** How long to look for a leader before answering UNAVAILABLE. */
  leaderWaitMs?: number;
}

/** Sends request lines to whichever coordinator leads. */
export class RpcClient {
  private readonly inbox = nats().createInbox();
  private subscription: Subscription | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly parts = new PartAssembler<string>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: ClusterNames,
    private readonly maxBytes: number,
    private readonly leaders: LeaderSource,
  ) {}

  private listen(): void {
    this.subscription ??= this.nc.subscribe(`${this.inbox}.*`, {
      callback: (err, msg) => {
        if (err) return;
        const id = msg.subject.slice(this.inbox.length + 1);
        const waiter = this.pending.get(id);
        if (!waiter) return;
        if (msg.headers?.code === 503) return waiter.resolve({ noResponders: true });
        const whole = this.parts.add(id, msg.headers?.get(PART), msg.data);
        if (whole) waiter.resolve({ reply: whole });
      },
    });
  }

  /**
   * The leader's answer to `line` (a reply; for a notification nothing, or the event telling its
   * failure), or an error reply made here when there is none to give.
   */
  async request(line: string, options: ForwardOptions = {}): Promise<Reply | EventLine | undefined> {
    this.listen();
    const { id, signal } = options;
    const fail = (code: string, message: string, details?: Record<string, unknown>): Reply => ({
      status: 'error',
      code,
      message,
      ...(details ? { details } : {}),
      ...(id === undefined ? {} : { id }),
    });
    const deadline = Date.now() + (options.leaderWaitMs ?? 30_000);
    const data = encoder.encode(line);
    for (;;) {
      if (signal?.aborted) return fail(ErrorCode.Closed, 'the request was withdrawn before a coordinator took it');
      const leader = this.leaders.current();
      if (!leader) {
        if (Date.now() > deadline) {
          return fail(ErrorCode.Unavailable, `no coordinator leads cluster ${this.names.cluster} (waited ${options.leaderWaitMs ?? 30_000} ms); nothing was applied`, { outcome: 'not_applied' });
        }
        await this.untilChangeOr(deadline - Date.now(), signal);
        continue;
      }
      const outcome = await this.send(leader, data, signal);
      if (outcome === 'withdrawn') return fail(ErrorCode.Closed, 'the request was withdrawn: its connection closed');
      if (outcome === 'leader-gone') {
        return fail(ErrorCode.Unavailable, `coordinator ${leader} stopped leading while it handled the request: it may or may not have been applied`, {
          outcome: 'unknown',
        });
      }
      if (outcome !== 'no-responders') {
        const answer = JSON.parse(decoder.decode(outcome)) as Reply | EventLine | null;
        if (answer === null) return undefined;
        if (!('status' in answer) || answer.status === 'ok' || answer.code !== ErrorCode.NotLeader) return answer;
      }
      // Not applied: the coordinator asked does not lead (any more), or is gone. Ask the next one.
      if (Date.now() > deadline) return fail(ErrorCode.Unavailable, `no coordinator of cluster ${this.names.cluster} took the request in time; nothing was applied`);
      await this.untilChangeOr(Math.min(200, deadline - Date.now()), signal);
    }
  }

  private async untilChangeOr(ms: number, signal?: AbortSignal): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    await Promise.race([
      this.leaders.changed(),
      new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, ms)))),
      new Promise<void>((r) => signal?.addEventListener('abort', (onAbort = () => r()), { once: true })),
    ]);
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }

  private async send(node: string, data: Uint8Array, signal?: AbortSignal): Promise<Uint8Array | 'no-responders' | 'leader-gone' | 'withdrawn'> {
    const id = nats().nuid.next();
    const answered = new Promise<{ reply: Uint8Array } | { noResponders: true }>((resolve) => this.pending.set(id, { resolve }));
    const reply = `${this.inbox}.${id}`;
    for (const part of splitParts(data, this.maxBytes, { [REQUEST]: id })) this.nc.publish(this.names.rpc(node), part.data, { reply, headers: part.headers! });
    let onAbort: (() => void) | undefined;
    const withdrawn = new Promise<'withdrawn'>((r) => {
      if (signal?.aborted) return r('withdrawn');
      signal?.addEventListener('abort', (onAbort = () => r('withdrawn')), { once: true });
    });
    try {
      for (;;) {
        const next = await Promise.race([answered, this.leaders.changed().then(() => 'changed' as const), withdrawn]);
        if (next === 'withdrawn') {
          this.nc.publish(this.names.cancel(node), id);
          return 'withdrawn';
        }
        if (next === 'changed') {
          if (this.leaders.current() === node) continue;
          return 'leader-gone';
        }
        return 'noResponders' in next ? 'no-responders' : next.reply;
      }
    } finally {
      this.pending.delete(id);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  close(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }
}

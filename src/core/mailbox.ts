// Mailboxes: durable, at-least-once messages. A message goes to a worker id, or to `topic:NAME`,
// which delivers one copy to each worker subscribed at the time it is sent. A delivery stays until
// its recipient acknowledges it (or a person drops it): `receive` returns the oldest unacknowledged
// ones, the same ones again until they are acknowledged. Receiving only reads.
import type { ParsedParamsOf } from '../protocol/command';
import {
  DEFAULT_RECEIVE_MAX,
  TOPIC_PREFIX,
  type MessageAck,
  type MessageDrop,
  type MessageList,
  type MessageReceive,
  type MessageSend,
  type TopicSubscribe,
  type TopicUnsubscribe,
} from '../protocol/mailbox';
import { ErrorCode, HarnessError } from './errors';
import type { Json } from './model';
import { commit, durableRead, nextSeq, nowIso, type PrimitiveContext, type PrimitiveTx } from './prim-context';
import type { MessageRow } from './primitive-store';

export { TOPIC_PREFIX };

export interface Message {
  id: string;
  to: string;
  from: string | null;
  body: Json;
  sent_at: string;
}

const view = ({ id, to, from, body, sent_at }: MessageRow): Message => ({ id, to, from, body, sent_at });

export class Mailbox {
  /** Receivers waiting for mail, by worker id. */
  private readonly receivers = new Map<string, Set<() => void>>();
  private closed = false;

  constructor(private readonly ctx: PrimitiveContext) {
    ctx.onAny((name, event) => {
      if (name !== 'message:sent') return;
      for (const r of (event as { recipients: string[] }).recipients) for (const wake of this.receivers.get(r) ?? []) wake();
    });
  }

  async send(p: ParsedParamsOf<typeof MessageSend>): Promise<{ message_id: string; to: string; recipients: string[]; unregistered: string[] }> {
    const topic = p.to.startsWith(TOPIC_PREFIX) ? p.to.slice(TOPIC_PREFIX.length) : undefined;
    return commit(this.ctx, (tx) => {
      const seq = nextSeq(this.ctx, tx, 'message_seq');
      const id = `msg-${seq}`;
      const to = topic === undefined ? p.to : `${TOPIC_PREFIX}${topic}`;
      const recipients = topic === undefined ? [p.to] : this.ctx.store.primitives.subscribers(topic);
      const sent_at = nowIso(this.ctx);
      for (const recipient of recipients) {
        tx.w.apply({ op: 'message', row: { id, seq, recipient, to, from: p.from ?? null, body: p.body, sent_at } });
      }
      tx.emit('message:sent', { message_id: id, to, from: p.from ?? null, recipients });
      // Kept all the same: a worker may register under that id later. The sender is told, so a
      // misspelt id is not a silent black hole.
      const unregistered = recipients.filter((r) => !this.ctx.store.getInstance(r));
      return { message_id: id, to, recipients, unregistered };
    }).done;
  }

  /** The oldest unacknowledged messages for the worker; with `wait_ms`, waits for the first one. */
  async receive(params: ParsedParamsOf<typeof MessageReceive>, signal?: AbortSignal): Promise<{ messages: Message[] }> {
    const p = { worker_id: params.worker_id, wait_ms: params.wait_ms ?? 0, max: params.max ?? DEFAULT_RECEIVE_MAX };
    const deadline = this.ctx.clock.now() + p.wait_ms;
    for (;;) {
      if (this.closed) throw new HarnessError(ErrorCode.Closed, 'the coordinator is shutting down');
      const rows = await durableRead(this.ctx, () => this.ctx.store.primitives.messagesFor(p.worker_id, p.max));
      const left = deadline - this.ctx.clock.now();
      if (rows.length > 0 || left <= 0 || signal?.aborted) return { messages: rows.map(view) };
      await this.mail(p.worker_id, left, signal);
    }
  }

  /** Resolves when mail for `workerId` arrives, time is up, or the requester went away. */
  private mail(workerId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.receivers.get(workerId);
      if (!set) this.receivers.set(workerId, (set = new Set()));
      const done = () => {
        cancelTimer();
        signal?.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0 && this.receivers.get(workerId) === set) this.receivers.delete(workerId);
        resolve();
      };
      const cancelTimer = this.ctx.clock.after(ms, done);
      signal?.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  async ack(p: ParsedParamsOf<typeof MessageAck>): Promise<{ message_id: string; worker_id: string }> {
    return commit(this.ctx, (tx) => {
      if (!this.ctx.store.primitives.messages(p.message_id).some((m) => m.recipient === p.worker_id)) {
        throw new HarnessError(
          ErrorCode.NotFound,
          `message ${p.message_id} is not pending for ${p.worker_id} (already acknowledged, dropped, or never sent to it)`,
          { message_id: p.message_id, worker_id: p.worker_id },
        );
      }
      tx.w.apply({ op: 'message_delete', id: p.message_id, recipient: p.worker_id });
      tx.emit('message:acked', { message_id: p.message_id, worker_id: p.worker_id });
      return { message_id: p.message_id, worker_id: p.worker_id };
    }).done;
  }

  async subscribe(p: ParsedParamsOf<typeof TopicSubscribe>): Promise<{ topic: string; worker_id: string; subscribed: true }> {
    return commit(this.ctx, (tx) => {
      if (!this.ctx.store.primitives.subscriptionsOf(p.worker_id).includes(p.topic)) {
        tx.w.apply({ op: 'subscription', row: { topic: p.topic, worker_id: p.worker_id, since: nowIso(this.ctx) } });
        tx.emit('topic:changed', { topic: p.topic, worker_id: p.worker_id, subscribed: true });
      }
      return { topic: p.topic, worker_id: p.worker_id, subscribed: true as const };
    }).done;
  }

  async unsubscribe(p: ParsedParamsOf<typeof TopicUnsubscribe>): Promise<{ topic: string; worker_id: string; subscribed: false }> {
    return commit(this.ctx, (tx) => {
      if (this.ctx.store.primitives.subscriptionsOf(p.worker_id).includes(p.topic)) this.unsubscribeRow(tx, p.topic, p.worker_id);
      return { topic: p.topic, worker_id: p.worker_id, subscribed: false as const };
    }).done;
  }

  /** Every pending delivery (to whom, even a worker that never came back), oldest first. */
  list({ recipient }: ParsedParamsOf<typeof MessageList>): { messages: Array<Message & { recipient: string }>; topics: Record<string, string[]> } {
    const rows = this.ctx.store.primitives.messages().filter((m) => recipient === undefined || m.recipient === recipient);
    const topics: Record<string, string[]> = {};
    for (const s of this.ctx.store.primitives.subscriptions()) (topics[s.topic] ??= []).push(s.worker_id);
    return { messages: rows.map((m) => ({ ...view(m), recipient: m.recipient })), topics };
  }

  /** A person drops a message: every pending delivery of it, or only `recipient`'s. */
  async drop(p: ParsedParamsOf<typeof MessageDrop>): Promise<{ message_id: string; recipients: string[] }> {
    return commit(this.ctx, (tx) => {
      const rows = this.ctx.store.primitives.messages(p.message_id).filter((m) => p.recipient === undefined || m.recipient === p.recipient);
      if (rows.length === 0) {
        throw new HarnessError(ErrorCode.NotFound, `message ${p.message_id} has no pending delivery${p.recipient ? ` to ${p.recipient}` : ''}`, {
          message_id: p.message_id,
        });
      }
      const recipients = rows.map((m) => m.recipient);
      tx.w.apply({ op: 'message_delete', id: p.message_id, ...(p.recipient !== undefined ? { recipient: p.recipient } : {}) });
      tx.emit('message:dropped', { message_id: p.message_id, recipients });
      return { message_id: p.message_id, recipients };
    }).done;
  }

  /** When a worker goes away its subscriptions end; messages already delivered to it stay. */
  releaseHolder(tx: PrimitiveTx, workerId: string): string[] {
    const topics = this.ctx.store.primitives.subscriptionsOf(workerId);
    for (const topic of topics) this.unsubscribeRow(tx, topic, workerId);
    return topics;
  }

  private unsubscribeRow(tx: PrimitiveTx, topic: string, workerId: string): void {
    tx.w.apply({ op: 'subscription_delete', topic, worker_id: workerId });
    tx.emit('topic:changed', { topic, worker_id: workerId, subscribed: false });
  }

  close(): void {
    this.closed = true;
    for (const set of this.receivers.values()) for (const wake of set) wake();
  }
}

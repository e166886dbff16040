// Who leads a cluster: one key in a JetStream key-value bucket whose entries live `ttlMs` (the
// bucket's max age; nats-server 2.9 has no per-message TTL). The leader rewrites the key with
// compare-and-set on its revision well before it lapses; the others read it and, once it is gone,
// race to create it, which only one can. The leader also keeps, on its own monotonic clock, the
// moment its lease surely still holds (when it sent its last successful renewal, plus most of the
// TTL): past it, it neither writes nor answers, even if it was paused and has not noticed yet.
import type { KV } from '@nats-io/kv';
import type { Logger } from '../core/log';
import { casFailed, describeNatsError } from './connection';
import { LEADER_KEY } from './names';

/** What the leader key holds: who leads, so the others can forward requests to it. */
export interface LeaderInfo {
  node: string;
  host: string;
  pid: number;
  since: string;
}

export interface LeadershipOptions {
  kv: KV;
  /** This node, as the key will name it (`since` is set when it takes the key). */
  self: Omit<LeaderInfo, 'since'>;
  /** How long the key lives without a renewal. */
  ttlMs: number;
  log: Logger;
  /** Called after a check in which this node's leadership or the known leader changed. */
  onChange(): void;
}

/** The part of the TTL a leader counts on after sending a renewal (the rest is margin). */
const TRUSTED_PART = 0.8;

export class Leadership {
  private revision = 0;
  /** This node wrote the key last, as far as it knows (its renewals may be failing). */
  private holding = false;
  /** performance.now() until which the lease surely holds. */
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private checking: Promise<void> | undefined;
  /** The leader as last seen (this node when it leads). */
  leader: LeaderInfo | undefined;

  constructor(private readonly options: LeadershipOptions) {}


  /** Whether this node leads right now: it holds the key and its lease has not run out. */
  get leading(): boolean {
    return this.holding && performance.now() < this.validUntil;
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.checking = this.check().finally(() => {
        this.checking = undefined;
        this.schedule(this.holding ? this.options.ttlMs / 4 : this.options.ttlMs / 10);
      });
    }, ms);
  }

  /** One round: renew the key if this node holds it, else read it and take it if nobody does. */
  private async check(): Promise<void> {
    const before = `${this.leading} ${this.leader?.node}`;
    try {
      if (this.holding) await this.renew();
      else await this.look();
    } catch (e) {
      this.options.log.warn(`leadership check failed: ${describeNatsError(e)}`);
    }
    if (`${this.leading} ${this.leader?.node}` !== before) this.options.onChange();
  }

  private async renew(): Promise<void> {
    const { kv, ttlMs } = this.options;
    const sent = performance.now();
    try {
      this.revision = await kv.update(LEADER_KEY, JSON.stringify(this.leader), this.revision);
      this.validUntil = sent + ttlMs * TRUSTED_PART;
    } catch (e) {
      if (!casFailed(e)) throw e;
      // The key lapsed and someone else holds it now.
      this.options.log.warn('leadership lost: the leader key was taken over (this coordinator missed its renewals)');
      this.holding = false;
      this.leader = undefined;
      await this.look();
    }
  }

  private async look(): Promise<void> {
    const { kv, self, ttlMs } = this.options;
    const entry = await kv.get(LEADER_KEY);
    if (entry && entry.operation === 'PUT' && entry.length > 0) {
      this.leader = entry.json<LeaderInfo>();
      return;
    }
    this.leader = undefined;
    const mine: LeaderInfo = { ...self, since: new Date().toISOString() };
    const sent = performance.now();
    try {
      this.revision = await kv.create(LEADER_KEY, JSON.stringify(mine));
    } catch (e) {
      if (casFailed(e)) return; // another node was faster
      throw e;
    }
    this.holding = true;
    this.validUntil = sent + ttlMs * TRUSTED_PART;
    this.leader = mine;
  }

  /** Looks at the key now (so who leads is known from the start), then keeps checking. */
  async start(): Promise<void> {
    await this.checking;
    clearTimeout(this.timer);
    this.checking = this.check().finally(() => {
      this.checking = undefined;
      this.schedule(this.holding ? this.options.ttlMs / 4 : this.options.ttlMs / 10);
    });
    await this.checking;
  }

  /** Stops checking; a leader deletes its key (compare-and-set) so another takes over at once. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.checking;
    if (this.holding) {
      this.holding = false;
      await this.options.kv.delete(LEADER_KEY, { previousSeq: this.revision }).catch(() => {});
    }
  }
}

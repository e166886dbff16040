// Who leads, for a client that talks to a cluster directly (`--nats`): it reads the leader key
// every `intervalMs` and says when what it knows changes. It never writes the key (only a
// coordinator competes for it).
import type { KV } from '@nats-io/kv';
import { describeNatsError } from './connection';
import type { LeaderInfo } from './leadership';
import { LEADER_KEY } from './names';
import type { LeaderSource } from './rpc';

export class LeaderWatch implements LeaderSource {
  private leader: LeaderInfo | undefined;
  private waiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The last read's failure, if the last read failed. */
  problem: string | undefined;

  constructor(
    private readonly kv: KV,
    private readonly intervalMs: number,
  ) {}

  /** Reads the key once (so the first request knows where to go), then keeps reading it. */
  async start(): Promise<void> {
    await this.read();
    this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.read().finally(() => this.schedule()), this.intervalMs);
    this.timer.unref();
  }

  private async read(): Promise<void> {
    let next: LeaderInfo | undefined;
    try {
      const entry = await this.kv.get(LEADER_KEY);
      next = entry && entry.operation === 'PUT' && entry.length > 0 ? entry.json<LeaderInfo>() : undefined;
      this.problem = undefined;
    } catch (e) {
      this.problem = describeNatsError(e);
      return; // what was known stands until a read succeeds
    }
    if (next?.node === this.leader?.node) return;
    this.leader = next;
    for (const w of this.waiters.splice(0)) w();
  }

  current(): string | undefined {
    return this.leader?.node;
  }

  /** The leader as last read. */
  get info(): LeaderInfo | undefined {
    return this.leader;
  }

  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const w of this.waiters.splice(0)) w();
  }
}

// The coordination primitives for parallel writers, composed: file locks, resource pools and
// holds, versioned shared state, mailboxes. The coordinator owns one `Primitives` and calls
// `releaseHolder` from its deregister and stale-sweep transactions and `sweep` from its sweep.
import { Locks } from './locks';
import { Mailbox } from './mailbox';
import { commit, type PrimitiveContext, type PrimitiveTx } from './prim-context';
import { Pools } from './pools';
import { SharedState } from './shared-state';

export { type PrimitiveEvents, type PrimitiveSettings } from './prim-context';

export const DEFAULT_PRIMITIVE_SETTINGS = { stateHistoryLimit: 10 };

export interface Released {
  locks: number[];
  holds: string[];
  topics: string[];
}

export class Primitives {
  readonly locks: Locks;
  readonly pools: Pools;
  readonly state: SharedState;
  readonly mail: Mailbox;

  constructor(private readonly ctx: PrimitiveContext) {
    this.locks = new Locks(ctx);
    this.pools = new Pools(ctx);
    this.state = new SharedState(ctx);
    this.mail = new Mailbox(ctx);
  }

  /** In the transaction that removes a worker or marks it stale: what it held ends with it. */
  releaseHolder(tx: PrimitiveTx, workerId: string): Released {
    return {
      locks: this.locks.releaseHolder(tx, workerId),
      holds: this.pools.releaseHolder(tx, workerId),
      topics: this.mail.releaseHolder(tx, workerId),
    };
  }

  /** Deletes locks and holds whose TTL ran out (they already count as free); one transaction. */
  async sweep(): Promise<{ locks: number[]; holds: string[] }> {
    const nowS = new Date(this.ctx.clock.now()).toISOString();
    const due = this.ctx.store.primitives.locks().some((l) => l.expires_at <= nowS) || this.ctx.store.primitives.holds().some((h) => h.expires_at <= nowS);
    if (!due) return { locks: [], holds: [] };
    return commit(this.ctx, (tx) => ({ locks: this.locks.sweepExpired(tx), holds: this.pools.sweepExpired(tx) })).done;
  }

  close(): void {
    this.locks.close();
    this.pools.close();
    this.mail.close();
  }
}

// A small durable map kept in the coordinator's shared state, spread over a fixed number of keys
// (`<prefix>/00` ... ), so no value grows large and the number of keys never grows. Used for
// the delivery ids seen and the tasks whose hook is owed: no new store operations needed.
import { createHash } from 'node:crypto';
import type { Coordinator } from '../core/coordinator';
import { ErrorCode, HarnessError } from '../core/errors';
import type { Json } from '../core/model';

export type Shard = Record<string, Json>;

export class StateMap {
  constructor(
    private readonly coordinator: Coordinator,
    readonly prefix: string,
    private readonly shards = 32,
  ) {}

  private keyOf(id: string): string {
    const n = createHash('sha1').update(id).digest().readUInt32BE(0) % this.shards;
    return `${this.prefix}/${String(n).padStart(2, '0')}`;
  }

  private shard(key: string): { value: Shard; version: number } {
    const row = this.coordinator.store.primitives.state(key);
    if (!row || row.deleted || !row.value || typeof row.value !== 'object' || Array.isArray(row.value)) {
      return { value: {}, version: row?.deleted || !row ? 0 : row.version };
    }
    return { value: row.value, version: row.version };
  }

  /** The entry as the coordinator has it now (written, perhaps not yet durable). */
  get(id: string): Json | undefined {
    const { value } = this.shard(this.keyOf(id));
    return Object.hasOwn(value, id) ? value[id] : undefined;
  }

  /** Every entry, across the shards. */
  entries(): Array<[string, Json]> {
    return Array.from({ length: this.shards }, (_, n) => Object.entries(this.shard(`${this.prefix}/${String(n).padStart(2, '0')}`).value)).flat();
  }

  /**
   * Changes the shard holding `id` in one shared-state write, issued before this returns (so it
   * is ordered before anything the caller does next); resolves once it is durable. `change`
   * returns false to write nothing.
   */
  update(id: string, change: (shard: Shard) => boolean | void, attempts = 3): Promise<void> {
    const key = this.keyOf(id);
    const { value, version } = this.shard(key);
    const next = { ...value };
    if (change(next) === false) return Promise.resolve();
    return this.coordinator.primitives.state.put({ key, value: next, expected_version: version }).then(
      () => undefined,
      (e: unknown) => {
        // Someone else wrote the key (by hand, through `harness state put`): apply ours to theirs.
        if (e instanceof HarnessError && e.code === ErrorCode.Conflict && attempts > 1) return this.update(id, change, attempts - 1);
        throw e;
      },
    );
  }
}

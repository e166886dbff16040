// Messages larger than NATS carries in one (its max_payload, 1 MiB by default): a request line, a
// reply, an event, sent as consecutive parts on one subject and put back together on arrival.
import type { MsgHdrs } from '@nats-io/transport-node';
import { nats } from './nats-loader';

export const PART = 'Harness-Part';

/** `data` cut into pieces of at most `limit` bytes, each with the header saying which it is. */
export function splitParts(data: Uint8Array, limit: number, base?: Record<string, string>): Array<{ data: Uint8Array; headers?: MsgHdrs }> {
  const withHeaders = (extra: Record<string, string>) => {
    const h = nats().headers();
    for (const [k, v] of Object.entries({ ...base, ...extra })) h.set(k, v);
    return h;
  };
  if (data.length <= limit) return [{ data, ...(base ? { headers: withHeaders({}) } : {}) }];
  const count = Math.ceil(data.length / limit);
  return Array.from({ length: count }, (_, i) => ({
    data: data.subarray(i * limit, (i + 1) * limit),
    headers: withHeaders({ [PART]: `${i + 1}/${count}` }),
  }));
}

/**
 * Collects parts by key until each message is whole. Parts of one message arrive in order (one
 * publisher, one subject); a message that stops coming is dropped after `maxAgeMs`.
 */
export class PartAssembler<K> {
  private readonly pending = new Map<K, { pieces: Uint8Array[]; count: number; since: number }>();

  constructor(private readonly maxAgeMs = 60_000) {}

  /** The whole message once its last part arrived (at once for a message in one piece), else undefined. */
  add(key: K, part: string | undefined, data: Uint8Array): Uint8Array | undefined {
    if (!part) return data;
    const m = /^(\d+)\/(\d+)$/.exec(part);
    if (!m) return undefined;
    const [index, count] = [Number(m[1]), Number(m[2])];
    let entry = this.pending.get(key);
    if (index === 1) {
      this.expire();
      entry = { pieces: [], count, since: Date.now() };
      this.pending.set(key, entry);
    }
    if (!entry || entry.count !== count || entry.pieces.length !== index - 1) {
      this.pending.delete(key);
      return undefined;
    }
    entry.pieces.push(data);
    if (entry.pieces.length < count) return undefined;
    this.pending.delete(key);
    return Buffer.concat(entry.pieces);
  }

  private expire(): void {
    const old = Date.now() - this.maxAgeMs;
    for (const [key, entry] of this.pending) if (entry.since < old) this.pending.delete(key);
  }
}

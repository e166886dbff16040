// The delivery ids already taken (GitHub's X-GitHub-Delivery, Standard Webhooks' webhook-id),
// kept durably so a redelivery creates nothing new. Bounded: ids older than a week are dropped
// (GitHub offers redelivery for a few days), and each shard keeps its newest 500.
import { iso, type Clock } from '../core/clock';
import type { Coordinator } from '../core/coordinator';
import { StateMap } from './state-map';

export const DELIVERY_PREFIX = 'webhooks/deliveries';
const WEEK_MS = 7 * 24 * 3600 * 1000;

export class DeliveryLedger {
  private readonly map: StateMap;

  constructor(
    coordinator: Coordinator,
    private readonly clock: Clock,
    private readonly maxAgeMs = WEEK_MS,
    private readonly perShard = 500,
  ) {
    this.map = new StateMap(coordinator, DELIVERY_PREFIX);
  }

  /** Whether `key` was recorded within the kept window. */
  seen(key: string): boolean {
    const at = this.map.get(key);
    return typeof at === 'string' && this.clock.now() - Date.parse(at) < this.maxAgeMs;
  }

  /** Records `key`; resolves once that is durable. */
  record(key: string): Promise<void> {
    const now = this.clock.now();
    return this.map.update(key, (shard) => {
      // The newest others, by time; the one being recorded is always kept, even among equal times.
      const others = Object.entries(shard)
        .filter(([k, at]) => k !== key && typeof at === 'string' && now - Date.parse(at) < this.maxAgeMs)
        .sort(([, a], [, b]) => String(b).localeCompare(String(a)))
        .slice(0, this.perShard - 1);
      for (const k of Object.keys(shard)) delete shard[k];
      Object.assign(shard, Object.fromEntries(others), { [key]: iso(now) });
    });
  }
}

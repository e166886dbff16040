// How many workers a target wants now, from what its workers are doing and how much ready work
// fits them. Pure: the supervisor observes, this decides.

/** A worker of the target as the supervisor sees it now. */
export interface SlotObservation {
  worker_id: string;
  /** Its slot number: among equals the highest slots stop first, so the lowest stay. */
  slot: number;
  /** starting: not registered yet (or not yet heard from); backoff: waiting to restart after a crash. */
  state: 'starting' | 'busy' | 'idle' | 'backoff';
  /** For an idle worker: for how long (ms). */
  idleMs?: number;
}

export interface ScalePolicy {
  min: number;
  max: number;
  idle_timeout_seconds: number;
}

export interface ScaleDecision {
  /** New workers to start. */
  add: number;
  /** Workers to stop (idle ones past the timeout, or the surplus over max). */
  stop: string[];
}

/** Which workers go first when there are more than max: those doing nothing first, busy ones last. */
const SURPLUS_ORDER: Record<SlotObservation['state'], number> = { backoff: 0, idle: 1, starting: 2, busy: 3 };

/**
 * Up toward max while ready tasks fit the target and none of its workers is idle (a starting
 * worker will take one of them); down to min once a worker has been idle for the idle timeout;
 * never below min nor above max.
 */
export function decideScale(policy: ScalePolicy, slots: readonly SlotObservation[], readyMatching: number): ScaleDecision {
  const n = slots.length;
  if (n > policy.max) {
    const surplus = [...slots].sort((a, b) => SURPLUS_ORDER[a.state] - SURPLUS_ORDER[b.state] || (b.idleMs ?? 0) - (a.idleMs ?? 0) || b.slot - a.slot);
    return { add: 0, stop: surplus.slice(0, n - policy.max).map((s) => s.worker_id) };
  }
  const idle = slots.filter((s) => s.state === 'idle');
  const starting = slots.filter((s) => s.state === 'starting').length;
  let add = Math.max(0, policy.min - n);
  if (idle.length === 0) add = Math.max(add, Math.min(policy.max - n, readyMatching - starting));
  if (add > 0) return { add, stop: [] };
  const timeoutMs = policy.idle_timeout_seconds * 1000;
  const expired = idle.filter((s) => (s.idleMs ?? 0) >= timeoutMs).sort((a, b) => (b.idleMs ?? 0) - (a.idleMs ?? 0) || b.slot - a.slot);
  return { add: 0, stop: expired.slice(0, Math.max(0, n - policy.min)).map((s) => s.worker_id) };
}

// The load process of the peers section: the same loop for every system. W worker connections in
// this one process, each looping claim → complete until the queue is empty. The clock runs from
// the first claim to the acknowledgement of the last task's completion; the run fails unless
// every task was completed exactly once.

import { makePlan } from '../core';
import { latency, type LatencyStats } from '../stats';
import type { ClaimedTask, Endpoint, PeerSystem, PeerWorker } from './system';

export interface PeerLoadArgs {
  system: string;
  endpoint: Endpoint;
  workers: number;
  tasks: number;
  /** One request per task: each completion takes the next task (systems with completeAndClaim only). */
  one_request?: boolean;
}

export interface PeerLoadResult {
  workers: number;
  /** Tasks completed, each exactly once. */
  tasks: number;
  preload_ms: number;
  wall_ms: number;
  tasks_per_s: number;
  claim: LatencyStats;
  complete: LatencyStats;
  loadgen_cpu_ms: number;
  /** Filled in by the parent: CPU of the system's server processes between "go" and "done". */
  server_cpu_ms?: number;
  /** Filled in by the parent: CPU the whole machine used between "go" and "done". */
  machine_cpu_ms?: number;
}

/**
 * Preloads, connects, then runs the loop. `mark` is told "go" when the clock starts and "done"
 * when it stops (the parent samples the servers' CPU time then; it reads them on stdout).
 */
export async function peerLoad(
  system: PeerSystem,
  args: PeerLoadArgs,
  mark: (line: 'go' | 'done') => void = (line) => process.stdout.write(`${line}\n`),
): Promise<PeerLoadResult> {
  const t = performance.now();
  await system.preload(args.endpoint, makePlan(args.tasks));
  const preloadMs = performance.now() - t;
  const workers = await Promise.all(Array.from({ length: args.workers }, (_, i) => system.connect(args.endpoint, i)));

  const claimMs: number[] = [];
  const completeMs: number[] = [];
  const completed = new Set<string>();
  // Set once every task is completed. A pull that waits for more work (JetStream's does: it
  // never answers "empty" at once) is then abandoned instead of awaited.
  let finished = false;
  let allCompleted!: () => void;
  const everyTaskCompleted = new Promise<void>((resolve) => (allCompleted = resolve));

  const loop = async (worker: PeerWorker) => {
    const completeAndClaim = args.one_request ? worker.completeAndClaim?.bind(worker) : undefined;
    if (args.one_request && !completeAndClaim) throw new Error(`${system.name} cannot complete and claim in one request`);
    // The task the last completion took, in one-request mode (null: none was left).
    let taken: ClaimedTask | null | undefined;
    try {
      while (!finished) {
        let t0 = performance.now();
        let task = taken;
        if (task === undefined) {
          task = await worker.claim();
          if (finished) return;
          claimMs.push(performance.now() - t0);
        }
        if (!task) return;
        t0 = performance.now();
        if (completeAndClaim) taken = await completeAndClaim(task);
        else await worker.complete(task);
        completeMs.push(performance.now() - t0);
        if (completed.has(task.id)) throw new Error(`${system.name}: task ${task.id} was completed twice`);
        completed.add(task.id);
        if (completed.size === args.tasks) {
          finished = true;
          allCompleted();
        }
      }
    } catch (e) {
      if (!finished) throw e; // after the end, closing the connections fails the abandoned pulls
    }
  };

  mark('go');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const loops = workers.map(loop);
  await Promise.race([Promise.all(loops), everyTaskCompleted]);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  mark('done');
  finished = true;
  // The loops still waiting on a claim are abandoned, not awaited: closing fails them or not.
  await Promise.allSettled(workers.map((w) => w.close()));

  return {
    workers: args.workers,
    tasks: completed.size,
    preload_ms: preloadMs,
    wall_ms: wall,
    tasks_per_s: (completed.size / wall) * 1000,
    claim: latency(claimMs),
    complete: latency(completeMs),
    loadgen_cpu_ms: (cpu.user + cpu.system) / 1000,
  };
}

// The primitives benchmark: file-lock latency and compare-and-set contention over the real Unix
// socket of a durable coordinator (startService: FileStore with fdatasync'd journal), driven by
// HarnessClient connections in this same process.
//  - lock: acquire + release of one path, one pair at a time (each is one durable write);
//  - CAS: C clients incrementing one shared-state key (get, then put with expected_version,
//    retried on CONFLICT) until N increments are in; increments/s and the share of puts refused.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HarnessClient } from '../src/client/client';
import { HarnessError } from '../src/core/errors';
import { silentLogger } from '../src/core/log';
import { startService } from '../src/server/service';
import type { BenchOptions, Section, SectionResult } from './section';
import { fmt, latency, num, summarize, type LatencyStats, type Table } from './stats';
import { LockAcquire, LockRelease } from '../src/protocol/locks';
import { StateGet, StatePut } from '../src/protocol/shared-state';

const LOCK_PAIRS = 1000;
const QUICK_LOCK_PAIRS = 200;
const CAS_CLIENTS = 8;
const CAS_INCREMENTS = 2000;
const QUICK_CAS_INCREMENTS = 300;

interface LockRun {
  pairs: number;
  pair: LatencyStats;
  acquire: LatencyStats;
  release: LatencyStats;
  pairs_per_s: number;
}

interface CasRun {
  clients: number;
  increments: number;
  puts: number;
  conflicts: number;
  conflict_ratio: number;
  increments_per_s: number;
  final_value: number;
}

async function withService<T>(fn: (socket: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harness-bench-prim-'));
  const service = await startService({ workspace: dir, socketPath: path.join(dir, 'h.sock'), log: silentLogger });
  try {
    return await fn(service.socketPath);
  } finally {
    await service.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function lockRun(pairs: number): Promise<LockRun> {
  return withService(async (socket) => {
    const client = await HarnessClient.connect(socket);
    try {
      const pair: number[] = [];
      const acquire: number[] = [];
      const release: number[] = [];
      for (let i = 0; i < 20; i++) {
        const { lock } = await client.call(LockAcquire, { worker_id: 'bench', path: 'warm-up' });
        await client.call(LockRelease, { worker_id: 'bench', token: lock.token });
      }
      const t0 = performance.now();
      for (let i = 0; i < pairs; i++) {
        const a = performance.now();
        const { lock } = await client.call(LockAcquire, { worker_id: 'bench', path: 'src/file.ts' });
        const b = performance.now();
        await client.call(LockRelease, { worker_id: 'bench', token: lock.token });
        const e = performance.now();
        acquire.push(b - a);
        release.push(e - b);
        pair.push(e - a);
      }
      const wall = performance.now() - t0;
      return { pairs, pair: latency(pair), acquire: latency(acquire), release: latency(release), pairs_per_s: (pairs / wall) * 1000 };
    } finally {
      client.close();
    }
  });
}

async function casRun(clients: number, increments: number): Promise<CasRun> {
  return withService(async (socket) => {
    const conns = await Promise.all(Array.from({ length: clients }, () => HarnessClient.connect(socket)));
    try {
      await conns[0]!.call(StatePut, { key: 'counter', value: 0 });
      let done = 0;
      let puts = 0;
      let conflicts = 0;
      const t0 = performance.now();
      await Promise.all(
        conns.map(async (client) => {
          while (done < increments) {
            const { value, version } = await client.call(StateGet, { key: 'counter' });
            puts++;
            try {
              await client.call(StatePut, { key: 'counter', value: (value as number) + 1, expected_version: version });
              done++;
            } catch (e) {
              if (!(e instanceof HarnessError) || e.code !== 'CONFLICT') throw e;
              conflicts++;
            }
          }
        }),
      );
      const wall = performance.now() - t0;
      const final = await conns[0]!.call(StateGet, { key: 'counter' });
      if (final.value !== done) throw new Error(`lost increments: counter is ${final.value} after ${done} successful puts`);
      return {
        clients,
        increments: done,
        puts,
        conflicts,
        conflict_ratio: conflicts / puts,
        increments_per_s: (done / wall) * 1000,
        final_value: final.value,
      };
    } finally {
      conns.forEach((c) => c.close());
    }
  });
}

async function runPrimitives(options: BenchOptions): Promise<SectionResult> {
  const log = (m: string) => process.stderr.write(`[primitives] ${m}\n`);
  const pairs = options.quick ? QUICK_LOCK_PAIRS : LOCK_PAIRS;
  const increments = options.quick ? QUICK_CAS_INCREMENTS : CAS_INCREMENTS;
  const locks: LockRun[] = [];
  const cas: CasRun[] = [];
  for (let r = 0; r < options.runs; r++) {
    locks.push(await lockRun(pairs));
    log(`lock run ${r + 1}: pair p50 ${num(locks.at(-1)!.pair.p50)} ms`);
    cas.push(await casRun(CAS_CLIENTS, increments));
    log(`CAS run ${r + 1}: ${num(cas.at(-1)!.increments_per_s)} increments/s, ${(cas.at(-1)!.conflict_ratio * 100).toFixed(1)}% conflicts`);
  }
  const ms = (xs: number[]) => fmt(summarize(xs), ' ms');
  const tables: Table[] = [
    {
      title: `File locks: ${pairs} acquire + release pairs of one path, one at a time, over the socket (median over ${options.runs} run(s))`,
      columns: ['', 'p50', 'p99', 'max'],
      rows: (['pair', 'acquire', 'release'] as const).map((k) => [
        k === 'pair' ? 'acquire + release' : k,
        ms(locks.map((l) => l[k].p50)),
        ms(locks.map((l) => l[k].p99)),
        ms(locks.map((l) => l[k].max)),
      ]),
      notes: [`pairs/s: ${fmt(summarize(locks.map((l) => l.pairs_per_s)))}; each acquire and each release is one durable (fdatasync'd) write`],
    },
    {
      title: `Compare-and-set: ${CAS_CLIENTS} clients incrementing one key (get, put with expected_version, retry on CONFLICT)`,
      columns: ['increments', 'increments/s', 'puts', 'conflict ratio'],
      rows: [
        [
          String(increments),
          fmt(summarize(cas.map((c) => c.increments_per_s))),
          fmt(summarize(cas.map((c) => c.puts))),
          fmt(summarize(cas.map((c) => c.conflict_ratio * 100)), ' %'),
        ],
      ],
      notes: ['conflict ratio = puts refused with CONFLICT / all puts; the final value equals the increments (checked)'],
    },
  ];
  return { tables, data: { locks, cas } };
}

export const primitivesSection: Section = {
  name: 'primitives',
  description: 'file-lock acquire/release latency and compare-and-set increments under contention, over the socket',
  run: runPrimitives,
};

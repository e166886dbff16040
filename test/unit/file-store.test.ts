import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ManualClock } from '../../src/core/clock';
import { Coordinator, DEFAULT_CONFIG } from '../../src/core/coordinator';
import { HarnessError } from '../../src/core/errors';
import { nodeFileOps, type FileOps } from '../../src/core/files';
import { encodeRecord } from '../../src/core/journal';
import { FileStore, JOURNAL_FILE, SNAPSHOT_FILE } from '../../src/core/file-store';
import { tempDir } from '../support/stores';

const enospc = (call: string) => Object.assign(new Error(`ENOSPC: no space left on device, ${call}`), { code: 'ENOSPC' });

/**
 * The real file layer with switches: `full` fails every write (the journal gets half the bytes
 * first, as a real short write would), `syncFails` fails fdatasync and snapshots, `crashed` stops
 * snapshots so that `close()` leaves the files exactly as a killed process would.
 */
class Disk {
  full = false;
  syncFails = false;
  crashed = false;
  /** When set, a failing journal write waits for it, so calls can pile up behind it. */
  gate: Promise<void> | undefined;
  onWrite: (() => void) | undefined;
  readonly ops: FileOps = {
    ...nodeFileOps,
    write: async (fd, data) => {
      this.onWrite?.();
      if (!this.full) return nodeFileOps.write(fd, data);
      await nodeFileOps.write(fd, data.subarray(0, data.length >> 1));
      await this.gate;
      throw enospc('write');
    },
    datasync: async (fd) => {
      if (this.syncFails || this.full) throw enospc('fdatasync');
      return nodeFileOps.datasync(fd);
    },
    writeAtomic: (file, data) => {
      this.onWrite?.();
      if (this.crashed || this.full || this.syncFails) throw enospc('write');
      nodeFileOps.writeAtomic(file, data);
    },
  };
}

/** Fails unless `p` rejects with a HarnessError with this code and, if given, message text. */
const rejects = (p: Promise<unknown>, code: string, message?: RegExp) =>
  assert.rejects(p, (e) => {
    assert.ok(e instanceof HarnessError, `expected a HarnessError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });

/** Everything a store holds, for comparing two of them. */
function contents(s: FileStore) {
  return { tasks: s.listTasks(), instances: s.listInstances(), counts: s.countTasks(), task_seq: s.getMeta('task_seq'), seq: s.sequence };
}

/** Bytes and times of every file in `dir` (stat with nanoseconds), to prove nothing was written. */
function fingerprint(dir: string) {
  return {
    listing: fs.readdirSync(dir).filter((n) => n !== 'owner.pid').sort(),
    files: [JOURNAL_FILE, SNAPSHOT_FILE].map((n) => {
      const st = fs.statSync(path.join(dir, n), { bigint: true });
      return { n, bytes: fs.readFileSync(path.join(dir, n)).toString('base64'), mtime: st.mtimeNs, ctime: st.ctimeNs };
    }),
  };
}

const journalSize = (dir: string) => fs.statSync(path.join(dir, JOURNAL_FILE)).size;

describe('FileStore durability', () => {
  let dir: string;
  let clock: ManualClock;
  let disk: Disk;
  const opened: FileStore[] = [];
  const open = async (o: { files?: FileOps; snapshotAfterBytes?: number; workers?: boolean } = {}) => {
    const s = await FileStore.open({ dir, workers: false, ...o });
    opened.push(s);
    return s;
  };
  const coordinator = (s: FileStore) => new Coordinator(s, { ...DEFAULT_CONFIG, instanceLimit: 0 }, clock);
  /** Leaves the files as a killed process would: nothing after the last acknowledged write. */
  const crash = (s: FileStore, d: Disk) => ((d.crashed = true), s.close().catch(() => {}));

  beforeEach(() => {
    dir = tempDir('harness-sqljs-');
    clock = new ManualClock();
    disk = new Disk();
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A bit of everything the coordinator writes. */
  async function workload(c: Coordinator, rounds: number): Promise<void> {
    await c.registerInstance({ worker_id: 'w1', capabilities: ['x'] });
    await c.registerInstance({ worker_id: 'w2' });
    for (let i = 0; i < rounds; i++) {
      await c.addTasks([{ id: `a${i}`, priority: i % 3 }, { id: `b${i}`, dependencies: [`a${i}`], payload: { i } }]);
      const { task } = await c.claim({ worker_id: 'w1' });
      if (i % 4 === 0) await c.fail({ worker_id: 'w1', task_id: task!.id, error: `boom ${i}` });
      else await c.complete({ worker_id: 'w1', task_id: task!.id, result: { i, s: 'ü\n"' } });
      clock.advance(1000);
      if (i % 5 === 0) await c.heartbeatInstance({ worker_id: 'w2' });
      if (i % 7 === 0) await c.cancel({ task_id: `b${i}` });
    }
    await c.claim({ worker_id: 'w2' });
    await c.deregisterInstance({ worker_id: 'w2' });
  }

  it('replays many transactions from the journal to exactly the state before', async () => {
    const w = await open({ files: disk.ops });
    await workload(coordinator(w), 40);
    const before = contents(w);
    assert.ok(journalSize(dir) > 0 && !fs.existsSync(path.join(dir, SNAPSHOT_FILE)), 'everything is in the journal');
    await crash(w, disk);
    const r = await open();
    assert.deepEqual(contents(r), before);
    assert.equal(r.stats.journal_records, before.seq);
    assert.equal(r.stats.snapshot_bytes, 0);
    await r.close(); // a clean close snapshots and empties the journal
    assert.equal(journalSize(dir), 0);
    const again = await open();
    assert.deepEqual(contents(again), before);
    assert.equal(again.stats.journal_records, 0);
  });

  it('rotates to a snapshot and an empty journal, keeping changes made before and after', async () => {
    const w = await open({ files: disk.ops, snapshotAfterBytes: 2000 });
    const c = coordinator(w);
    await c.addTasks([{ id: 't0', description: 'd'.repeat(100) }]);
    await c.claim({ worker_id: 'w' });
    let rotations = 0;
    // Renewals rewrite the same row: history, which snapshots fold away.
    for (let i = 0; i < 30; i++) {
      const size = journalSize(dir);
      await c.heartbeat({ worker_id: 'w', task_id: 't0' });
      if (journalSize(dir) < size) rotations++;
      assert.ok(journalSize(dir) < 2000 + 1500, 'the journal stays near the threshold');
    }
    assert.ok(rotations >= 2, `rotations: ${rotations}`);
    assert.ok(fs.statSync(path.join(dir, SNAPSHOT_FILE)).size > 0);
    await c.complete({ worker_id: 'w', task_id: 't0' });
    const before = contents(w);
    assert.equal(before.tasks.length, 1);
    await crash(w, disk);
    const r = await open();
    assert.deepEqual(contents(r), before);
    assert.ok(r.stats.snapshot_bytes > 0);
    const { journal_records: n } = r.stats;
    assert.ok(n >= 1 && n < 10, `only the records after the last snapshot are replayed (${n})`);
    assert.equal(coordinator(r).getTask('t0').status, 'completed');
  });

  /** Tasks a and b, a claimed, the process killed: everything in the journal. Returns what it held. */
  async function claimedThenKilled() {
    const w = await open({ files: disk.ops });
    const c = coordinator(w);
    await c.addTasks([{ id: 'a' }, { id: 'b' }]);
    await c.claim({ worker_id: 'w' });
    const before = contents(w);
    await crash(w, disk);
    return before;
  }

  it('snapshots a journal that is mostly history, not one that is a single large import', async () => {
    const w = await open({ files: disk.ops, snapshotAfterBytes: 2000 });
    const c = coordinator(w);
    await c.addTasks(Array.from({ length: 50 }, (_, i) => ({ id: `t${i}`, description: 'd'.repeat(100) })));
    await w.settled();
    assert.ok(journalSize(dir) > 2000 * 5, 'the import alone is far past the threshold');
    assert.ok(!fs.existsSync(path.join(dir, SNAPSHOT_FILE)), 'yet it is the state itself: no snapshot');
    let claims = 0;
    while (!fs.existsSync(path.join(dir, SNAPSHOT_FILE))) {
      const { task } = await c.claim({ worker_id: 'w' });
      await c.complete({ worker_id: 'w', task_id: task!.id });
      claims++;
      await w.settled();
    }
    // 51 changes imported (50 tasks and the sequence), 2 per claim and complete, against 51 rows.
    assert.equal(claims, 26, 'a snapshot once the journal holds twice as many changes as rows');
    const before = contents(w);
    await crash(w, disk);
    assert.deepEqual(contents(await open()), before);
  });

  it('drops a torn last record, truncates it away, and appends after the intact part', async () => {
    const before = await claimedThenKilled();
    const intact = journalSize(dir);
    const torn = encodeRecord({ s: before.seq + 1, c: [{ op: 'task', row: { ...before.tasks[0]!, id: 'ghost' } }] });
    fs.appendFileSync(path.join(dir, JOURNAL_FILE), torn.slice(0, 60));

    const r = await open({ files: (disk = new Disk()).ops });
    assert.equal(r.stats.torn_bytes_dropped, 60);
    assert.equal(journalSize(dir), intact, 'the torn bytes are cut off the file');
    assert.deepEqual(contents(r), before);
    await coordinator(r).addTasks([{ id: 'after' }]);
    await crash(r, disk);
    const again = await open();
    assert.equal(again.stats.torn_bytes_dropped, 0);
    assert.deepEqual(again.listTasks().map((t) => t.id), ['a', 'b', 'after']);
  });

  async function damagedState(): Promise<void> {
    const w = await open();
    await coordinator(w).addTasks([{ id: 'a' }]);
    await w.close(); // state.db now holds `a`
    const w2 = await open({ files: disk.ops });
    for (const id of ['b', 'c', 'd']) await coordinator(w2).addTasks([{ id }]);
    await crash(w2, disk); // the journal holds b, c, d
  }

  for (const [what, content] of [
    ['garbage', Buffer.from('not a database '.repeat(500))],
    ['an empty file', Buffer.alloc(0)],
  ] as const) {
    it(`refuses a snapshot that is ${what} with STATE_CORRUPT and leaves the files alone`, async () => {
      await damagedState();
      fs.writeFileSync(path.join(dir, SNAPSHOT_FILE), content);
      const before = fingerprint(dir);
      for (let i = 0; i < 2; i++) await rejects(open(), 'STATE_CORRUPT', /state\.db cannot be read/);
      assert.deepEqual(fingerprint(dir), before);
      assert.ok(!fs.existsSync(path.join(dir, 'owner.pid')), 'a failed open releases the lock');
    });
  }

  it('refuses a journal damaged in the middle with STATE_CORRUPT and leaves the files alone', async () => {
    await damagedState();
    const file = path.join(dir, JOURNAL_FILE);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[1] = lines[1]!.replace('"id":"c"', '"id":"C"');
    fs.writeFileSync(file, lines.join('\n'));
    const before = fingerprint(dir);
    await rejects(open(), 'STATE_CORRUPT', /journal\.log is damaged at record 2 \(checksum mismatch\)/);
    assert.deepEqual(fingerprint(dir), before);
  });

  it('opens what the first release left (snapshot without checksum, journal records without a format); the next snapshot has one', async () => {
    const fixture = path.join(__dirname, '..', 'fixtures', 'legacy-state');
    fs.copyFileSync(path.join(fixture, 'state.db'), path.join(dir, SNAPSHOT_FILE));
    fs.copyFileSync(path.join(fixture, 'journal.log.txt'), path.join(dir, JOURNAL_FILE));
    const messages: string[] = [];
    const s = await FileStore.open({ dir, workers: false, log: (_l, m) => messages.push(m) });
    opened.push(s);
    assert.deepEqual(s.listTasks().map((t) => [t.id, t.status, t.description]), [
      ['a', 'completed', 'legacy a'],
      ['b', 'pending', 'legacy b'],
      ['c', 'pending', 'legacy c'],
    ]);
    assert.deepEqual(s.primitives.state('cfg')?.value, { x: 1 });
    assert.equal(s.stats.journal_records, 2);
    assert.ok(messages.some((m) => /carries no checksum/.test(m)), messages.join('\n'));
    const c = coordinator(s);
    assert.equal((await c.claim({ worker_id: 'w2' })).task!.id, 'b', 'the legacy meta (task_seq) and indexes work on');
    await c.addTasks([{ id: 'd' }]);
    assert.equal(c.getTask('d').status, 'pending');
    await s.close();
    const bytes = fs.readFileSync(path.join(dir, SNAPSHOT_FILE));
    assert.equal(bytes.readUInt32BE(68), 0x41484e53, 'the new snapshot is marked as checksummed');
    const again = await open();
    assert.deepEqual(again.listTasks().map((t) => t.id), ['a', 'b', 'c', 'd']);
  });

  it('refuses a snapshot with a byte changed inside a row, and one with a damaged page, naming the checksum; files kept', async () => {
    await damagedState();
    const file = path.join(dir, SNAPSHOT_FILE);
    const clean = fs.readFileSync(file);
    const rowAt = clean.indexOf('"id":"a"');
    assert.ok(rowAt > 0);
    const pageSize = clean.readUInt16BE(16);
    for (const [what, harm] of [
      ['a byte in a row', (b: Buffer) => (b[rowAt + 7] = 'A'.charCodeAt(0))],
      ['4 bytes of a page', (b: Buffer) => b.writeUInt32BE(0xdeadbeef, Math.floor(rowAt / pageSize) * pageSize + 8)],
    ] as const) {
      const bytes = Buffer.from(clean);
      harm(bytes);
      fs.writeFileSync(file, bytes);
      const before = fingerprint(dir);
      await rejects(open(), 'STATE_CORRUPT', /state\.db cannot be read \(checksum mismatch/);
      assert.deepEqual(fingerprint(dir), before, what);
    }
  });

  it('refuses a journal record of a newer format, saying a newer version wrote it', async () => {
    const w = await open({ files: disk.ops });
    await coordinator(w).addTasks([{ id: 'a' }]);
    await crash(w, disk);
    const json = JSON.stringify({ v: 2, s: 2, c: [] });
    fs.appendFileSync(path.join(dir, JOURNAL_FILE), encodeRecord(JSON.parse(json)));
    await rejects(open(), 'STATE_CORRUPT', /record 2 has format 2, newer than this program reads \(1\): it was written by a newer Agent Harness/);
  });

  it('a snapshot interrupted by a crash (a sealed journal left behind) is replayed at open and finished in the background', async () => {
    const before = await claimedThenKilled();
    // What a kill between sealing the journal and finishing the snapshot leaves.
    fs.renameSync(path.join(dir, JOURNAL_FILE), path.join(dir, 'journal-000000000001.log'));
    const r = await open();
    assert.deepEqual(contents(r), before);
    await r.settled();
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('journal')).sort(), [JOURNAL_FILE], 'the sealed journal was folded in');
    assert.ok(fs.existsSync(path.join(dir, SNAPSHOT_FILE)));
    await crash(r, disk);
    assert.deepEqual(contents(await open()), before);
  });

  it('snapshots made in a worker thread while writes go on hold exactly what was acknowledged', async () => {
    const w = await open({ workers: true, snapshotAfterBytes: 3000 });
    const c = coordinator(w);
    for (let i = 0; i < 40; i++) {
      await c.addTasks([{ id: `t${i}`, description: 'd'.repeat(200) }]);
      if (i % 3 === 0) await c.claim({ worker_id: 'w' });
    }
    await w.settled();
    const sealed = fs.readdirSync(dir).filter((n) => /^journal-\d+\.log$/.test(n));
    assert.deepEqual(sealed, [], 'every sealed journal was folded into the snapshot');
    const before = contents(w);
    await crash(w, disk);
    const r = await open({ workers: true });
    assert.deepEqual(contents(r), before);
    assert.ok(r.stats.snapshot_bytes > 0, 'opened from a snapshot');
    assert.ok(r.stats.journal_records < before.seq, `only the records after it replayed: ${JSON.stringify(r.stats)}`);
  });

  it('reads never write: not on open, not in reads, not in a claim that finds nothing, not on close', async () => {
    const w = await open({ files: disk.ops });
    const c = coordinator(w);
    await c.addTasks([{ id: 'gpu1', capabilities: ['gpu'] }, { id: 'gpu2', capabilities: ['gpu'], dependencies: ['gpu1'] }]);
    await c.registerInstance({ worker_id: 'w1' });
    await c.close();
    const w2 = await open({ files: disk.ops });
    await coordinator(w2).addTasks([{ id: 'later', capabilities: ['gpu'] }]);
    await crash(w2, disk); // state.db and a non-empty journal

    const readEverything = async () => {
      const s = await open();
      const r = coordinator(s);
      assert.deepEqual([s.getTask('gpu1')?.id, s.listTasks('pending').length, s.countTasks().pending], ['gpu1', 3, 3]);
      assert.deepEqual([s.listInstances().length, s.dependents('gpu1'), r.getTask('gpu2').status], [1, ['gpu2'], 'pending']);
      assert.deepEqual([r.listTasks().length, r.listInstances()[0]!.worker_id, r.summary().ready], [3, 'w1', 2]);
      assert.deepEqual(r.listTaskPage({ limit: 2, cursor: '1' }).tasks.map((t) => t.id), ['gpu2', 'later']);
      assert.deepEqual(await r.claim({ worker_id: 'w9', capabilities: [] }), { task: null, is_retry: false, is_reclaim: false });
      assert.deepEqual(await r.sweep(), { stale: [], expired: [] });
      return s;
    };
    let before = fingerprint(dir);
    const s = await readEverything(); // the journal is not empty here
    assert.deepEqual(fingerprint(dir), before);
    await s.close(); // compacts the journal it found: a write, but by close, not by a read
    before = fingerprint(dir);
    await (await readEverything()).close();
    assert.deepEqual(fingerprint(dir), before);
  });

  it('takes over a lock left by a dead process; refuses one held by a live process, naming it', async () => {
    const lock = path.join(dir, 'owner.pid');
    fs.writeFileSync(lock, '2147483');
    const s = await open();
    assert.equal(fs.readFileSync(lock, 'utf8'), String(process.pid));
    await s.close();
    assert.ok(!fs.existsSync(lock), 'close releases the lock');
    fs.writeFileSync(lock, String(process.ppid)); // alive, and not us
    await rejects(open(), 'STATE_LOCKED', new RegExp(`in use by another coordinator \\(pid ${process.ppid}\\)`));
    assert.equal(fs.readFileSync(lock, 'utf8'), String(process.ppid), 'the owner’s lock is left alone');
  });

  for (const fault of ['full', 'syncFails'] as const) {
    for (const snapshotAfterBytes of [undefined, 1]) {
      it(`on a failed write (${fault}, ${snapshotAfterBytes ? 'snapshot every other write' : 'journal'}): rejects, recovers, keeps exactly what was acknowledged`, async () => {
        const s = await open({ files: disk.ops, snapshotAfterBytes });
        const c = coordinator(s);
        await c.addTasks([{ id: 'a', capabilities: ['cpu'] }, { id: 'b', capabilities: ['cpu'] }]);
        await c.claim({ worker_id: 'w', capabilities: ['cpu'] });
        const acknowledged = contents(s);

        disk[fault] = true;
        await rejects(c.addTasks([{ id: 'x' }]), 'STORAGE_ERROR', /ENOSPC.*it was not applied/);
        assert.deepEqual(contents(s), acknowledged, 'the unacknowledged add is gone');
        // Two calls in one batch, and one more queued while the failing write is in flight.
        let release!: () => void;
        disk.gate = new Promise((r) => (release = r));
        const started = new Promise<void>((r) => (disk.onWrite = r));
        const batch = [c.complete({ worker_id: 'w', task_id: 'a' }), c.addTasks([{ id: 'y' }])];
        await started;
        batch.push(c.addTasks([{ id: 'z' }]));
        release();
        for (const p of batch) await rejects(p, 'STORAGE_ERROR');
        disk.onWrite = disk.gate = undefined;
        // Still failing: every call is refused, reads go on working.
        for (let i = 0; i < 3; i++) await rejects(c.registerInstance({ worker_id: `w${i}` }), 'STORAGE_ERROR');
        assert.deepEqual(contents(s), acknowledged);
        assert.equal(c.getTask('a').status, 'running');
        assert.equal((await c.claim({ worker_id: 'nobody', capabilities: [] })).task, null, 'a claim that writes nothing works');

        disk[fault] = false;
        assert.equal((await c.claim({ worker_id: 'nobody', capabilities: [] })).task, null);
        assert.equal((await c.complete({ worker_id: 'w', task_id: 'a' })).status, 'completed');
        await c.addTasks([{ id: 'x' }]);
        await c.registerInstance({ worker_id: 'w1' });
        const final = contents(s);
        assert.deepEqual(final.tasks.map((t) => [t.id, t.status]), [['a', 'completed'], ['b', 'pending'], ['x', 'pending']]);
        assert.deepEqual(final.instances.map((i) => i.worker_id), ['w1']);

        await crash(s, disk);
        assert.deepEqual(contents(await open()), final, 'the disk holds exactly the acknowledged changes');
      });
    }
  }
});

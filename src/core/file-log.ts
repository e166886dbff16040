import * as path from 'node:path';
import type { DurabilityLog, LoadResult, LogEntry } from './durability';
import { describeError } from './errors';
import type { FileOps } from './files';
import { frameRecords } from './journal';
import { JOURNAL_FILE, journalFiles, replayJournals, sealedJournalName } from './journal-files';
import { compact } from './compaction';
import { SNAPSHOT_FILE } from './snapshot';
import { compactSealed, readSnapshot } from './snapshot-jobs';
import type { Change } from './store';

export interface FileLogOptions {
  /** The state directory, prepared (state-dir.ts) and locked by the caller. */
  dir: string;
  files: FileOps;
  /** Start a new snapshot once the journal grows past this. */
  snapshotAfterBytes: number;
  /** Write snapshots in a worker thread (else in this one, as tests with injected file faults need). */
  workers: boolean;
  log: (level: 'info' | 'warn' | 'error', message: string) => void;
}

/**
 * The durability log on local files: records appended to `journal.log`, each group of them made
 * durable by one fdatasync; a snapshot (`state.db`, snapshot.ts) stands for every record up to
 * its number. When the journal passes `snapshotAfterBytes` it is sealed (renamed to
 * `journal-<first record>.log`, a fresh `journal.log` takes the appends) and a worker folds the
 * sealed journals into a new snapshot, then removes them. Opening reads the snapshot and
 * replays every journal after it.
 */
export class FileLog implements DurabilityLog {
  private fd = -1;
  /** Bytes of the active journal known to be on disk. */
  private journalBytes = 0;
  /** The first record in the active journal (names it when it is sealed). */
  private activeFirstSeq: number | undefined;
  /** Changes in the active journal: against the rows held, how much of it is superseded. */
  private journalChanges = 0;
  /** A failed append may have left bytes past `journalBytes`: cut them before the next one. */
  private dirty = false;
  private compaction: Promise<void> | undefined;

  liveRows?: () => number;

  constructor(private readonly options: FileLogOptions) {}

  private get snapshotPath(): string {
    return path.join(this.options.dir, SNAPSHOT_FILE);
  }
  private get journalPath(): string {
    return path.join(this.options.dir, JOURNAL_FILE);
  }

  async load(apply: (change: Change) => void): Promise<LoadResult> {
    const started = performance.now();
    const { files, dir, log } = this.options;
    const snapshot = files.readFile(this.snapshotPath);
    const snapshotBytes = snapshot?.length ?? 0;
    let seq = 0;
    if (snapshot) {
      const contents = await readSnapshot(snapshot, this.snapshotPath, apply);
      seq = contents.seq;
      if (!contents.checked) log('info', `${this.snapshotPath} carries no checksum (an earlier version wrote it); the next snapshot will`);
    }
    const { sealed, active } = journalFiles(dir, files);
    let changes = 0;
    const replay = replayJournals([...sealed, active], files, seq, (r) => {
      r.c.forEach(apply);
      changes += r.c.length;
    }, active);
    this.fd = files.openAppend(active);
    if (replay.tornBytes > 0) {
      log('warn', `dropped ${replay.tornBytes} bytes of an incomplete last journal record (a crash mid-write)`);
      files.truncate(this.fd, replay.activeLength);
    }
    this.journalBytes = replay.activeLength;
    this.journalChanges = changes;
    this.activeFirstSeq = replay.activeFirstSeq;
    // A snapshot that a crash interrupted: finish it.
    if (sealed.length > 0) this.startCompaction();
    return {
      seq: replay.seq,
      stats: {
        snapshot_bytes: snapshotBytes,
        journal_records: replay.records,
        torn_bytes_dropped: replay.tornBytes,
        open_ms: performance.now() - started,
      },
    };
  }

  async append(entries: readonly LogEntry[]): Promise<void> {
    const { files } = this.options;
    if (this.dirty) {
      files.truncate(this.fd, this.journalBytes);
      this.dirty = false;
    }
    const data = frameRecords(entries.map((e) => e.json));
    try {
      await files.write(this.fd, data);
      await files.datasync(this.fd);
      // Synced into a file someone deleted (the state directory removed under us) is not
      // saved: nothing of it would be there after a restart.
      if (files.linked && !files.linked(this.fd)) {
        throw new Error(`the journal ${this.journalPath} was deleted while in use (was ${this.options.dir} removed?)`);
      }
    } catch (e) {
      this.dirty = true;
      throw e;
    }
    this.journalBytes += data.length;
    for (const e of entries) this.journalChanges += e.changes;
    this.activeFirstSeq ??= entries[0]?.seq;
    if (this.snapshotDue()) this.seal();
  }

  /**
   * A snapshot pays once the journal is large and mostly history: at least twice as many changes
   * in it as rows in the state, so at least half of it is superseded. A journal that is one big
   * plan import is the state itself: folding it into a snapshot would cost a worker hundreds of
   * megabytes and save no start-up time.
   */
  private snapshotDue(): boolean {
    if (this.compaction || this.journalBytes < this.options.snapshotAfterBytes) return false;
    const rows = this.liveRows?.();
    return rows === undefined || this.journalChanges >= 2 * rows;
  }

  /**
   * Seals the active journal and starts a snapshot of everything up to its end. Between two
   * appends, so nothing is in flight; a failure leaves the journal as it was, appends go on.
   */
  private seal(): void {
    const { files, dir, log } = this.options;
    const sealed = path.join(dir, sealedJournalName(this.activeFirstSeq ?? 0));
    let fd = -1;
    try {
      files.rename(this.journalPath, sealed);
      try {
        fd = files.openAppend(this.journalPath);
        // The rename and the new file must both be on disk before a record goes into the new one.
        files.syncDirectory(dir);
      } catch (e) {
        if (fd >= 0) files.close(fd);
        files.rename(sealed, this.journalPath);
        throw e;
      }
    } catch (e) {
      log('warn', `could not start a snapshot (${describeError(e)}); the journal goes on growing`);
      return;
    }
    files.close(this.fd);
    this.fd = fd;
    this.journalBytes = 0;
    this.journalChanges = 0;
    this.activeFirstSeq = undefined;
    this.startCompaction();
  }

  private startCompaction(): void {
    const { files, dir, log, workers } = this.options;
    this.compaction = compactSealed(dir, files, workers).then(
      (r) => log('info', `snapshot written: record ${r.seq}, ${r.records} records folded in, ${(r.bytes / 1024 / 1024).toFixed(1)} MB in ${r.ms.toFixed(0)} ms`),
      (e) => log('error', `could not write a snapshot (${describeError(e)}); the journals are kept and replayed at the next start`),
    ).finally(() => (this.compaction = undefined));
  }

  settled(): Promise<void> {
    return this.compaction ?? Promise.resolve();
  }

  /** Waits for a snapshot in progress, then folds every journal into one more (a fast start next time). */
  async close(): Promise<void> {
    const { files, dir } = this.options;
    await this.compaction;
    try {
      if (!this.dirty && (this.journalBytes > 0 || journalFiles(dir, files).sealed.length > 0)) {
        await compact(dir, files, { includeActive: true });
        files.truncate(this.fd, 0);
        this.journalBytes = 0;
        this.journalChanges = 0;
      }
    } finally {
      if (this.fd >= 0) files.close(this.fd);
      this.fd = -1;
    }
  }
}

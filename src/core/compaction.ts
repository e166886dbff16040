// Compaction: the snapshot on disk plus the sealed journals after it, folded into a new snapshot,
// then the sealed journals removed. It reads only files (what is durable), never the state in
// memory, so it runs in a worker thread (snapshot-jobs.ts) while the coordinator goes on
// answering: the request path pays nothing for it. At a clean stop it runs in place and takes the
// active journal too.
import * as path from 'node:path';
import type { FileOps } from './files';
import { journalFiles, replayJournals } from './journal-files';
import { SNAPSHOT_FILE, SnapshotWriter } from './snapshot';

export interface CompactionResult {
  /** The record the snapshot now stands for. */
  seq: number;
  /** Records folded in (0: nothing to do; the snapshot was not rewritten). */
  records: number;
  bytes: number;
  ms: number;
}

/**
 * Folds the sealed journals (with `includeActive`, the active one too: only when nothing appends
 * to it any more) into `state.db`, written atomically, then removes the sealed journals. Damage
 * in what it reads is STATE_CORRUPT and leaves every file as it was.
 */
export async function compact(dir: string, files: FileOps, options: { includeActive: boolean }): Promise<CompactionResult> {
  const started = performance.now();
  const snapshotPath = path.join(dir, SNAPSHOT_FILE);
  const { sealed, active } = journalFiles(dir, files);
  const writer = await SnapshotWriter.open(files.readFile(snapshotPath), snapshotPath);
  try {
    const from = writer.seq;
    const sources = options.includeActive ? [...sealed, active] : sealed;
    const { seq, records } = replayJournals(sources, files, from, (r) => r.c.forEach((c) => writer.apply(c)), active);
    let bytes = 0;
    if (records > 0) {
      const image = writer.finish(seq);
      bytes = image.length;
      files.writeAtomic(snapshotPath, image);
    }
    if (sealed.length > 0) {
      for (const file of sealed) files.remove(file);
      files.syncDirectory(dir);
    }
    return { seq, records, bytes, ms: performance.now() - started };
  } finally {
    writer.close();
  }
}

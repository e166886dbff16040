// Snapshots of a cluster's state: the same checksummed sql.js image the file log writes
// (core/snapshot.ts), stored in a JetStream object store (an image outgrows a key-value entry),
// with a pointer to the current one in a key-value bucket. The pointer only ever moves forward
// (compare-and-set on its revision), so a coordinator that lost leadership mid-snapshot cannot put
// an older image back; the stream is trimmed only after the pointer has moved.
import type { KV } from '@nats-io/kv';
import type { ObjectStore } from '@nats-io/obj';
import { ErrorCode, HarnessError } from '../core/errors';
import { casFailed } from './connection';
import { SNAPSHOT_KEY } from './names';

export interface SnapshotPointer {
  /** The record the image stands for. */
  seq: number;
  /** Its name in the object store. */
  object: string;
  bytes: number;
  written_by: string;
  at: string;
}

export class SnapshotStore {
  constructor(
    private readonly meta: KV,
    private readonly objects: ObjectStore,
    /** A read with no part arriving for this long gives up (it is tried again). */
    private readonly stallMs = 30_000,
  ) {}

  /** The current snapshot's pointer and its revision, or undefined when none was written yet. */
  async current(): Promise<{ pointer: SnapshotPointer; revision: number } | undefined> {
    const entry = await this.meta.get(SNAPSHOT_KEY);
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    return { pointer: entry.json<SnapshotPointer>(), revision: entry.revision };
  }

  /**
   * The image `pointer` names. A missing one was replaced by a newer snapshot meanwhile. The object
   * store's reader waits for parts as long as it takes, also for parts of an image deleted while
   * it reads (a newer snapshot replaced it): a watch on the object gives up on an image that is
   * gone or replaced, and on one of which no part arrived for `stallMs`. Either is tried again.
   */
  async read(pointer: SnapshotPointer): Promise<Uint8Array> {
    const gone = (why = 'a newer one replaced it') =>
      new HarnessError(ErrorCode.NotFound, `snapshot ${pointer.object} is gone (${why})`, { snapshot: pointer.object });
    const result = await this.objects.get(pointer.object);
    if (!result) throw gone();
    const { nuid } = result.info;
    const reader = result.data.getReader();
    let stopped: HarnessError | undefined;
    let progress = Date.now();
    let checking = false;
    const stalled = () => {
      if (Date.now() - progress > this.stallMs) stopped ??= gone(`no part of it arrived for ${this.stallMs / 1000} s`);
    };
    const watch = setInterval(() => {
      if (checking) return;
      checking = true;
      this.objects
        .info(pointer.object)
        .then((info) => (!info || info.deleted || info.nuid !== nuid ? (stopped ??= gone()) : stalled()), stalled)
        .finally(() => {
          checking = false;
          if (stopped) reader.cancel().catch(() => {});
        });
    }, Math.min(1000, this.stallMs / 2));
    const chunks: Uint8Array[] = [];
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (stopped) throw stopped;
        if (done) break;
        chunks.push(value);
        progress = Date.now();
      }
      const failed = await result.error;
      if (failed) throw failed;
    } finally {
      clearInterval(watch);
    }
    return Buffer.concat(chunks);
  }

  /**
   * Stores `image` (the state at record `seq`) and makes it current if it is newer than the
   * current one. Returns false when a newer snapshot won; the image is then removed again.
   */
  async publish(image: Uint8Array, seq: number, node: string): Promise<boolean> {
    const object = `snapshot-${seq}`;
    await this.objects.putBlob({ name: object }, image);
    const pointer: SnapshotPointer = { seq, object, bytes: image.length, written_by: node, at: new Date().toISOString() };
    const before = await this.current();
    let moved = false;
    if (!before || before.pointer.seq < seq) {
      try {
        if (before) await this.meta.update(SNAPSHOT_KEY, JSON.stringify(pointer), before.revision);
        else await this.meta.create(SNAPSHOT_KEY, JSON.stringify(pointer));
        moved = true;
      } catch (e) {
        // Another coordinator moved the pointer first: its snapshot stands.
        if (!casFailed(e)) throw e;
      }
    }
    // The image that is not current any more goes (a reader still fetching it starts over).
    const stale = moved ? before?.pointer.object : object;
    if (stale !== undefined && !(moved === false && before?.pointer.object === object)) {
      await this.objects.delete(stale).catch(() => {});
    }
    return moved;
  }
}

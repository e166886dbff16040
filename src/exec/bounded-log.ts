/**
 * Keeps only the last `maxBytes` bytes of an unbounded byte stream, in a ring buffer, so memory
 * stays fixed however much a process prints. Counts what it had to drop.
 */
export class BoundedLog {
  private buf = Buffer.alloc(0);
  private start = 0;
  private size = 0;
  private total = 0;

  constructor(readonly maxBytes: number) {
    if (!Number.isInteger(maxBytes) || maxBytes < 1) {
      throw new RangeError(`BoundedLog: maxBytes must be a positive integer, got ${maxBytes}`);
    }
  }

  /** Bytes ever appended. */
  get totalBytes(): number {
    return this.total;
  }

  /** Bytes currently kept (at most `maxBytes`). */
  get keptBytes(): number {
    return this.size;
  }

  /** Bytes appended but no longer kept. */
  get droppedBytes(): number {
    return this.total - this.size;
  }

  append(chunk: Uint8Array | string): void {
    const data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (data.length === 0) return;
    this.total += data.length;
    if (data.length >= this.maxBytes) {
      if (this.buf.length < this.maxBytes) this.buf = Buffer.alloc(this.maxBytes);
      this.buf.set(data.subarray(data.length - this.maxBytes), 0);
      this.start = 0;
      this.size = this.maxBytes;
      return;
    }
    // Grow lazily so a run that prints little does not pay for a large limit.
    this.grow(Math.min(this.maxBytes, this.size + data.length));
    const cap = this.buf.length;
    const end = (this.start + this.size) % cap;
    const first = Math.min(data.length, cap - end);
    this.buf.set(data.subarray(0, first), end);
    this.buf.set(data.subarray(first), 0);
    const overwritten = Math.max(0, this.size + data.length - cap);
    this.size += data.length - overwritten;
    this.start = (this.start + overwritten) % cap;
  }

  /** The kept bytes, oldest first. */
  bytes(): Buffer {
    const out = Buffer.alloc(this.size);
    this.copyInto(out);
    return out;
  }

  /** The kept bytes decoded as UTF-8. */
  toString(): string {
    const bytes = this.bytes();
    let from = 0;
    // Dropping the head may have cut a multibyte character: skip its orphaned continuation bytes
    // rather than show U+FFFD.
    if (this.droppedBytes > 0) {
      while (from < 3 && from < bytes.length && (bytes[from] & 0xc0) === 0x80) from++;
    }
    return bytes.toString('utf8', from);
  }

  private grow(needed: number): void {
    if (needed <= this.buf.length) return;
    const next = Buffer.alloc(Math.min(this.maxBytes, Math.max(needed, this.buf.length * 2)));
    this.copyInto(next);
    this.buf = next;
    this.start = 0;
  }

  private copyInto(target: Buffer): void {
    const firstPart = Math.min(this.size, this.buf.length - this.start);
    this.buf.copy(target, 0, this.start, this.start + firstPart);
    this.buf.copy(target, firstPart, 0, this.size - firstPart);
  }
}

import { randomUUID } from 'node:crypto';
import { ErrorCode, HarnessError } from '../core/errors';

/**
 * A plan too big for one request line arrives in pieces (`plan_stage`) and is imported by one
 * `plan_import {stage_id}`, so it is still all or nothing. Staged text is bounded in size,
 * count and age: it is memory a client could otherwise pin.
 */
export class PlanStaging {
  private readonly stages = new Map<string, { pieces: string[]; bytes: number; touched: number }>();

  constructor(
    private readonly maxBytes = 256 * 1024 * 1024,
    private readonly maxStages = 8,
    private readonly ttlMs = 10 * 60_000,
  ) {}

  append(stageId: string | undefined, data: string, now = Date.now()): { stage_id: string; bytes: number } {
    this.expire(now);
    let id = stageId;
    if (id === undefined) {
      if (this.stages.size >= this.maxStages) {
        throw new HarnessError(ErrorCode.Conflict, `too many plans being staged at once (${this.maxStages}); try again shortly`);
      }
      id = `stage-${randomUUID()}`;
      this.stages.set(id, { pieces: [], bytes: 0, touched: now });
    }
    const stage = this.stages.get(id);
    if (!stage) throw new HarnessError(ErrorCode.NotFound, `plan stage ${id} does not exist (it expires after ${this.ttlMs / 60_000} minutes)`);
    stage.bytes += Buffer.byteLength(data);
    if (stage.bytes > this.maxBytes) {
      this.stages.delete(id);
      throw new HarnessError(ErrorCode.InvalidArgument, `plan is larger than ${this.maxBytes / 1024 / 1024} MiB; split it into several plans`);
    }
    stage.pieces.push(data);
    stage.touched = now;
    return { stage_id: id, bytes: stage.bytes };
  }

  /** The staged text, removed from staging. */
  take(stageId: string): string {
    const stage = this.stages.get(stageId);
    if (!stage) throw new HarnessError(ErrorCode.NotFound, `plan stage ${stageId} does not exist (it expires after ${this.ttlMs / 60_000} minutes)`);
    this.stages.delete(stageId);
    return stage.pieces.join('');
  }

  private expire(now: number): void {
    for (const [id, stage] of this.stages) if (now - stage.touched > this.ttlMs) this.stages.delete(id);
  }
}

// Versioned shared state: JSON values under string keys, each write a new version. A write may
// name the version it expects (compare-and-set); a mismatch is a CONFLICT carrying the current
// version. The last `stateHistoryLimit` versions of each key are kept, older ones dropped in the
// same transaction. A delete is a version too (a tombstone), so versions never repeat.
import type { ParsedParamsOf } from '../protocol/command';
import type { StateDelete, StateGet, StateHistory, StateList, StatePut } from '../protocol/shared-state';
import { ErrorCode, HarnessError } from './errors';
import type { Json } from './model';
import { commit, durableRead, nowIso, type PrimitiveContext, type PrimitiveTx } from './prim-context';
import type { StateVersion } from './primitive-store';

export interface StateEntry {
  key: string;
  value: Json;
  version: number;
  updated_at: string;
  updated_by: string | null;
}

const entry = ({ key, value, version, updated_at, updated_by }: StateVersion): StateEntry => ({ key, value, version, updated_at, updated_by });

export class SharedState {
  constructor(private readonly ctx: PrimitiveContext) {}

  /** The current value and version; NOT_FOUND (with the version a create must expect: 0) when absent. */
  async get({ key }: ParsedParamsOf<typeof StateGet>): Promise<StateEntry> {
    const row = await durableRead(this.ctx, () => this.ctx.store.primitives.state(key));
    if (!row || row.deleted) {
      throw new HarnessError(ErrorCode.NotFound, `state key ${JSON.stringify(key)} does not exist`, { key, version: 0 });
    }
    return entry(row);
  }

  async put(p: ParsedParamsOf<typeof StatePut>): Promise<{ key: string; version: number; updated_at: string }> {
    return commit(this.ctx, (tx) => {
      const current = this.check(p.key, p.expected_version);
      const row = this.write(tx, { key: p.key, value: p.value, deleted: false, updated_by: p.worker_id ?? null }, current);
      return { key: row.key, version: row.version, updated_at: row.updated_at };
    }).done;
  }

  async delete(p: ParsedParamsOf<typeof StateDelete>): Promise<{ key: string; version: number }> {
    return commit(this.ctx, (tx) => {
      const current = this.check(p.key, p.expected_version);
      if (!current || current.deleted) {
        throw new HarnessError(ErrorCode.NotFound, `state key ${JSON.stringify(p.key)} does not exist`, { key: p.key, version: 0 });
      }
      const row = this.write(tx, { key: p.key, value: null, deleted: true, updated_by: p.worker_id ?? null }, current);
      return { key: row.key, version: row.version };
    }).done;
  }

  /** The kept versions of a key, newest first; deletes show as `deleted: true`. */
  history({ key }: ParsedParamsOf<typeof StateHistory>): { key: string; versions: StateVersion[] } {
    return { key, versions: this.ctx.store.primitives.stateHistory(key) };
  }

  list({ prefix = '' }: ParsedParamsOf<typeof StateList>): { entries: StateEntry[] } {
    return { entries: this.ctx.store.primitives.stateList(prefix).filter((r) => !r.deleted).map(entry) };
  }

  /** The newest version, after checking the caller's expectation of it. */
  private check(key: string, expected: number | undefined): StateVersion | undefined {
    const current = this.ctx.store.primitives.state(key);
    const exists = current !== undefined && !current.deleted;
    const version = exists ? current.version : 0;
    if (expected !== undefined && expected !== version) {
      throw new HarnessError(
        ErrorCode.Conflict,
        `state key ${JSON.stringify(key)} is at version ${version}${exists ? '' : ' (it does not exist)'}, not ${expected}; read it again and retry`,
        { key, current_version: version, expected_version: expected },
      );
    }
    return current;
  }

  private write(tx: PrimitiveTx, next: Pick<StateVersion, 'key' | 'value' | 'deleted' | 'updated_by'>, current: StateVersion | undefined): StateVersion {
    const row: StateVersion = { ...next, version: (current?.version ?? 0) + 1, updated_at: nowIso(this.ctx) };
    tx.w.apply({ op: 'state', row });
    const keep = Math.max(1, this.ctx.settings().stateHistoryLimit);
    if (row.version - keep >= 1) tx.w.apply({ op: 'state_prune', key: row.key, below: row.version - keep + 1 });
    tx.emit('state:changed', { key: row.key, version: row.version, deleted: row.deleted, updated_by: row.updated_by });
    return row;
  }
}

import type { TaskRow } from '../../src/core/store';

/** A stored task row with every field at its default, for tests below the coordinator. */
export function taskRow(id: string, fields: Partial<TaskRow> = {}): TaskRow {
  return {
    id,
    description: `task ${id}`,
    dependencies: [],
    priority: 0,
    capabilities: [],
    timeout_seconds: 300,
    max_attempts: 3,
    attempts: 0,
    status: 'pending',
    claimed_by: null,
    fencing_token: 0,
    started_at: null,
    lease_expires_at: null,
    completed_at: null,
    duration_ms: null,
    result: null,
    error: null,
    created_at: '2026-01-01T00:00:00.000Z',
    payload: null,
    seq: 1,
    unmet_deps: 0,
    ...fields,
  };
}

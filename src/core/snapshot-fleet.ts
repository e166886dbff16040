// The tables of worker targets, their slots and budgets in the sql.js snapshot: their schema (one
// migration) and how a change is applied to them. Each keeps the whole row as JSON in `body`.
import type { SqlValue } from 'sql.js';
import type { FleetChange } from './fleet-rows';

export const FLEET_MIGRATION = `
  CREATE TABLE targets (name TEXT PRIMARY KEY, body TEXT NOT NULL);
  CREATE TABLE slots (target TEXT NOT NULL, slot INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (target, slot));
  CREATE TABLE budgets (scope TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (scope, name));`;

/** The tables a snapshot reads these rows back from, with the change that puts each row. */
export const FLEET_TABLES = [
  ['targets', 'target'],
  ['slots', 'slot'],
  ['budgets', 'budget'],
] as const;

export function applyFleetSql(c: FleetChange, run: (sql: string, params: SqlValue[]) => void): void {
  switch (c.op) {
    case 'target':
      return run('INSERT OR REPLACE INTO targets (name, body) VALUES (?, ?)', [c.row.name, JSON.stringify(c.row)]);
    case 'target_delete':
      return run('DELETE FROM targets WHERE name = ?', [c.name]);
    case 'slot':
      return run('INSERT OR REPLACE INTO slots (target, slot, body) VALUES (?, ?, ?)', [c.row.target, c.row.slot, JSON.stringify(c.row)]);
    case 'slot_delete':
      return run('DELETE FROM slots WHERE target = ? AND slot = ?', [c.target, c.slot]);
    case 'budget':
      return run('INSERT OR REPLACE INTO budgets (scope, name, body) VALUES (?, ?, ?)', [c.row.scope, c.row.name ?? '', JSON.stringify(c.row)]);
    case 'budget_delete':
      return run('DELETE FROM budgets WHERE scope = ? AND name = ?', [c.scope, c.name ?? '']);
  }
}

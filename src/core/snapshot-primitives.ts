// The coordination primitives' tables in the sql.js snapshot: their schema (one migration) and how
// a change is applied to them. Each table keeps the whole row as JSON in `body`, plus the columns
// a person querying the file would look up by.
import type { SqlValue } from 'sql.js';
import type { PrimitiveChange } from './primitive-store';

export const PRIMITIVES_MIGRATION = `
  CREATE TABLE locks (token INTEGER PRIMARY KEY, path TEXT NOT NULL, worker_id TEXT NOT NULL, body TEXT NOT NULL);
  CREATE INDEX locks_path ON locks (path, token);
  CREATE INDEX locks_worker ON locks (worker_id, token);
  CREATE TABLE pools (name TEXT PRIMARY KEY, body TEXT NOT NULL);
  CREATE TABLE holds (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, worker_id TEXT NOT NULL, body TEXT NOT NULL);
  CREATE TABLE state (key TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (key, version));
  CREATE TABLE messages (id TEXT NOT NULL, recipient TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (id, recipient));
  CREATE INDEX messages_recipient ON messages (recipient, seq);
  CREATE INDEX messages_seq ON messages (seq, recipient);
  CREATE TABLE subscriptions (topic TEXT NOT NULL, worker_id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (topic, worker_id));
  CREATE INDEX subscriptions_worker ON subscriptions (worker_id, topic);`;

/** The tables a snapshot reads the primitives' rows back from, with the change that puts each row. */
export const PRIMITIVE_TABLES = [
  ['locks', 'lock'],
  ['pools', 'pool'],
  ['holds', 'hold'],
  ['state', 'state'],
  ['messages', 'message'],
  ['subscriptions', 'subscription'],
] as const;

/** What the snapshot writer lends: run a statement. */
export interface SqlAccess {
  run(sql: string, params: SqlValue[]): void;
}

export class SqlPrimitives {
  constructor(private readonly db: SqlAccess) {}

  apply(c: PrimitiveChange): void {
    const run = (sql: string, params: SqlValue[]) => this.db.run(sql, params);
    switch (c.op) {
      case 'lock':
        return run('INSERT OR REPLACE INTO locks (token, path, worker_id, body) VALUES (?, ?, ?, ?)', [
          c.row.token, c.row.path, c.row.worker_id, JSON.stringify(c.row),
        ]);
      case 'lock_delete':
        return run('DELETE FROM locks WHERE token = ?', [c.token]);
      case 'pool':
        return run('INSERT OR REPLACE INTO pools (name, body) VALUES (?, ?)', [c.row.name, JSON.stringify(c.row)]);
      case 'hold':
        return run('INSERT OR REPLACE INTO holds (id, seq, worker_id, body) VALUES (?, ?, ?, ?)', [
          c.row.id, c.row.seq, c.row.worker_id, JSON.stringify(c.row),
        ]);
      case 'hold_delete':
        return run('DELETE FROM holds WHERE id = ?', [c.id]);
      case 'state':
        return run('INSERT OR REPLACE INTO state (key, version, body) VALUES (?, ?, ?)', [c.row.key, c.row.version, JSON.stringify(c.row)]);
      case 'state_prune':
        return run('DELETE FROM state WHERE key = ? AND version < ?', [c.key, c.below]);
      case 'message':
        return run('INSERT OR REPLACE INTO messages (id, recipient, seq, body) VALUES (?, ?, ?, ?)', [
          c.row.id, c.row.recipient, c.row.seq, JSON.stringify(c.row),
        ]);
      case 'message_delete':
        return c.recipient === undefined
          ? run('DELETE FROM messages WHERE id = ?', [c.id])
          : run('DELETE FROM messages WHERE id = ? AND recipient = ?', [c.id, c.recipient]);
      case 'subscription':
        return run('INSERT OR REPLACE INTO subscriptions (topic, worker_id, body) VALUES (?, ?, ?)', [
          c.row.topic, c.row.worker_id, JSON.stringify(c.row),
        ]);
      case 'subscription_delete':
        return run('DELETE FROM subscriptions WHERE topic = ? AND worker_id = ?', [c.topic, c.worker_id]);
    }
  }
}

// The coordination primitives' tables in SqlJsStore: their schema (one migration), how a change
// is applied, and the reads. Each table keeps the whole row as JSON in `body`, plus the columns
// its lookups need.
import type { SqlValue } from 'sql.js';
import type { HoldRow, LockRow, MessageRow, PoolRow, PrimitiveChange, PrimitiveReader, StateVersion, SubscriptionRow } from './primitive-store';

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

/** What SqlJsStore lends: run a statement; read rows whose first column is a JSON body. */
export interface SqlAccess {
  run(sql: string, params: SqlValue[]): void;
  all<T>(sql: string, params: SqlValue[]): T[];
}

export class SqlPrimitives implements PrimitiveReader {
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

  locks(path?: string): LockRow[] {
    return path === undefined
      ? this.db.all('SELECT body FROM locks ORDER BY token', [])
      : this.db.all('SELECT body FROM locks WHERE path = ? ORDER BY token', [path]);
  }
  locksOf(workerId: string): LockRow[] {
    return this.db.all('SELECT body FROM locks WHERE worker_id = ? ORDER BY token', [workerId]);
  }
  pools(): PoolRow[] {
    return this.db.all('SELECT body FROM pools ORDER BY name', []);
  }
  holds(): HoldRow[] {
    return this.db.all('SELECT body FROM holds ORDER BY seq', []);
  }
  state(key: string): StateVersion | undefined {
    return this.db.all<StateVersion>('SELECT body FROM state WHERE key = ? ORDER BY version DESC LIMIT 1', [key])[0];
  }
  stateHistory(key: string): StateVersion[] {
    return this.db.all('SELECT body FROM state WHERE key = ? ORDER BY version DESC', [key]);
  }
  stateList(prefix: string): StateVersion[] {
    return this.db.all(
      `SELECT body FROM state s WHERE key >= ? AND substr(key, 1, length(?)) = ?
         AND version = (SELECT max(version) FROM state WHERE key = s.key) ORDER BY key`,
      [prefix, prefix, prefix],
    );
  }
  messagesFor(recipient: string, limit: number): MessageRow[] {
    return this.db.all('SELECT body FROM messages WHERE recipient = ? ORDER BY seq LIMIT ?', [recipient, limit]);
  }
  messages(id?: string): MessageRow[] {
    return id === undefined
      ? this.db.all('SELECT body FROM messages ORDER BY seq, recipient', [])
      : this.db.all('SELECT body FROM messages WHERE id = ? ORDER BY seq, recipient', [id]);
  }
  subscribers(topic: string): string[] {
    return this.db.all<{ worker_id: string }>('SELECT body FROM subscriptions WHERE topic = ? ORDER BY worker_id', [topic]).map((s) => s.worker_id);
  }
  subscriptionsOf(workerId: string): string[] {
    return this.db.all<{ topic: string }>('SELECT body FROM subscriptions WHERE worker_id = ? ORDER BY topic', [workerId]).map((s) => s.topic);
  }
  subscriptions(): SubscriptionRow[] {
    return this.db.all('SELECT body FROM subscriptions ORDER BY topic, worker_id', []);
  }
}

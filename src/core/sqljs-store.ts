import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Database, SqlJsStatic, Statement, SqlValue } from 'sql.js';
import { describeError, ErrorCode, HarnessError } from './errors';
import { nodeFileOps, type FileOps } from './files';
import { decodeJournal, encodeRecord, type JournalRecord } from './journal';
import type { Instance, TaskStatus } from './model';
import { PRIMITIVES_MIGRATION, SqlPrimitives } from './sqljs-primitives';
import { ZERO_COUNTS, type Change, type Committed, type Store, type StoreWriter, type TaskPageQuery, type TaskRow, type TaskSummary } from './store';
import { acquireStateLock, type StateLock } from './state-lock';

/** Schema changes, applied in order inside one transaction; the version is kept in `meta`. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE tasks (
     id TEXT PRIMARY KEY,
     seq INTEGER NOT NULL,
     status TEXT NOT NULL,
     priority INTEGER NOT NULL,
     unmet_deps INTEGER NOT NULL,
     claimed_by TEXT,
     lease_expires_at TEXT,
     body TEXT NOT NULL
   );
   CREATE INDEX tasks_ready ON tasks (status, unmet_deps, priority DESC, seq);
   CREATE INDEX tasks_lease ON tasks (status, lease_expires_at);
   CREATE INDEX tasks_holder ON tasks (claimed_by);
   CREATE TABLE deps (dep_id TEXT NOT NULL, task_id TEXT NOT NULL, PRIMARY KEY (dep_id, task_id));
   CREATE TABLE instances (worker_id TEXT PRIMARY KEY, body TEXT NOT NULL);`,
  // A worker's finished tasks keep claimed_by, so "what does it hold now" must not scan them all.
  `DROP INDEX tasks_holder;
   CREATE INDEX tasks_holder ON tasks (claimed_by, status);`,
  // Locks, pools and holds, shared state, mailboxes (issue 7).
  PRIMITIVES_MIGRATION,
];

export const SNAPSHOT_FILE = 'state.db';
export const JOURNAL_FILE = 'journal.log';
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

export interface SqlJsStoreOptions {
  /** The state directory, e.g. `<workspace>/.harness`. */
  dir: string;
  files?: FileOps;
  /** Write a snapshot (and empty the journal) once the journal grows past this. */
  snapshotAfterBytes?: number;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export interface OpenStats {
  snapshot_bytes: number;
  journal_records: number;
  torn_bytes_dropped: number;
  open_ms: number;
}

let sqlModule: Promise<SqlJsStatic> | undefined;

/** Loads sql.js's WebAssembly once per process, and only when a store is first opened. */
function loadSqlJs(): Promise<SqlJsStatic> {
  sqlModule ??= import('sql.js').then(async (mod) => {
    const init = (mod as unknown as { default: (c: object) => Promise<SqlJsStatic> }).default;
    const candidates = [
      path.join(__dirname, 'sql-wasm.wasm'), // beside the bundle in dist/
      path.join(__dirname, '../../node_modules/sql.js/dist/sql-wasm.wasm'), // running from source
    ];
    const wasm = candidates.find((f) => fs.existsSync(f));
    if (!wasm) throw new HarnessError(ErrorCode.Internal, `sql-wasm.wasm not found (looked in ${candidates.join(', ')})`);
    return init({ wasmBinary: fs.readFileSync(wasm) });
  });
  return sqlModule;
}

interface Pending {
  line: string;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * The durable store: state lives in sql.js (SQLite in memory); every committed transaction is
 * appended to a journal and fdatasync'd before it counts as durable, many transactions sharing
 * one fdatasync (group commit). A snapshot of the whole database replaces the journal from time
 * to time, written atomically. Opening loads the snapshot and replays the journal after it.
 */
export class SqlJsStore implements Store {
  private db!: Database;
  private readonly statements = new Map<string, Statement>();
  private journalFd = -1;
  /** Bytes of the journal known to be on disk. */
  private journalBytes = 0;
  private seq = 0;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private lastDurable: Promise<void> = Promise.resolve();
  /** Set when a write failed and the memory may hold changes the disk does not. */
  private broken: Error | undefined;
  private closed = false;
  stats!: OpenStats;
  readonly primitives = new SqlPrimitives({ run: (sql, params) => this.run(sql, params), all: (sql, params) => this.all(sql, params) });

  private constructor(
    private readonly sql: SqlJsStatic,
    private readonly dir: string,
    private readonly files: FileOps,
    private readonly lock: StateLock,
    private readonly snapshotAfterBytes: number,
    private readonly log: NonNullable<SqlJsStoreOptions['log']>,
  ) {}

  static async open(options: SqlJsStoreOptions): Promise<SqlJsStore> {
    const started = performance.now();
    const sql = await loadSqlJs();
    const dir = path.resolve(options.dir);
    prepareStateDirectory(dir);
    const lock = acquireStateLock(dir);
    const store = new SqlJsStore(
      sql,
      dir,
      options.files ?? nodeFileOps,
      lock,
      options.snapshotAfterBytes ?? 16 * 1024 * 1024,
      options.log ?? (() => {}),
    );
    try {
      store.load();
    } catch (e) {
      lock.release();
      throw e;
    }
    store.stats.open_ms = performance.now() - started;
    return store;
  }

  private get snapshotPath(): string {
    return path.join(this.dir, SNAPSHOT_FILE);
  }
  private get journalPath(): string {
    return path.join(this.dir, JOURNAL_FILE);
  }

  /** (Re)builds memory from the files: the snapshot, then the journal records after it. */
  private load(): void {
    this.statements.forEach((s) => s.free());
    this.statements.clear();
    this.db?.close();
    const snapshot = this.files.readFile(this.snapshotPath);
    try {
      // sql.js takes an empty file for a new, empty database: that would silently start empty.
      if (snapshot && !snapshot.subarray(0, 16).equals(SQLITE_HEADER)) throw new Error('not an SQLite database');
      this.db = new this.sql.Database(snapshot);
      this.configureConnection();
      this.migrate();
    } catch (e) {
      throw new HarnessError(
        ErrorCode.StateCorrupt,
        `snapshot ${this.snapshotPath} cannot be read (${describeError(e)}); the files were left as they are for inspection`,
        { file: this.snapshotPath },
      );
    }
    this.seq = Number(this.getMeta('seq') ?? 0);
    const data = this.files.readFile(this.journalPath) ?? Buffer.alloc(0);
    const journal = decodeJournal(data, this.journalPath);
    let replayed = 0;
    for (const record of journal.records) {
      if (record.s <= this.seq) continue; // already in the snapshot
      if (record.s !== this.seq + 1) {
        // Every record is intact, yet some are missing: a line cut out of the journal, or the
        // snapshot that held them deleted. Replaying on would silently drop committed changes.
        throw new HarnessError(
          ErrorCode.StateCorrupt,
          `journal ${this.journalPath} jumps from record ${this.seq} to record ${record.s}: committed changes are missing ` +
            `(a damaged journal, or a removed ${SNAPSHOT_FILE}); the files were left as they are for inspection`,
          { file: this.journalPath, expected: this.seq + 1, found: record.s },
        );
      }
      this.replay(record);
      replayed++;
    }
    if (this.journalFd >= 0) {
      this.files.close(this.journalFd);
      this.journalFd = -1; // closed: its number may be reused by any file opened next
    }
    this.journalFd = this.files.openAppend(this.journalPath);
    if (journal.tornBytes > 0) {
      this.log('warn', `dropped ${journal.tornBytes} bytes of an incomplete last journal record (a crash mid-write)`);
      this.files.truncate(this.journalFd, journal.goodLength);
    }
    this.journalBytes = journal.goodLength;
    this.stats = {
      snapshot_bytes: snapshot?.length ?? 0,
      journal_records: replayed,
      torn_bytes_dropped: journal.tornBytes,
      open_ms: 0,
    };
  }

  /**
   * SQLite's own rollback journal only needs to serve ROLLBACK here: durability is our journal's
   * job, so keep it in memory instead of sql.js's JavaScript file system. Export may reset
   * connection settings, so this runs after every snapshot too.
   */
  private configureConnection(): void {
    this.db.exec('PRAGMA journal_mode = MEMORY');
    // This process is the database's only user: skip SQLite's per-transaction lock and hot-journal
    // checks, which cost sql.js a trip through its JavaScript file system each time (profiled).
    this.db.exec('PRAGMA locking_mode = EXCLUSIVE');
  }

  private migrate(): void {
    const hasMeta = this.db.exec("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").length > 0;
    const version = hasMeta ? Number(this.getMeta('schema_version') ?? 0) : 0;
    if (version > MIGRATIONS.length) {
      throw new Error(`schema version ${version} is newer than this program knows (${MIGRATIONS.length})`);
    }
    if (version === MIGRATIONS.length) return;
    this.db.run('BEGIN');
    try {
      for (let v = version; v < MIGRATIONS.length; v++) this.db.run(MIGRATIONS[v]!);
      this.setMeta('schema_version', String(MIGRATIONS.length));
      this.db.run('COMMIT');
    } catch (e) {
      this.db.run('ROLLBACK');
      throw e;
    }
  }

  private replay(record: JournalRecord): void {
    this.db.run('BEGIN');
    try {
      for (const change of record.c) this.applyChange(change);
      this.setMeta('seq', String(record.s));
      this.db.run('COMMIT');
    } catch (e) {
      this.db.run('ROLLBACK');
      throw new HarnessError(
        ErrorCode.StateCorrupt,
        `journal record ${record.s} in ${this.journalPath} cannot be applied (${describeError(e)}); the files were left as they are`,
      );
    }
    this.seq = record.s;
  }

  // ---- writes ----

  transact<T>(fn: (tx: StoreWriter) => T): Committed<T> {
    if (this.closed) throw new HarnessError(ErrorCode.Closed, 'the store is closed');
    if (this.broken) this.tryRecover();
    const changes: Change[] = [];
    this.db.run('BEGIN');
    let value: T;
    try {
      value = fn({
        apply: (change) => {
          this.applyChange(change);
          changes.push(change);
        },
      });
      if (changes.length > 0) this.setMeta('seq', String(this.seq + 1));
      this.db.run('COMMIT');
    } catch (e) {
      this.db.run('ROLLBACK');
      throw e;
    }
    // Nothing changed: still answer only once what this read may have seen is durable.
    if (changes.length === 0) return { value, durable: this.lastDurable };
    this.seq++;
    const durable = new Promise<void>((resolve, reject) => {
      this.queue.push({ line: encodeRecord({ s: this.seq, c: changes }), resolve, reject });
    });
    durable.catch(() => {}); // the caller gets it; this only avoids an unhandled rejection
    this.lastDurable = durable;
    this.flushing ??= new Promise<void>((r) => setImmediate(r)).then(() => this.flush());
    return { value, durable };
  }

  /** Writes queued records, many per fdatasync, until the queue is empty. */
  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        if (this.journalBytes >= this.snapshotAfterBytes) {
          this.snapshot(); // the database already holds the batch: the snapshot makes it durable
        } else {
          const data = Buffer.from(batch.map((p) => p.line).join(''), 'utf8');
          await this.files.write(this.journalFd, data);
          await this.files.datasync(this.journalFd);
          // Synced into a file someone deleted (the state directory removed under us) is not
          // saved: nothing of it would be there after a restart.
          if (this.files.linked && !this.files.linked(this.journalFd)) {
            throw new Error(`the journal ${this.journalPath} was deleted while in use (was ${this.dir} removed?)`);
          }
          this.journalBytes += data.length;
        }
        for (const p of batch) p.resolve();
      } catch (e) {
        const error = new HarnessError(
          ErrorCode.Storage,
          `could not save the change to ${this.dir} (${describeError(e)}); it was not applied`,
        );
        this.log('error', error.message);
        for (const p of [...batch, ...this.queue]) p.reject(error);
        this.queue = [];
        this.broken = error;
        try {
          this.tryRecover();
        } catch {
          // Still unwritable: the next transaction tries again.
        }
      }
    }
    this.flushing = undefined;
  }

  /**
   * After a failed write, memory holds changes the disk does not: cut the journal back to what
   * was synced and rebuild memory from the files. If that fails too, the next write tries again.
   */
  private tryRecover(): void {
    try {
      if (this.journalFd >= 0) this.files.truncate(this.journalFd, this.journalBytes);
      this.load();
      this.broken = undefined;
      // Memory is what the disk holds again: a read-only call must not inherit the failed write.
      this.lastDurable = Promise.resolve();
      this.log('info', `recovered ${this.dir} from disk after a failed write`);
    } catch (e) {
      throw new HarnessError(
        ErrorCode.Storage,
        `the state in ${this.dir} cannot be written (${describeError(e)}); retry once the disk is writable`,
      );
    }
  }

  /** Writes the whole database atomically, then empties the journal it replaces. */
  snapshot(): void {
    const bytes = this.db.export();
    this.configureConnection();
    this.files.writeAtomic(this.snapshotPath, bytes);
    this.files.truncate(this.journalFd, 0);
    this.journalBytes = 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushing;
    try {
      if (!this.broken && this.journalBytes > 0) this.snapshot(); // a fast start next time
    } finally {
      this.statements.forEach((s) => s.free());
      this.statements.clear();
      if (this.journalFd >= 0) this.files.close(this.journalFd);
      this.db.close();
      this.lock.release();
    }
  }

  private applyChange(change: Change): void {
    switch (change.op) {
      case 'task': {
        const r = change.row;
        const body = JSON.stringify(r);
        this.run('UPDATE tasks SET status=?, priority=?, unmet_deps=?, claimed_by=?, lease_expires_at=?, body=? WHERE id=?', [
          r.status, r.priority, r.unmet_deps, r.claimed_by, r.lease_expires_at, body, r.id,
        ]);
        if (this.db.getRowsModified() === 0) {
          this.run('INSERT INTO tasks (id, seq, status, priority, unmet_deps, claimed_by, lease_expires_at, body) VALUES (?,?,?,?,?,?,?,?)', [
            r.id, r.seq, r.status, r.priority, r.unmet_deps, r.claimed_by, r.lease_expires_at, body,
          ]);
          for (const dep of r.dependencies) this.run('INSERT OR IGNORE INTO deps (dep_id, task_id) VALUES (?, ?)', [dep, r.id]);
        }
        return;
      }
      case 'instance':
        this.run('INSERT INTO instances (worker_id, body) VALUES (?, ?) ON CONFLICT (worker_id) DO UPDATE SET body = excluded.body', [
          change.row.worker_id, JSON.stringify(change.row),
        ]);
        return;
      case 'instance_delete':
        this.run('DELETE FROM instances WHERE worker_id = ?', [change.worker_id]);
        return;
      case 'meta':
        this.setMeta(change.key, change.value);
        return;
      default:
        this.primitives.apply(change);
    }
  }

  // ---- reads: never write ----

  getTask(id: string): TaskRow | undefined {
    return this.first('SELECT body FROM tasks WHERE id = ?', [id]);
  }
  listTasks(status?: TaskStatus): TaskRow[] {
    return status
      ? this.all('SELECT body FROM tasks WHERE status = ? ORDER BY seq', [status])
      : this.all('SELECT body FROM tasks ORDER BY seq', []);
  }
  listTasksPage({ afterSeq, limit, status, group }: TaskPageQuery): TaskRow[] {
    return this.all(
      "SELECT body FROM tasks WHERE seq > ? AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR json_extract(body, '$.group') = ?3) ORDER BY seq LIMIT ?4",
      [afterSeq, status ?? null, group ?? null, limit],
    );
  }
  taskSummary(): TaskSummary {
    const summary: TaskSummary = { counts: ZERO_COUNTS(), ready: 0, groups: new Map() };
    const stmt = this.prepare(
      "SELECT status, status = 'pending' AND unmet_deps = 0, json_extract(body, '$.group'), count(*) FROM tasks GROUP BY 1, 2, 3",
    );
    try {
      while (stmt.step()) {
        const [status, ready, group, n] = stmt.get() as [TaskStatus, number, string | null, number];
        summary.counts[status] += n;
        if (ready) summary.ready += n;
        if (group === null) continue;
        let g = summary.groups.get(group);
        if (!g) summary.groups.set(group, (g = { ...ZERO_COUNTS(), ready: 0 }));
        g[status] += n;
        if (ready) g.ready += n;
      }
    } finally {
      stmt.reset();
    }
    return summary;
  }
  countTasks(): Record<TaskStatus, number> {
    const counts = ZERO_COUNTS();
    const stmt = this.prepare('SELECT status, count(*) FROM tasks GROUP BY status');
    try {
      while (stmt.step()) {
        const [status, n] = stmt.get() as [TaskStatus, number];
        counts[status] = n;
      }
    } finally {
      stmt.reset();
    }
    return counts;
  }
  heldBy(workerId: string): TaskRow[] {
    return this.all("SELECT body FROM tasks WHERE claimed_by = ? AND status = 'running' ORDER BY seq", [workerId]);
  }
  firstReady(accept: (task: TaskRow) => boolean): TaskRow | undefined {
    return this.first(
      "SELECT body FROM tasks WHERE status = 'pending' AND unmet_deps = 0 ORDER BY priority DESC, seq",
      [],
      accept,
    );
  }
  firstExpired(nowIso: string, accept: (task: TaskRow) => boolean): TaskRow | undefined {
    return this.first(
      "SELECT body FROM tasks WHERE status = 'running' AND lease_expires_at <= ? ORDER BY priority DESC, seq",
      [nowIso],
      accept,
    );
  }
  listExpired(nowIso: string): TaskRow[] {
    return this.all("SELECT body FROM tasks WHERE status = 'running' AND lease_expires_at <= ? ORDER BY seq", [nowIso]);
  }
  dependents(id: string): string[] {
    const stmt = this.prepare('SELECT task_id FROM deps WHERE dep_id = ?');
    const out: string[] = [];
    try {
      stmt.bind([id]);
      while (stmt.step()) out.push(stmt.get()[0] as string);
    } finally {
      stmt.reset();
    }
    return out;
  }
  getInstance(workerId: string): Instance | undefined {
    return this.first('SELECT body FROM instances WHERE worker_id = ?', [workerId]);
  }
  listInstances(): Instance[] {
    return this.all('SELECT body FROM instances ORDER BY worker_id', []);
  }
  getMeta(key: string): string | undefined {
    const stmt = this.prepare('SELECT value FROM meta WHERE key = ?');
    try {
      stmt.bind([key]);
      return stmt.step() ? (stmt.get()[0] as string) : undefined;
    } finally {
      stmt.reset();
    }
  }

  // ---- statement helpers ----

  private setMeta(key: string, value: string): void {
    this.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
  }

  private prepare(sql: string): Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) this.statements.set(sql, (stmt = this.db.prepare(sql)));
    return stmt;
  }

  private run(sql: string, params: SqlValue[]): void {
    this.prepare(sql).run(params);
  }

  private first<T>(sql: string, params: SqlValue[], accept: (row: T) => boolean = () => true): T | undefined {
    const stmt = this.prepare(sql);
    try {
      stmt.bind(params);
      while (stmt.step()) {
        const row = JSON.parse(stmt.get()[0] as string) as T;
        if (accept(row)) return row;
      }
      return undefined;
    } finally {
      stmt.reset();
    }
  }

  private all<T>(sql: string, params: SqlValue[]): T[] {
    const stmt = this.prepare(sql);
    const out: T[] = [];
    try {
      stmt.bind(params);
      while (stmt.step()) out.push(JSON.parse(stmt.get()[0] as string) as T);
    } finally {
      stmt.reset();
    }
    return out;
  }
}

/** Creates the state directory, owner-only, with a .gitignore so it is never committed. */
export function prepareStateDirectory(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ignore = path.join(dir, '.gitignore');
  if (!fs.existsSync(ignore)) fs.writeFileSync(ignore, '# Agent Harness state: never commit it\n*\n', { mode: 0o600 });
}

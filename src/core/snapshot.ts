// The snapshot: the whole state at one record number, as a real SQLite database (sql.js writes
// it) that a person can open with any SQLite tool. It carries a CRC-32 of the whole file in its
// header (user_version, with application_id marking it), checked before anything is read from
// it: a flipped byte anywhere is refused as STATE_CORRUPT, never read as a changed task.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import type { Database, SqlJsStatic, SqlValue, Statement } from 'sql.js';
import { describeError, ErrorCode, HarnessError } from './errors';
import { isFleetChange } from './fleet-rows';
import { applyFleetSql, FLEET_MIGRATION, FLEET_TABLES } from './snapshot-fleet';
import { PRIMITIVES_MIGRATION, PRIMITIVE_TABLES, SqlPrimitives } from './snapshot-primitives';
import type { Change } from './store';

export const SNAPSHOT_FILE = 'state.db';

/** Schema changes, applied in order; the version is kept in `meta`. */
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
  `DROP INDEX tasks_holder;
   CREATE INDEX tasks_holder ON tasks (claimed_by, status);`,
  // Locks, pools and holds, shared state, mailboxes (issue 7).
  PRIMITIVES_MIGRATION,
  // The state is read from memory now; the file only has to be written and read whole. Its
  // indexes on tasks made every snapshot write slower and the file larger for nothing.
  `DROP INDEX tasks_ready;
   DROP INDEX tasks_lease;
   DROP INDEX tasks_holder;`,
  // Worker targets, their slots, budgets (issue 15).
  FLEET_MIGRATION,
];

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
/** SQLite header fields this program owns: user_version holds the checksum, application_id says so. */
const CHECKSUM_OFFSET = 60;
const APPLICATION_ID_OFFSET = 68;
const APPLICATION_ID = 0x41484e53; // "AHNS"
/** Meta keys of the file itself, not of the coordinator's state. */
const FILE_META = new Set(['schema_version', 'seq', 'snapshot_format']);
const SNAPSHOT_FORMAT = '1';

let sqlModule: Promise<SqlJsStatic> | undefined;

/** Loads sql.js's WebAssembly on first use. */
export function loadSqlJs(): Promise<SqlJsStatic> {
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

function checksumOf(bytes: Uint8Array): number {
  let crc = crc32(bytes.subarray(0, CHECKSUM_OFFSET));
  crc = crc32(Buffer.alloc(4), crc);
  return crc32(bytes.subarray(CHECKSUM_OFFSET + 4), crc);
}

/** Writes the checksum into an exported image. */
function seal(bytes: Uint8Array): Uint8Array {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.writeUInt32BE(APPLICATION_ID, APPLICATION_ID_OFFSET);
  view.writeUInt32BE(checksumOf(bytes), CHECKSUM_OFFSET);
  return bytes;
}

function corrupt(file: string, why: string): HarnessError {
  return new HarnessError(
    ErrorCode.StateCorrupt,
    `snapshot ${file} cannot be read (${why}); the files were left as they are for inspection (\`harness recover\` shows what is intact)`,
    { file },
  );
}

/**
 * Checks a snapshot's bytes before anything is read from them. Returns false for a snapshot of
 * the first releases, which carry no checksum (accepted: the next snapshot has one).
 */
export function verifySnapshot(bytes: Uint8Array, file: string): boolean {
  if (bytes.length < 100 || !Buffer.from(bytes.buffer, bytes.byteOffset, 16).equals(SQLITE_HEADER)) {
    throw corrupt(file, 'not an SQLite database');
  }
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.readUInt32BE(APPLICATION_ID_OFFSET) !== APPLICATION_ID) return false;
  const stored = view.readUInt32BE(CHECKSUM_OFFSET);
  const actual = checksumOf(bytes);
  if (stored !== actual) {
    throw corrupt(file, `checksum mismatch: stored ${hex(stored)}, computed ${hex(actual)}; it was damaged or changed after it was written`);
  }
  return true;
}

const hex = (n: number) => n.toString(16).padStart(8, '0');

function rows(db: Database, sql: string, each: (values: SqlValue[]) => void): void {
  const stmt = db.prepare(sql);
  try {
    while (stmt.step()) each(stmt.get());
  } finally {
    stmt.free();
  }
}

function schemaVersion(db: Database): number {
  if (db.exec("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").length === 0) return 0;
  const r = db.exec("SELECT value FROM meta WHERE key = 'schema_version'");
  return Number(r[0]?.values[0]?.[0] ?? 0);
}

export interface SnapshotContents {
  /** The number of the last record the snapshot stands for. */
  seq: number;
  /** Whether its checksum was there to check (false: an older program wrote it). */
  checked: boolean;
}

/** The change that puts a row of each table back. */
export type RowOp = 'task' | 'instance' | (typeof PRIMITIVE_TABLES)[number][1] | (typeof FLEET_TABLES)[number][1];

/**
 * Where a snapshot's rows go: meta entries one by one, table rows in chunks, each a JSON array of
 * the rows' bodies (one JSON.parse reads a thousand rows).
 */
export interface SnapshotSink {
  meta(key: string, value: string): void;
  rows(op: RowOp, chunk: string): void;
}

const CHUNK_ROWS = 1000;

/**
 * Reads a checked snapshot into `sink`: the coordinator's meta entries, then the rows of tasks,
 * instances and the primitives' tables as JSON. Any damage is STATE_CORRUPT.
 */
export async function scanSnapshot(
  bytes: Uint8Array,
  file: string,
  sink: SnapshotSink,
  /** Read past a failed checksum: only `harness recover`, salvaging what a person confirmed. */
  options: { ignoreChecksum?: boolean } = {},
): Promise<SnapshotContents> {
  const checked = options.ignoreChecksum ? false : verifySnapshot(bytes, file);
  const db = await openDatabase(bytes, file);
  try {
    let seq = 0;
    let format: string | undefined;
    rows(db, 'SELECT key, value FROM meta', ([key, value]) => {
      if (key === 'seq') seq = Number(value);
      else if (key === 'snapshot_format') format = String(value);
      else if (!FILE_META.has(String(key))) sink.meta(String(key), String(value));
    });
    // Written by this program, yet without its checksum: the header was damaged.
    if (!checked && format !== undefined && !options.ignoreChecksum) throw new Error('its checksum is missing from the header');
    const tables: Array<readonly [string, RowOp]> = [['tasks', 'task'], ['instances', 'instance'], ...PRIMITIVE_TABLES, ...FLEET_TABLES];
    for (const [table, op] of tables) {
      // SQLite joins a chunk of rows into one string: one crossing out of WebAssembly per chunk.
      const stmt = db.prepare(
        `SELECT max(r), '[' || group_concat(b, ',') || ']' FROM (SELECT rowid AS r, body AS b FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT ${CHUNK_ROWS})`,
      );
      try {
        for (let after: SqlValue = -1; ; ) {
          stmt.bind([after]);
          stmt.step();
          const [last, chunk] = stmt.get();
          stmt.reset();
          if (last === null || chunk === null) break;
          sink.rows(op, chunk as string);
          after = last;
        }
      } finally {
        stmt.free();
      }
    }
    return { seq, checked };
  } catch (e) {
    if (e instanceof HarnessError) throw e;
    throw corrupt(file, describeError(e));
  } finally {
    db.close();
  }
}

/** The changes that put back a chunk of rows of one table, as `scanSnapshot` hands them out. */
export function applyRows(op: RowOp, chunk: string, apply: (change: Change) => void, file: string): void {
  let rows: unknown[];
  try {
    rows = JSON.parse(chunk) as unknown[];
  } catch (e) {
    throw corrupt(file, `a row of ${op} is not valid JSON: ${describeError(e)}`);
  }
  for (const row of rows) apply({ op, row } as Change);
}

/**
 * A new snapshot of the state at record `seq`, from every row as the change that puts it back
 * (memory-state.ts rows()), given as chunks of JSON arrays: what a replicated log stores.
 */
export async function snapshotFromRows(chunks: readonly string[], seq: number): Promise<Uint8Array> {
  const writer = await SnapshotWriter.open(undefined, 'a new snapshot');
  try {
    for (const chunk of chunks) for (const change of JSON.parse(chunk) as Change[]) writer.apply(change);
    return writer.finish(seq);
  } finally {
    writer.close();
  }
}

/** Opens snapshot bytes (or a new, empty database) in sql.js, its schema brought up to date. */
async function openDatabase(bytes: Uint8Array | undefined, file: string): Promise<Database> {
  const SQL = await loadSqlJs();
  let db: Database | undefined;
  try {
    db = new SQL.Database(bytes);
    // Durability is the journal's job: this copy lives in memory and is exported whole, if at all.
    db.exec('PRAGMA journal_mode = OFF; PRAGMA locking_mode = EXCLUSIVE;');
    const version = schemaVersion(db);
    if (version > MIGRATIONS.length) throw new Error(`schema version ${version} is newer than this program knows (${MIGRATIONS.length})`);
    if (bytes && version === 0) throw new Error('it holds no Agent Harness state');
    for (let v = version; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!);
    return db;
  } catch (e) {
    db?.close();
    throw corrupt(file, describeError(e));
  }
}

/**
 * Builds a snapshot: from an earlier one (or from nothing), plus changes applied through SQL, to
 * exported, sealed bytes. The compactor's tool (compaction.ts); it runs off the request path.
 */
export class SnapshotWriter {
  private readonly statements = new Map<string, Statement>();
  private readonly primitives = new SqlPrimitives({ run: (sql, params) => this.run(sql, params) });
  private constructor(private readonly db: Database) {}

  /** The writer over `base` (checked first; STATE_CORRUPT when damaged), or over an empty database. */
  static async open(base: Uint8Array | undefined, file: string): Promise<SnapshotWriter> {
    if (base) verifySnapshot(base, file);
    const writer = new SnapshotWriter(await openDatabase(base, file));
    writer.setMeta('schema_version', String(MIGRATIONS.length));
    writer.db.exec('BEGIN');
    return writer;
  }

  /** The record number the base snapshot stands for (0 when there was none). */
  get seq(): number {
    const r = this.db.exec("SELECT value FROM meta WHERE key = 'seq'");
    return Number(r[0]?.values[0]?.[0] ?? 0);
  }

  apply(change: Change): void {
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
        if (FILE_META.has(change.key)) throw new Error(`meta key ${change.key} belongs to the snapshot file`);
        this.setMeta(change.key, change.value);
        return;
      default:
        if (isFleetChange(change)) applyFleetSql(change, (sql, params) => this.run(sql, params));
        else this.primitives.apply(change);
    }
  }

  /** The database as it stands, marked as standing for record `seq`, exported and sealed. */
  finish(seq: number): Uint8Array {
    this.setMeta('seq', String(seq));
    this.setMeta('snapshot_format', SNAPSHOT_FORMAT);
    this.db.exec('COMMIT');
    this.statements.forEach((s) => s.free());
    this.statements.clear();
    return seal(this.db.export());
  }

  close(): void {
    this.statements.forEach((s) => s.free());
    this.statements.clear();
    this.db.close();
  }

  private setMeta(key: string, value: string): void {
    this.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
  }

  private run(sql: string, params: SqlValue[]): void {
    let stmt = this.statements.get(sql);
    if (!stmt) this.statements.set(sql, (stmt = this.db.prepare(sql)));
    stmt.run(params);
  }
}

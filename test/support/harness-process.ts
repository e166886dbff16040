// Helpers for tests that run the real `harness` CLI and `harness serve` daemon as processes and
// talk to the daemon over its socket. Everything spawned or created is tracked so a test's
// afterEach can clean up, whatever state the test left behind.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) {
      newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

/**
 * Makes sure dist/cli.js exists and is not older than src/: builds it once if needed (`npm test`
 * builds first, so usually this does nothing). Fails with a clear message when it cannot.
 */
export function ensureCliBuilt(): void {
  const stale = !fs.existsSync(CLI) || fs.statSync(CLI).mtimeMs < newestMtime(path.join(ROOT, 'src'));
  if (!stale) return;
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`could not build ${CLI} (run \`npm run build\`): ${err.stderr?.toString() || err.message}`);
  }
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing after the build; run \`npm run build\` first`);
}

// ---- temp dirs and environment ----

const tempDirs: string[] = [];

/** A fresh temp directory, removed by `cleanupTempDirs`. Short, so socket paths fit ~104 bytes. */
export function tempDir(prefix = 'hs-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function cleanupTempDirs(): void {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * The environment for a child: ours without any HARNESS_* or XDG_RUNTIME_DIR the test runner
 * may have inherited (so nothing touches a real coordinator or worker id), plus `extra`.
 */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('HARNESS_') && k !== 'XDG_RUNTIME_DIR') env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

// ---- processes ----

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const live = new Set<ChildProcess>();

function track(child: ChildProcess): Promise<Exit> {
  live.add(child);
  return new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
}

/** SIGKILLs every process these helpers spawned that is still running, and waits for each. */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...live].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** Rejects with `message` if `promise` has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${message}`)), ms);
    }),
  ]);
}

export interface ReadyInfo {
  ready: true;
  socket: string;
  pid: number;
  workspace: string;
  /** The old name of `workspace`, still printed for scripts that read it. */
  worktree: string;
}

/** A `harness serve` process. */
export class ServeProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  /** Resolves with the ready line's data; rejects if the process exits first. */
  readonly ready: Promise<ReadyInfo>;

  private constructor(readonly child: ChildProcess) {
    this.exited = track(child);
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => (this.stderr += d));
    this.ready = new Promise<ReadyInfo>((resolve, reject) => {
      child.stdout!.on('data', (d: string) => {
        this.stdout += d;
        const first = this.stdout.split('\n')[0]!;
        if (!this.stdout.includes('\n')) return;
        try {
          const doc = JSON.parse(first) as { data?: ReadyInfo };
          if (doc.data?.ready) resolve(doc.data);
        } catch {
          // not the ready line; the exit handler reports it
        }
      });
      void this.exited.then((e) =>
        reject(new Error(`harness serve exited (${e.code ?? e.signal}) before it was ready:\n${this.stdout}${this.stderr}`)),
      );
    });
    this.ready.catch(() => {}); // a test that expects failure awaits `exited` instead
  }

  /** `cli`: another build of the CLI than this checkout's (e.g. the one inside the .vsix). */
  static spawn(args: string[], env: NodeJS.ProcessEnv = childEnv(), cli = CLI): ServeProcess {
    const child = spawn(process.execPath, [cli, 'serve', ...args], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    return new ServeProcess(child);
  }

  /** Starts `harness serve --worktree <worktree> --socket <socket>` and waits for its ready line. */
  static async start(worktree: string, socket: string | undefined, env?: NodeJS.ProcessEnv): Promise<ServeProcess> {
    const p = ServeProcess.spawn(['--worktree', worktree, ...(socket ? ['--socket', socket] : [])], env);
    await within(p.ready, 20_000, `harness serve ready line\n${p.stderr}`);
    return p;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Sends `signal` and waits for the process to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return within(this.exited, 15_000, `harness serve to exit on ${signal}`);
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as the one JSON document it must be (throws otherwise). */
  json: { status: 'ok' | 'error' } & Record<string, any>;
}

/** Runs `node dist/cli.js ...args` (or another build of the CLI) to completion. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, cwd = ROOT, cli = CLI): Promise<CliResult> {
  const child = spawn(process.execPath, [cli, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = track(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const { code } = await within(exited, 30_000, `harness ${args.join(' ')}`);
  // 'exit' may come before the pipes drain
  await Promise.all([child.stdout!, child.stderr!].map((s) => (s.readableEnded ? null : new Promise((r) => s.once('end', r)))));
  return {
    code,
    stdout,
    stderr,
    get json() {
      return oneJsonDoc(stdout, `harness ${args.join(' ')}`);
    },
  };
}

/** Parses `text` as exactly one JSON document on one line. */
export function oneJsonDoc(text: string, what: string): any {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== 1) throw new Error(`${what}: expected one JSON line on stdout, got ${lines.length}: ${text.slice(0, 2000)}`);
  return JSON.parse(lines[0]!);
}

// ---- raw socket ----

const connections = new Set<RawConnection>();

/** Closes every connection, kills every process, removes every temp dir these helpers made. */
export async function cleanupAll(): Promise<void> {
  for (const c of connections) c.close();
  connections.clear();
  await killAll();
  cleanupTempDirs();
}

/** One raw NDJSON connection: write lines, read lines, nothing in between. */
export class RawConnection {
  private buffer = '';
  private readonly lines: string[] = [];
  private readonly waiters: Array<(line: string) => void> = [];
  private closedWith: Error | undefined;
  private readonly failers: Array<(e: Error) => void> = [];

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) !== -1) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        const waiter = this.waiters.shift();
        if (waiter) {
          this.failers.shift();
          waiter(line);
        } else {
          this.lines.push(line);
        }
      }
    });
    const closed = (e?: Error) => {
      this.closedWith ??= e ?? new Error('connection closed');
      this.waiters.splice(0);
      for (const fail of this.failers.splice(0)) fail(this.closedWith);
    };
    socket.on('error', closed);
    socket.on('close', () => closed());
  }

  static connect(socketPath: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(socketPath);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        const connection = new RawConnection(socket);
        connections.add(connection);
        resolve(connection);
      });
    });
  }

  /** Writes `message` (JSON-encoded unless a string) and a newline. */
  write(message: unknown): void {
    this.socket.write((typeof message === 'string' ? message : JSON.stringify(message)) + '\n');
  }

  /** The next line from the server, parsed. */
  next(timeoutMs = 10_000): Promise<any> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(JSON.parse(queued));
    if (this.closedWith) return Promise.reject(this.closedWith);
    const line = new Promise<string>((resolve, reject) => {
      this.waiters.push(resolve);
      this.failers.push(reject);
    });
    return within(line, timeoutMs, 'a line from the server').then((l) => JSON.parse(l));
  }

  /** Writes one request and reads the next line as its reply. */
  async request(message: unknown): Promise<any> {
    this.write(message);
    return this.next();
  }

  /** Like `request`, but fails unless the reply is ok, and returns its data. */
  async ok(message: unknown): Promise<any> {
    const reply = await this.request(message);
    if (reply.status !== 'ok') throw new Error(`expected ok for ${JSON.stringify(message).slice(0, 200)}, got ${JSON.stringify(reply)}`);
    return reply.data;
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Resolves when the server closes this connection. */
  whenClosed(timeoutMs = 10_000): Promise<void> {
    if (this.closedWith) return Promise.resolve();
    return within(new Promise<void>((r) => this.socket.once('close', () => r())), timeoutMs, 'the connection to close');
  }

  close(): void {
    this.socket.destroy();
    connections.delete(this);
  }
}

/** Polls `probe` until it returns something other than undefined, or fails after `timeoutMs`. */
export async function pollUntil<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A `harness serve` on a fresh temp worktree with its socket inside it, and a CLI environment for it. */
export interface Daemon {
  dir: string;
  socket: string;
  serve: ServeProcess;
  /** For CLI children: HARNESS_SOCKET and a worker-id file in the temp dir. */
  env: NodeJS.ProcessEnv;
  connect(): Promise<RawConnection>;
}

/**
 * `HARNESS_TEST_COORDINATOR=cluster` runs the suites that use these fixtures against a cluster
 * instead of one coordinator (npm run test:integration:cluster): the daemon a test gets is a
 * standby of a two-coordinator cluster on a real nats-server, so every request it takes is
 * forwarded to the leader (support/coordinator-cluster.ts).
 */
export const CLUSTER_MODE = process.env.HARNESS_TEST_COORDINATOR === 'cluster';

export async function startDaemon(): Promise<Daemon> {
  const dir = tempDir();
  const socket = path.join(dir, 'h.sock');
  if (CLUSTER_MODE) {
    // Loaded here only: coordinator-cluster.ts builds on this module.
    const { joinTestCluster } = require('./coordinator-cluster') as typeof import('./coordinator-cluster');
    await joinTestCluster(dir);
  }
  const serve = await ServeProcess.start(dir, socket);
  return {
    dir,
    socket,
    serve,
    env: childEnv({ HARNESS_SOCKET: socket, HARNESS_WORKER_ID_FILE: path.join(dir, 'worker-id') }),
    connect: () => RawConnection.connect(socket),
  };
}

/**
 * The fixture of the CLI integration suites: a fresh `harness serve` and a raw connection to it
 * for every test, handed to `use`; the CLI built once; everything torn down after each test.
 */
export function useDaemon(use: (daemon: Daemon, connection: RawConnection) => void): void {
  before(function () {
    this.timeout(180_000);
    ensureCliBuilt();
  });
  beforeEach(async () => {
    const daemon = await startDaemon();
    use(daemon, await daemon.connect());
  });
  afterEach(cleanupAll);
}

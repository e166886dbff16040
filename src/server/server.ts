import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { describeError, ErrorCode, HarnessError } from '../core/errors';
import type { Disposable } from '../core/events';
import type { EventName } from '../protocol/events';
import { MAX_LINE_BYTES, type EventLine, type Reply } from '../protocol/messages';
import { Connection, DEFAULT_LIMITS, type ConnectionLimits } from './connection';
import { TurnScheduler } from './turns';
import type { ServerContext } from './context';
import { ensurePrivateDirectory } from './private-dir';
import { handleLine } from './request-line';

export interface ServerOptions {
  socketPath: string;
  /** What every connection's requests run with; each connection adds its own signal and subscribe. */
  context: Omit<ServerContext, 'signal' | 'subscribe'>;
  maxLineBytes?: number;
  /** Per-connection bounds (what is owed, read ahead, in flight, per turn); the defaults otherwise. */
  limits?: Partial<Omit<ConnectionLimits, 'maxLineBytes'>>;
  /** Answers a request line (default: `handleLine` here); a cluster node forwards what it does not lead. */
  dispatch?(line: string, ctx: ServerContext): Promise<Reply | EventLine | undefined>;
  /** Where subscribers' events come from (default: this coordinator's and its runs'); a cluster node's come over NATS. */
  events?(forward: (name: string, data: unknown) => void): Disposable;
}

/**
 * Connections waiting to be accepted. Node's default (511) turns a burst of connects away with
 * EAGAIN; the kernel caps this at net.core.somaxconn.
 */
export const LISTEN_BACKLOG = 4096;

/**
 * The coordinator's local socket: newline-delimited JSON, one request per line, replies in
 * request order. A connection's requests run as they arrive, several at once (so many requests
 * share an fsync), within the bounds of `Connection`; connections take turns (`TurnScheduler`).
 */
export class HarnessServer {
  private server: net.Server | undefined;
  private readonly connections = new Set<Connection>();
  private readonly sockets = new Set<net.Socket>();
  private readonly limits: ConnectionLimits;
  private readonly turns: TurnScheduler;

  constructor(private readonly options: ServerOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits, maxLineBytes: options.maxLineBytes ?? MAX_LINE_BYTES };
    this.turns = new TurnScheduler(this.limits.turnSliceMs);
  }

  /** Connections open right now (a closed one counts until the server has seen it close). */
  get connectionCount(): number {
    return this.connections.size;
  }

  get socketPath(): string {
    return this.options.socketPath;
  }

  async listen(): Promise<void> {
    const { socketPath } = this.options;
    if (process.platform !== 'win32') {
      ensurePrivateDirectory(path.dirname(socketPath), socketPath, this.options.context.log);
      await removeStaleSocket(socketPath);
    }
    const server = net.createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path: socketPath, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.options.context.log.error(`socket server: ${describeError(e)}`));
    if (process.platform !== 'win32') fs.chmodSync(socketPath, 0o600);
    this.server = server;
  }

  private accept(socket: net.Socket): void {
    const gone = new AbortController();
    const ctx: ServerContext = {
      ...this.options.context,
      signal: gone.signal,
      subscribe: (events) => this.subscribe(connection, events),
    };
    const connection = new Connection(socket, this.limits, this.turns, (line) => (this.options.dispatch ? this.options.dispatch(line, ctx) : handleLine(line, ctx)), this.options.context.log);
    this.connections.add(connection);
    this.sockets.add(socket);
    socket.on('close', () => {
      this.connections.delete(connection);
      this.sockets.delete(socket);
      this.unsubscribe(connection);
      gone.abort();
    });
  }

  /** The connections that subscribed, with the events each wants (undefined: all of them). */
  private readonly subscribers = new Map<Connection, Set<string> | undefined>();
  private forwarding: Disposable[] = [];

  /** Adds coordinator and run events (all, or the named ones) to what the connection is sent. */
  private subscribe(connection: Connection, events: readonly EventName[] | undefined): void {
    const named = events && events.length > 0 ? new Set<string>(events) : undefined;
    const had = this.subscribers.get(connection);
    const all = named === undefined || (this.subscribers.has(connection) && had === undefined);
    this.subscribers.set(connection, all ? undefined : new Set([...(had ?? []), ...named]));
    if (this.forwarding.length > 0) return;
    // One listener for every subscriber, so an event is serialised once however many want it.
    const forward = (name: string, data: unknown) => {
      let line: string | undefined;
      for (const [c, wanted] of this.subscribers) {
        if (wanted && !wanted.has(name)) continue;
        line ??= JSON.stringify({ event: name, data, ts: new Date().toISOString() } satisfies EventLine);
        c.sendEvent(line, name === 'run:output');
      }
    };
    this.forwarding = this.options.events ? [this.options.events(forward)] : [this.options.context.coordinator.events.onAny(forward), this.options.context.runs.events.onAny(forward)];
  }

  private unsubscribe(connection: Connection): void {
    this.subscribers.delete(connection);
    if (this.subscribers.size > 0) return;
    for (const d of this.forwarding.splice(0)) d.dispose();
  }

  /** Stops accepting, lets in-flight replies go out, closes every connection, removes the socket. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Requests already running are answered before their connection is ended (ending it first
    // would run them without a reply); those read but not run yet, and new ones, are not taken.
    for (const c of this.connections) c.stopTaking();
    let deadline: NodeJS.Timeout | undefined;
    const timeUp = new Promise<void>((resolve) => (deadline = setTimeout(resolve, 2000)));
    await Promise.race([Promise.all([...this.connections].map((c) => c.whenIdle())), timeUp]);
    for (const socket of this.sockets) socket.end();
    void timeUp.then(() => this.sockets.forEach((s) => s.destroy()));
    await closed;
    clearTimeout(deadline);
    if (process.platform !== 'win32') fs.rmSync(this.options.socketPath, { force: true });
  }
}

/**
 * A socket file left by a coordinator that died is removed; one that still answers belongs to a
 * live coordinator, and starting a second one is an error.
 */
async function removeStaleSocket(socketPath: string): Promise<void> {
  if (!fs.existsSync(socketPath)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) {
    throw new HarnessError(ErrorCode.StateLocked, `a coordinator is already listening on ${socketPath}`, { socket: socketPath });
  }
  fs.rmSync(socketPath, { force: true });
}

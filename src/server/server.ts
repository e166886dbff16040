import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { describeError, ErrorCode, HarnessError } from '../core/errors';
import type { Disposable } from '../core/events';
import type { EventName } from '../protocol/events';
import { MAX_LINE_BYTES, type EventLine, type Reply } from '../protocol/messages';
import type { ServerContext } from './context';
import { ensurePrivateDirectory } from './private-dir';
import { handleLine } from './request-line';

export interface ServerOptions {
  socketPath: string;
  /** What every connection's requests run with; each connection adds its own signal and subscribe. */
  context: Omit<ServerContext, 'signal' | 'subscribe'>;
  maxLineBytes?: number;
  /** A connection whose unsent output grows past this is a slow consumer and is dropped. */
  maxBufferedBytes?: number;
  /** Answers a request line (default: `handleLine` here); a cluster node forwards what it does not lead. */
  dispatch?(line: string, ctx: ServerContext): Promise<Reply | EventLine | undefined>;
  /** Where subscribers' events come from (default: this coordinator's and its runs'); a cluster node's come over NATS. */
  events?(forward: (name: string, data: unknown) => void): Disposable;
}

/** How long a connection may sit on a backlog without draining before it counts as not reading. */
const BACKLOG_GRACE_MS = 5000;

interface Backlog {
  /** Live-output events skipped since the reader fell behind. */
  skipped: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The coordinator's local socket: newline-delimited JSON, one request per line, replies in
 * request order. Requests on one connection run as they arrive (so many connections share an
 * fsync), while their replies are written in order.
 */
export class HarnessServer {
  private server: net.Server | undefined;
  private readonly connections = new Set<net.Socket>();
  /** Each connection's chain of replies, so `close` can wait for the ones still owed. */
  private readonly replyChains = new Map<net.Socket, () => Promise<unknown>>();
  private closing = false;
  private readonly maxLine: number;
  private readonly maxBuffered: number;
  private readonly backlogs = new WeakMap<net.Socket, Backlog>();

  constructor(private readonly options: ServerOptions) {
    this.maxLine = options.maxLineBytes ?? MAX_LINE_BYTES;
    this.maxBuffered = options.maxBufferedBytes ?? 16 * 1024 * 1024;
  }

  get socketPath(): string {
    return this.options.socketPath;
  }

  async listen(): Promise<void> {
    const { socketPath } = this.options;
    if (process.platform !== 'win32') {
      ensurePrivateDirectory(path.dirname(socketPath));
      await removeStaleSocket(socketPath);
    }
    const server = net.createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.options.context.log.error(`socket server: ${describeError(e)}`));
    if (process.platform !== 'win32') fs.chmodSync(socketPath, 0o600);
    this.server = server;
  }

  private accept(socket: net.Socket): void {
    this.connections.add(socket);
    const gone = new AbortController();
    const ctx: ServerContext = {
      ...this.options.context,
      signal: gone.signal,
      subscribe: (events) => subscription.push(this.subscribe(socket, events)),
    };
    const subscription: Disposable[] = [];
    let chunks: Buffer[] = [];
    let buffered = 0;
    let discarding = false; // inside a line that was too long: skip to its end
    let replies: Promise<unknown> = Promise.resolve();

    // Lines are answered in the order they came; a notification that succeeded has no answer.
    const respond = (answer: Promise<Reply | EventLine | undefined>) => {
      replies = replies.then(() => answer).then((r) => r && this.write(socket, JSON.stringify(r)));
    };

    this.replyChains.set(socket, () => replies);

    socket.on('data', (data: Buffer) => {
      if (this.closing) return; // shutting down: requests not read yet are not taken
      let start = 0;
      for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, start)) {
        const piece = data.subarray(start, nl);
        start = nl + 1;
        if (discarding) {
          discarding = false;
          continue;
        }
        const bytes = buffered + piece.length; // the limit is in bytes, not UTF-16 characters
        const line = (buffered > 0 ? Buffer.concat([...chunks, piece]) : piece).toString('utf8');
        chunks = [];
        buffered = 0;
        if (bytes > this.maxLine) {
          respond(Promise.resolve(tooLong(this.maxLine)));
          continue;
        }
        if (line.trim() === '') continue;
        respond(this.options.dispatch ? this.options.dispatch(line, ctx) : handleLine(line, ctx));
      }
      if (start < data.length && !discarding) {
        chunks.push(data.subarray(start));
        buffered += data.length - start;
        if (buffered > this.maxLine) {
          chunks = [];
          buffered = 0;
          discarding = true;
          respond(Promise.resolve(tooLong(this.maxLine)));
        }
      }
    });
    const cleanup = () => {
      this.connections.delete(socket);
      this.replyChains.delete(socket);
      for (const d of subscription) d.dispose();
      gone.abort();
    };
    socket.on('close', cleanup);
    socket.on('error', () => socket.destroy());
  }

  /**
   * Writes a line. Past the hard cap the connection is dropped. Past a quarter of it, `droppable`
   * lines (live output, which a viewer can fetch again with run_log) are skipped and counted, and
   * the reader is told how many (`events:dropped`) before the next line it does get, or once it
   * has caught up, whichever comes first; a connection that does not drain at all
   * within BACKLOG_GRACE_MS is dropped: it is not reading.
   */
  private write(socket: net.Socket, line: string, droppable = false): void {
    if (socket.destroyed) return;
    if (socket.writableLength > this.maxBuffered) return this.dropSlowConsumer(socket);
    const soft = this.maxBuffered / 4;
    const backlog = this.backlogs.get(socket) ?? { skipped: 0, timer: undefined };
    this.backlogs.set(socket, backlog);
    if (droppable && socket.writableLength > soft) {
      backlog.skipped++;
      this.watchBacklog(socket, backlog);
      return;
    }
    // Skipped output is announced before the next line that does go out, so a reader learns of
    // the gap in order (before a run:finished, say).
    this.reportSkipped(socket, backlog);
    socket.write(line + '\n');
    if (socket.writableLength > soft) this.watchBacklog(socket, backlog);
  }

  private watchBacklog(socket: net.Socket, backlog: Backlog): void {
    if (backlog.timer) return;
    backlog.timer = setTimeout(() => this.dropSlowConsumer(socket), BACKLOG_GRACE_MS);
    backlog.timer.unref();
    socket.once('drain', () => {
      clearTimeout(backlog.timer);
      backlog.timer = undefined;
      // Caught up: say what was skipped now, not at a next write that may never come.
      if (!socket.destroyed) this.reportSkipped(socket, backlog);
    });
  }

  private reportSkipped(socket: net.Socket, backlog: Backlog): void {
    if (backlog.skipped === 0) return;
    const notice: EventLine = { event: 'events:dropped', data: { count: backlog.skipped, reason: 'output_backlog' }, ts: new Date().toISOString() };
    backlog.skipped = 0;
    socket.write(JSON.stringify(notice) + '\n');
  }

  private dropSlowConsumer(socket: net.Socket): void {
    this.options.context.log.warn('dropping a connection that does not read what it is sent (slow consumer)');
    clearTimeout(this.backlogs.get(socket)?.timer);
    socket.destroy();
  }

  /** Forwards coordinator and run events (all, or the named ones) to the connection. */
  private subscribe(socket: net.Socket, events: readonly EventName[] | undefined): Disposable {
    const wanted = events && events.length > 0 ? new Set<string>(events) : undefined;
    const forward = (name: string, data: unknown) => {
      if (wanted && !wanted.has(name)) return;
      const line: EventLine = { event: name, data, ts: new Date().toISOString() };
      this.write(socket, JSON.stringify(line), name === 'run:output');
    };
    if (this.options.events) return this.options.events(forward);
    const subscriptions = [this.options.context.coordinator.events.onAny(forward), this.options.context.runs.events.onAny(forward)];
    return { dispose: () => subscriptions.forEach((s) => s.dispose()) };
  }

  /** Stops accepting, lets in-flight replies go out, closes every connection, removes the socket. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Requests already read are answered before their connection is ended (ending it first
    // would run them without a reply); no new ones are taken.
    this.closing = true;
    let deadline: NodeJS.Timeout | undefined;
    const timeUp = new Promise<void>((resolve) => (deadline = setTimeout(resolve, 2000)));
    await Promise.race([Promise.all([...this.replyChains.values()].map((chain) => chain().catch(() => {}))), timeUp]);
    for (const socket of this.connections) socket.end();
    void timeUp.then(() => this.connections.forEach((s) => s.destroy()));
    await closed;
    clearTimeout(deadline);
    if (process.platform !== 'win32') fs.rmSync(this.options.socketPath, { force: true });
  }
}

function tooLong(max: number): Reply {
  return { status: 'error', code: ErrorCode.InvalidArgument, message: `message too long: a line may be at most ${max} bytes` };
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

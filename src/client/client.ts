import * as net from 'node:net';
import type { Notifier, ParamsArg } from '../protocol/api';
import type { AnyCommand, ResultOf } from '../protocol/command';
import { ErrorCode, HarnessError } from '../protocol/errors';
import type { EventName } from '../protocol/events';
import { Subscribe } from '../protocol/meta';
import { dataOf, type EventLine, type Reply } from '../protocol/messages';

export interface ConnectOptions {
  /** Keep trying a refused or missing socket this long (backoff between tries). */
  retryForMs?: number;
}

/** How long a connect refused with EAGAIN (a full accept queue) is retried even without `retryForMs`. */
const BUSY_RETRY_MS = 2000;

interface Waiter {
  resolve(reply: Reply): void;
  reject(error: Error): void;
}

/**
 * A connection to a coordinator's socket. Requests may be pipelined: replies come back in
 * request order, so a FIFO of waiters matches them. Notifications get no reply and take no
 * waiter. Event lines (after `subscribe`, and `notification:failed`) go to event listeners.
 */
export class HarnessClient implements Notifier {
  private readonly waiters: Waiter[] = [];
  private readonly eventListeners = new Set<(e: EventLine) => void>();
  private readonly closeListeners = new Set<(error?: Error) => void>();
  private buffer = '';
  private closedError: Error | undefined;

  private constructor(
    private readonly socket: net.Socket,
    readonly socketPath: string,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    const closed = (error?: Error) => {
      if (this.closedError) return;
      this.closedError = new HarnessError(
        ErrorCode.Closed,
        `connection to the coordinator at ${socketPath} closed${error ? `: ${error.message}` : ''}`,
      );
      for (const w of this.waiters.splice(0)) w.reject(this.closedError);
      for (const l of this.closeListeners) l(error);
    };
    socket.on('error', closed);
    socket.on('close', () => closed());
  }

  static async connect(socketPath: string, options: ConnectOptions = {}): Promise<HarnessClient> {
    const started = Date.now();
    const deadline = started + (options.retryForMs ?? 0);
    for (let delay = 10; ; delay = Math.min(delay * 2, 500)) {
      try {
        const socket = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(socketPath);
          s.once('connect', () => {
            s.off('error', reject);
            resolve(s);
          });
          s.once('error', reject);
        });
        return new HarnessClient(socket, socketPath);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // EAGAIN: a live coordinator's queue of connections to accept is full (a burst of
        // clients); worth a few short tries whatever the caller asked for.
        const busy = code === 'EAGAIN' && Date.now() + delay <= started + BUSY_RETRY_MS;
        // ECONNRESET: the coordinator died (or restarted) while our connection sat in its backlog.
        const retriable = code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EAGAIN' || code === 'ECONNRESET';
        if (!busy && (!retriable || Date.now() + delay > deadline)) {
          throw new HarnessError(
            ErrorCode.Closed,
            code === 'EAGAIN'
              ? `the coordinator at ${socketPath} is not accepting connections (EAGAIN: its queue of connections stayed full for ${Date.now() - started} ms)`
              : `no coordinator is listening on ${socketPath} (${code ?? String(e)}); ` +
                  'start one with `harness serve --workspace <dir>` or open the workspace in VS Code with Agent Harness',
            { socket: socketPath, ...(code ? { errno: code } : {}) },
          );
        }
        await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
      }
    }
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) !== -1) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (!line.trim()) continue;
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        continue; // not ours to fix; the server only sends JSON
      }
      if (message && typeof message === 'object' && 'event' in message) {
        for (const l of this.eventListeners) l(message as EventLine);
      } else {
        this.waiters.shift()?.resolve(message as Reply);
      }
    }
  }

  /** Sends a request and returns the reply as the socket gave it, ok or error. */
  send(command: string, params: Record<string, unknown> = {}): Promise<Reply> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise<Reply>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.socket.write(JSON.stringify({ ...params, command }) + '\n');
    });
  }

  /** Runs a command; resolves with its result, or throws the error reply as a HarnessError. */
  async call<D extends AnyCommand>(command: D, ...[params]: ParamsArg<D>): Promise<ResultOf<D>> {
    return dataOf(await this.send(command.name, params ?? {})) as ResultOf<D>;
  }

  /** Sends a notification: no reply is coming, so none is waited for (a refusal arrives as an event). */
  notify<D extends AnyCommand>(command: D, ...[params]: ParamsArg<D>): void {
    if (this.closedError) return; // best effort by nature: what it carried is lost with the connection
    this.socket.write(JSON.stringify({ ...(params ?? {}), command: command.name }) + '\n');
  }

  /** Listens to event lines on this connection (without subscribing). */
  onEvent(listener: (e: EventLine) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  async subscribe(events: readonly EventName[] | undefined, listener: (e: EventLine) => void): Promise<void> {
    this.eventListeners.add(listener);
    await this.call(Subscribe, events ? { events: [...events] } : {});
  }

  onClose(listener: (error?: Error) => void): void {
    this.closeListeners.add(listener);
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  close(): void {
    this.socket.end();
  }
}

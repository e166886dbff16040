// The HTTP side of webhooks (node:http): POST /github and POST /hooks/<sender>, bodies capped,
// slow senders cut off, everything else handed to the intake. Loopback unless told otherwise.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../core/clock';
import type { Coordinator } from '../core/coordinator';
import { describeError, ErrorCode, HarnessError } from '../core/errors';
import type { Logger } from '../core/log';
import type { WebhookSettingsSource } from './config';
import { Intake, type Answer } from './intake';

export const MAX_BODY_BYTES = 1024 * 1024;
/** GitHub gives up after 10 s; a request still arriving after this is cut off. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface WebhookListenerOptions {
  coordinator: Coordinator;
  /** The workspace folder: secret files are relative to it. */
  workspace: string;
  /** The `webhooks` section of config.json, as of now. */
  settings: WebhookSettingsSource;
  log: Logger;
  port: number;
  /** Defaults to 127.0.0.1: a listener on another address is a choice, never a default. */
  host?: string;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  maxBodyBytes?: number;
}

export class WebhookListener {
  private readonly inFlight = new Set<Promise<unknown>>();

  private constructor(
    private readonly server: http.Server,
    readonly intake: Intake,
    private readonly log: Logger,
  ) {}

  /** Starts listening; fails (EADDRINUSE, a bad config) before anything is served. */
  static async start(options: WebhookListenerOptions): Promise<WebhookListener> {
    const intake = new Intake({
      coordinator: options.coordinator,
      workspace: options.workspace,
      settings: options.settings,
      clock: options.clock ?? systemClock,
      log: options.log,
      ...(options.env ? { env: options.env } : {}),
    });
    const settings = intake.currentSettings(); // a broken config stops the start, with its reason
    if (!settings?.github && Object.keys(settings?.standard ?? {}).length === 0) {
      options.log.warn('webhook listener: no webhooks.github or webhooks.standard in .harness/config.json; every delivery will get 404');
    }
    // Secrets may be set later (a file written, the variable in the next start): a warning, not a refusal.
    for (const problem of intake.secretProblems(settings)) options.log.warn(`webhook listener: ${problem}; deliveries to it get 500 until it is fixed`);
    const maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES;
    let listener: WebhookListener | undefined;
    const server = http.createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
      const handled = handle(req, res, intake, maxBody, options.log);
      listener?.inFlight.add(handled);
      void handled.finally(() => listener?.inFlight.delete(handled));
    });
    listener = new WebhookListener(server, intake, options.log);
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((e: NodeJS.ErrnoException) => {
      throw new HarnessError(ErrorCode.InvalidArgument, `webhook listener cannot listen on ${host}:${options.port}: ${e.code ?? e.message}`);
    });
    server.on('error', (e) => options.log.error(`webhook listener: ${describeError(e)}`));
    const { address, port } = listener.address;
    options.log.info(`webhook listener on http://${address.includes(':') ? `[${address}]` : address}:${port} (POST /github, /hooks/<sender>)`);
    return listener;
  }

  get address(): { address: string; port: number } {
    const a = this.server.address() as AddressInfo;
    return { address: a.address, port: a.port };
  }

  /** Stops taking deliveries, lets the ones being stored finish (they were promised), closes. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => setTimeout(r, 5000).unref())]);
    this.server.closeAllConnections();
    await closed;
    this.log.info('webhook listener stopped');
  }
}

function send(res: http.ServerResponse, answer: Answer, close = false): void {
  if (res.headersSent) return;
  const text = JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(text);
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, intake: Intake, maxBody: number, log: Logger): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    req.resume();
    return send(res, { status: 405, body: { status: 'error', message: `${req.method} is not accepted: webhooks are POSTed` } });
  }
  const tooLarge: Answer = { status: 413, body: { status: 'error', message: `body over ${maxBody} bytes` } };
  if (Number(req.headers['content-length'] ?? 0) > maxBody) return refuseRest(req, res, tooLarge);
  const chunks: Buffer[] = [];
  let size = 0;
  const body = await new Promise<Buffer | undefined>((resolve) => {
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBody) {
        req.off('data', onData);
        resolve(undefined);
      } else chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', () => resolve(undefined));
    req.once('close', () => resolve(size > maxBody ? undefined : Buffer.concat(chunks)));
  });
  if (!body) return refuseRest(req, res, tooLarge);
  if (!req.complete) return; // the sender went away or was cut off: nothing to answer
  try {
    send(res, await intake.receive({ path, headers: req.headers, body }));
  } catch (e) {
    log.error(`webhook delivery failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    send(res, { status: 500, body: { status: 'error', message: 'internal error; the coordinator log says why' } });
  }
}

/**
 * Answers at once and closes after; the rest of the body is read and dropped (up to a bound) so
 * the sender, still writing, gets to read the answer instead of a reset connection.
 */
function refuseRest(req: http.IncomingMessage, res: http.ServerResponse, answer: Answer): void {
  send(res, answer, true);
  let drained = 0;
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > 16 * MAX_BODY_BYTES) req.socket.destroy();
  });
  req.resume();
}

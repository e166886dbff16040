// One NATS connection per coordinator or client, with the credentials and TLS the settings name,
// reconnecting for as long as the process runs (a NATS server that dies is left for another of
// the cluster's servers).
import * as fs from 'node:fs';
import type { ConnectionOptions, NatsConnection } from '@nats-io/transport-node';
import { describeError, ErrorCode, HarnessError } from '../core/errors';
import { nats } from './nats-loader';
import { describeSettings, redact, type ClusterSettings } from './settings';

/** Room left in each message for headers: payloads are cut at max_payload less this. */
const HEADER_ROOM = 4096;

export async function connectNats(settings: ClusterSettings, name: string): Promise<NatsConnection> {
  const { connect, credsAuthenticator, nkeyAuthenticator } = nats();
  const options: ConnectionOptions = {
    servers: settings.servers,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    // A server that stops answering is noticed within seconds, not minutes.
    pingInterval: 5000,
    maxPingOut: 2,
    waitOnFirstConnect: false,
  };
  if (settings.user !== undefined) Object.assign(options, { user: settings.user, pass: settings.password });
  if (settings.token !== undefined) options.token = settings.token;
  if (settings.nkeyFile) options.authenticator = nkeyAuthenticator(new TextEncoder().encode(fs.readFileSync(settings.nkeyFile, 'utf8').trim()));
  if (settings.credsFile) options.authenticator = credsAuthenticator(fs.readFileSync(settings.credsFile));
  if (settings.tls) options.tls = { ...settings.tls };
  try {
    return await connect(options);
  } catch (e) {
    // The reason, never the options: they hold the secrets.
    throw new HarnessError(ErrorCode.Unavailable, `could not connect to NATS for ${describeSettings(settings)}: ${redact(describeError(e))}`, {
      outcome: 'not_applied',
    });
  }
}

/** Payload bytes one message may carry on this connection. */
export function payloadLimit(nc: NatsConnection): number {
  return Math.max(16 * 1024, (nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM);
}

/**
 * A NATS client error as a person can act on it. The client reports a JetStream request that no
 * server answered ("no responders": a stream between leaders, its servers down) as "jetstream is
 * not enabled", which on a working cluster misleads.
 */
export function describeNatsError(e: unknown): string {
  const message = redact(describeError(e));
  if (/jetstream is not enabled/i.test(message)) return 'no JetStream server answered (a stream without a leader for now: a NATS server down or restarting?)';
  return message;
}

/** Whether `e` is a compare-and-set that failed: someone else wrote the key or message first. */
export function casFailed(e: unknown): boolean {
  return /wrong last sequence|key exists/i.test(describeError(e));
}

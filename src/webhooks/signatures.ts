// Signature checks for incoming deliveries, in constant time (crypto.timingSafeEqual): GitHub's
// X-Hub-Signature-256, and the Standard Webhooks scheme (webhook-id, webhook-timestamp,
// webhook-signature). Written against node:crypto rather than the `standardwebhooks` package:
// the check is a few lines, and this way the clock is injectable and the digest is native; the
// tests sign with that package to prove the two agree.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`. */
export function verifyGitHubSignature(body: Buffer, header: string | undefined, secret: Buffer): boolean {
  if (!header) return false;
  const match = /^sha256=([0-9a-f]{64})$/i.exec(header.trim());
  if (!match) return false;
  const given = Buffer.from(match[1]!, 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(given, expected);
}

export function signGitHub(body: Buffer | string, secret: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Standard Webhooks refuses messages whose timestamp is further than this from now, either way. */
export const STANDARD_TOLERANCE_MS = 5 * 60 * 1000;

export type StandardCheck = { ok: true; id: string; timestamp: number } | { ok: false; reason: string };

/**
 * The key of a Standard Webhooks secret: `whsec_` then base64. A secret without the prefix is
 * taken as base64 too, as the reference libraries do.
 */
export function standardKey(secret: Buffer): Buffer {
  const text = secret.toString('utf8').trim();
  const key = Buffer.from(text.startsWith('whsec_') ? text.slice(6) : text, 'base64');
  if (key.length === 0) throw new Error('the Standard Webhooks secret decodes to nothing: expected whsec_<base64>');
  return key;
}

/**
 * Checks a Standard Webhooks message: the three headers present, the timestamp within five
 * minutes of `nowMs`, and one of the `v1,<base64>` signatures the HMAC-SHA256 of
 * `<id>.<timestamp>.<body>`. The reason on failure is safe to send back (it names no secret).
 */
export function verifyStandardWebhook(
  body: Buffer,
  headers: { id?: string | undefined; timestamp?: string | undefined; signature?: string | undefined },
  key: Buffer,
  nowMs: number,
): StandardCheck {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) {
    const missing = [!id && 'webhook-id', !timestamp && 'webhook-timestamp', !signature && 'webhook-signature'].filter(Boolean);
    return { ok: false, reason: `missing header ${missing.join(', ')}` };
  }
  if (!/^\d{1,15}$/.test(timestamp)) return { ok: false, reason: 'webhook-timestamp must be whole seconds since the epoch' };
  const seconds = Number(timestamp);
  if (Math.abs(nowMs - seconds * 1000) > STANDARD_TOLERANCE_MS) {
    return { ok: false, reason: `webhook-timestamp ${timestamp} is more than 5 minutes from now: refused as a possible replay` };
  }
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
  for (const versioned of signature.split(' ')) {
    const [version, value] = versioned.split(',', 2);
    if (version !== 'v1' || !value) continue;
    const given = Buffer.from(value, 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true, id, timestamp: seconds };
  }
  return { ok: false, reason: 'no matching v1 signature' };
}

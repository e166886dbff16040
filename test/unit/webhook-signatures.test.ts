import * as assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { signGitHub, standardKey, verifyGitHubSignature, verifyStandardWebhook } from '../../src/webhooks/signatures';

describe('webhook signatures', () => {
  describe('GitHub X-Hub-Signature-256', () => {
    const secret = Buffer.from("It's a Secret to Everybody");
    const body = Buffer.from('Hello, World!');

    it('accepts the signature GitHub documents for its example', () => {
      // The example from GitHub's "Validating webhook deliveries" page.
      const header = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
      assert.equal(verifyGitHubSignature(body, header, secret), true);
      assert.equal(signGitHub(body, secret), header);
    });

    it('refuses a wrong, missing, malformed or other-algorithm signature, and a changed body', () => {
      const good = signGitHub(body, secret);
      assert.equal(verifyGitHubSignature(body, undefined, secret), false);
      assert.equal(verifyGitHubSignature(body, '', secret), false);
      assert.equal(verifyGitHubSignature(body, good.slice(0, -2), secret), false);
      assert.equal(verifyGitHubSignature(body, good.replace('sha256=', 'sha1='), secret), false);
      assert.equal(verifyGitHubSignature(body, signGitHub(body, 'other secret'), secret), false);
      assert.equal(verifyGitHubSignature(Buffer.from('Hello, World?'), good, secret), false);
      assert.equal(verifyGitHubSignature(body, `${good}00`, secret), false);
    });
  });

  describe('Standard Webhooks', () => {
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const reference = new Webhook(secret); // the scheme's reference implementation signs
    const key = standardKey(Buffer.from(secret));
    const now = Date.UTC(2026, 5, 1, 12, 0, 0);
    const body = Buffer.from(JSON.stringify({ type: 'build.failed', timestamp: '2026-06-01T12:00:00Z', data: { job: 7 } }));
    const headers = (id: string, atMs: number, b = body) => ({
      id,
      timestamp: String(Math.floor(atMs / 1000)),
      signature: reference.sign(id, new Date(atMs), b.toString()),
    });

    it('accepts what the reference library signs, at any time within five minutes either way', () => {
      for (const offset of [0, -299_000, 299_000]) {
        const check = verifyStandardWebhook(body, headers('msg_1', now + offset), key, now);
        assert.deepEqual(check, { ok: true, id: 'msg_1', timestamp: Math.floor((now + offset) / 1000) });
      }
    });

    it('refuses a timestamp outside the window, before looking at the signature', () => {
      for (const offset of [-301_000, 301_000, -86_400_000]) {
        const check = verifyStandardWebhook(body, headers('msg_1', now + offset), key, now);
        assert.equal(check.ok, false);
        assert.match((check as { reason: string }).reason, /more than 5 minutes from now/);
      }
    });

    it('takes any matching v1 signature among several, and ignores other versions', () => {
      const h = headers('msg_2', now);
      const several = `v1a,abc v1,${randomBytes(32).toString('base64')} ${h.signature}`;
      assert.equal(verifyStandardWebhook(body, { ...h, signature: several }, key, now).ok, true);
      assert.equal(verifyStandardWebhook(body, { ...h, signature: h.signature.replace('v1,', 'v2,') }, key, now).ok, false);
    });

    it('refuses a changed body, id or timestamp, a wrong key, and missing headers by name', () => {
      const h = headers('msg_3', now);
      assert.equal(verifyStandardWebhook(Buffer.from(`${body} `), h, key, now).ok, false);
      assert.equal(verifyStandardWebhook(body, { ...h, id: 'msg_4' }, key, now).ok, false);
      assert.equal(verifyStandardWebhook(body, { ...h, timestamp: String(Number(h.timestamp) + 1) }, key, now).ok, false);
      assert.equal(verifyStandardWebhook(body, h, randomBytes(24), now).ok, false);
      assert.deepEqual(verifyStandardWebhook(body, { ...h, id: undefined, signature: '' }, key, now), {
        ok: false,
        reason: 'missing header webhook-id, webhook-signature',
      });
      assert.equal(verifyStandardWebhook(body, { ...h, timestamp: '12.5' }, key, now).ok, false);
    });

    it('signs <id>.<timestamp>.<body> with the base64-decoded secret, as the reference does', () => {
      const mine = createHmac('sha256', key).update(`msg_5.${Math.floor(now / 1000)}.${body}`).digest('base64');
      assert.equal(reference.sign('msg_5', new Date(now), body.toString()), `v1,${mine}`);
      assert.throws(() => standardKey(Buffer.from('whsec_')), /decodes to nothing/);
    });
  });
});

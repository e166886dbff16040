import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { ManualClock } from '../../src/core/clock';
import { Coordinator, DEFAULT_CONFIG } from '../../src/core/coordinator';
import { silentLogger } from '../../src/core/log';
import { DeliveryLedger, DELIVERY_PREFIX } from '../../src/webhooks/deliveries';
import { Intake, type Answer } from '../../src/webhooks/intake';
import { commentEvent, githubHeaders, labeledEvent, WEBHOOK_CONFIG, writeWebhookConfig } from '../support/github';
import { storeFactories, tempDir } from '../support/stores';
import { readHarnessConfig } from '../../src/config/harness';

const SECRET = 'gh-test-secret';
const STANDARD_SECRET = `whsec_${Buffer.from('standard webhooks test key 123').toString('base64')}`;

const CONFIG = { ...WEBHOOK_CONFIG, standard: { ci: { ...WEBHOOK_CONFIG.standard.ci, types: ['build.failed'] } } };
const writeConfig = writeWebhookConfig;

for (const factory of storeFactories) {
  describe(`webhook intake over ${factory.name}`, () => {
    let dir: string;
    let clock: ManualClock;
    let c: Coordinator;
    let intake: Intake;

    beforeEach(async () => {
      dir = tempDir();
      writeConfig(dir, CONFIG);
      clock = new ManualClock(Date.UTC(2026, 5, 1));
      c = new Coordinator((await factory.open()).store, DEFAULT_CONFIG, clock);
      intake = new Intake({ coordinator: c, workspace: dir, settings: () => readHarnessConfig(path.join(dir, '.harness')).webhooks, clock, log: silentLogger, env: { GH_SECRET: SECRET, CI_SECRET: STANDARD_SECRET } });
    });
    afterEach(async () => {
      await c.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const github = (payload: unknown, event: string, delivery: string, signature?: string | null): Promise<Answer> => {
      const body = JSON.stringify(payload);
      return intake.receive({ path: '/github', headers: githubHeaders(body, SECRET, event, delivery, signature), body: Buffer.from(body) });
    };
    const webhookState = () => c.primitives.state.list({ prefix: 'webhooks/' }).entries;

    it('stores one task per delivery, answers a redelivery 200, and a second label event finds the task present', async () => {
      const first = await github(labeledEvent(12), 'issues', 'd-1');
      assert.equal(first.status, 201);
      assert.deepEqual(first.body.created, ['gh-acme-widgets-12-agent']);
      const again = await github(labeledEvent(12), 'issues', 'd-1');
      assert.deepEqual([again.status, again.body.duplicate], [200, true]);
      const relabel = await github(labeledEvent(12), 'issues', 'd-2');
      assert.deepEqual([relabel.status, relabel.body.created, relabel.body.existing], [200, [], ['gh-acme-widgets-12-agent']]);
      assert.equal(c.listTasks().length, 1);
    });

    it('stores the same delivery once when it arrives many times at once', async () => {
      const answers = await Promise.all(Array.from({ length: 20 }, () => github(commentEvent(3, '@agent go'), 'issue_comment', 'same')));
      assert.deepEqual(answers.map((a) => a.status).sort(), [...Array(19).fill(200), 201]);
      assert.equal(c.listTasks().length, 1);
    });

    it('refuses a wrong or missing signature with 401 and stores nothing', async () => {
      const wrong = await github(labeledEvent(1), 'issues', 'd-1', 'sha256=' + '0'.repeat(64));
      const missing = await github(labeledEvent(1), 'issues', 'd-1', null);
      assert.deepEqual([wrong.status, wrong.body.message], [401, 'X-Hub-Signature-256 does not match']);
      assert.deepEqual([missing.status, missing.body.message], [401, 'X-Hub-Signature-256 is missing']);
      assert.equal(c.listTasks().length, 0);
      assert.deepEqual(webhookState(), []);
    });

    it('answers 202 and stores nothing for an event no rule wants; 400 for bad JSON; 415 for a form body', async () => {
      const ignored = await github({ zen: 'Design for failure.', hook_id: 1 }, 'ping', 'p-1');
      assert.equal(ignored.status, 202);
      assert.equal((await github(labeledEvent(1, 'bug'), 'issues', 'd-2')).status, 202);
      assert.deepEqual(webhookState(), []);
      const body = '{"action": ';
      const bad = await intake.receive({ path: '/github', headers: githubHeaders(body, SECRET, 'issues', 'd-3'), body: Buffer.from(body) });
      assert.equal(bad.status, 400);
      assert.match(String(bad.body.message), /malformed JSON/);
      const tabbed = await github(labeledEvent(1), 'issues', 'd\t5');
      assert.deepEqual([tabbed.status, tabbed.body.message], [400, 'X-GitHub-Delivery must be 1 to 200 printable characters without spaces']);
      const form = 'payload=%7B%7D';
      const formAnswer = await intake.receive({ path: '/github', headers: { ...githubHeaders(form, SECRET, 'issues', 'd-4'), 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from(form) });
      assert.equal(formAnswer.status, 415);
      assert.equal(c.listTasks().length, 0);
    });

    it('answers 500 without the secret or its source when the secret is unavailable, and 404 elsewhere', async () => {
      intake = new Intake({ coordinator: c, workspace: dir, settings: () => readHarnessConfig(path.join(dir, '.harness')).webhooks, clock, log: silentLogger, env: {} });
      const answer = await github(labeledEvent(1), 'issues', 'd-1');
      assert.equal(answer.status, 500);
      assert.doesNotMatch(JSON.stringify(answer.body), /GH_SECRET|gh-test-secret/);
      assert.equal((await intake.receive({ path: '/nope', headers: {}, body: Buffer.alloc(0) })).status, 404);
    });

    it('checks Standard Webhooks messages against its clock, keys tasks by message id, and filters types', async () => {
      const reference = new Webhook(STANDARD_SECRET);
      const send = (id: string, atMs: number, payload: unknown) => {
        const body = JSON.stringify(payload);
        const headers = { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(atMs / 1000)), 'webhook-signature': reference.sign(id, new Date(atMs), body) };
        return intake.receive({ path: '/hooks/ci', headers, body: Buffer.from(body) });
      };
      const failed = { type: 'build.failed', timestamp: '2026-06-01T00:00:00Z', data: { job: 1 } };
      const old = await send('msg_old', clock.now() - 6 * 60_000, failed);
      assert.equal(old.status, 401);
      assert.match(String(old.body.message), /more than 5 minutes from now/);
      const future = await send('msg_future', clock.now() + 6 * 60_000, failed);
      assert.equal(future.status, 401);
      assert.equal(c.listTasks().length, 0);
      assert.deepEqual((await send('msg_1', clock.now(), failed)).body.created, ['wh-ci-msg_1']);
      assert.equal((await send('msg_1', clock.now(), failed)).status, 200);
      assert.equal((await send('msg_2', clock.now(), { ...failed, type: 'build.passed' })).status, 202);
      assert.equal((await intake.receive({ path: '/hooks/other', headers: {}, body: Buffer.alloc(0) })).status, 404);
      assert.deepEqual(c.listTasks().map((t) => t.id), ['wh-ci-msg_1']);
    });

    it('answers 500 and stores nothing while the config is broken, and follows it once fixed', async () => {
      fs.writeFileSync(path.join(dir, '.harness', 'config.json'), '{"webhooks": {"github": {"secret": {"env": "GH_SECRET"}, "rules": [{"name": "a", "on": "nope"}]}}}');
      assert.equal((await github(labeledEvent(1), 'issues', 'd-1')).status, 500);
      writeConfig(dir, { github: { ...CONFIG.github, rules: [{ name: 'bugs', on: 'issues.labeled', label: 'bug' }] } });
      const answer = await github(labeledEvent(1, 'bug'), 'issues', 'd-1');
      assert.deepEqual(answer.body.created, ['gh-acme-widgets-1-bugs']);
    });

    it('keeps delivery ids for a week and at most a bounded number, in a fixed set of keys', async () => {
      const ledger = new DeliveryLedger(c, clock, 7 * 24 * 3600 * 1000, 5);
      await Promise.all(Array.from({ length: 200 }, (_, i) => ledger.record(`d-${i}`)));
      const entries = c.primitives.state.list({ prefix: `${DELIVERY_PREFIX}/` }).entries;
      assert.ok(entries.length <= 32, `${entries.length} keys`);
      for (const e of entries) assert.ok(Object.keys(e.value as object).length <= 5);
      assert.equal(ledger.seen('d-199'), true);
      clock.advance(7 * 24 * 3600 * 1000);
      assert.equal(ledger.seen('d-199'), false, 'forgotten after a week');
      await ledger.record('new');
      const shard = c.primitives.state.list({ prefix: `${DELIVERY_PREFIX}/` }).entries.find((e) => Object.hasOwn(e.value as object, 'new'));
      assert.deepEqual(Object.keys(shard!.value as object), ['new'], 'the expired ids of its shard were dropped');
    });
  });
}

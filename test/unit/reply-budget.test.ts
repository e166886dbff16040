// Replies whose rows carry caller-made JSON (message bodies, shared values) stay within a budget
// however much is stored: what is left out is said (truncated) or comes with the next receive.
import * as assert from 'node:assert/strict';
import { Coordinator, DEFAULT_CONFIG } from '../../src/core/coordinator';
import { MemoryStore } from '../../src/core/memory-store';
import { MessageAck, MessageList, MessageReceive, MessageSend } from '../../src/protocol/mailbox';
import { StateList, StatePut } from '../../src/protocol/shared-state';
import { REPLY_BUDGET_BYTES, withinBudget } from '../../src/server/handlers/budget';
import { dispatcher } from '../support/dispatch';

/** A value of about `bytes` of JSON, well under a request line. */
const big = (tag: string, bytes: number) => ({ tag, fill: 'x'.repeat(bytes) });
const SIZE = 700 * 1024;
const COUNT = 10; // 7 MB in all: more than one budget
const replyBytes = (data: unknown) => JSON.stringify(data).length;

describe('reply budget', () => {
  const d = () => dispatcher(new Coordinator(new MemoryStore(), DEFAULT_CONFIG));

  it('keeps the first rows that fit, at least one, and says whether any were left out', () => {
    assert.deepEqual(withinBudget([1, 2, 3], 100), { rows: [1, 2, 3], truncated: false });
    assert.deepEqual(withinBudget(['aaaa', 'bbbb', 'cccc'], 13), { rows: ['aaaa', 'bbbb'], truncated: true });
    assert.deepEqual(withinBudget(['a'.repeat(50), 'b'], 10), { rows: ['a'.repeat(50)], truncated: true }, 'one row bigger than the budget still goes');
    assert.deepEqual(withinBudget([], 10), { rows: [], truncated: false });
  });

  it('message_receive brings at most the budget; the rest come with the next receives, oldest first', async () => {
    const api = d();
    for (let i = 0; i < COUNT; i++) await api.call(MessageSend, { to: 'w', body: big(`m${i}`, SIZE) });
    const seen: string[] = [];
    for (let round = 0; round < COUNT && seen.length < COUNT; round++) {
      const { messages } = await api.call(MessageReceive, { worker_id: 'w', max: 1000 });
      assert.ok(messages.length >= 1, 'at least one');
      assert.ok(replyBytes(messages) <= REPLY_BUDGET_BYTES + SIZE, `a receive of ${replyBytes(messages)} bytes`);
      if (round === 0) assert.ok(messages.length < COUNT, 'the first receive was cut short');
      for (const m of messages) {
        seen.push((m.body as { tag: string }).tag);
        await api.call(MessageAck, { worker_id: 'w', message_id: m.id });
      }
    }
    assert.deepEqual(seen, Array.from({ length: COUNT }, (_, i) => `m${i}`), 'every message, once each, in order');
  });

  it('message_list and state_list stop at the budget and say truncated', async () => {
    const api = d();
    for (let i = 0; i < COUNT; i++) {
      await api.call(MessageSend, { to: 'w', body: big(`m${i}`, SIZE) });
      await api.call(StatePut, { key: `k${String(i).padStart(2, '0')}`, value: big(`v${i}`, SIZE) });
    }
    const mail = await api.call(MessageList, {});
    assert.equal(mail.truncated, true);
    assert.ok(mail.messages.length >= 1 && mail.messages.length < COUNT);
    assert.deepEqual(
      mail.messages.map((m) => (m.body as { tag: string }).tag),
      Array.from({ length: mail.messages.length }, (_, i) => `m${i}`),
      'the oldest first',
    );
    const state = await api.call(StateList, {});
    assert.equal(state.truncated, true);
    assert.ok(state.entries.length >= 1 && state.entries.length < COUNT);
    assert.ok(replyBytes(state.entries) <= REPLY_BUDGET_BYTES + SIZE);
    const narrow = await api.call(StateList, { prefix: 'k09' });
    assert.deepEqual([narrow.entries.map((e) => e.key), narrow.truncated], [['k09'], false], 'a narrower prefix gets the rest');
    const small = d();
    await small.call(StatePut, { key: 'a', value: 1 });
    assert.deepEqual(await small.call(StateList, {}).then((r) => r.truncated), false);
  });
});

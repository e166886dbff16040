import * as assert from 'node:assert/strict';
import { MessageReceive, MessageSend, TopicSubscribe } from '../../src/protocol/mailbox';
import { forEachStore, rejects, settled } from '../support/primitives';

forEachStore('Mailboxes', (f) => {
  const m = () => f.c.primitives.mail;
  const ids = async (worker_id: string) => (await m().receive({ worker_id })).messages.map((x) => x.body);

  it('direct messages come back oldest first, again and again, until acknowledged', async () => {
    const sent = await m().send({ to: 'w1', body: { n: 1 }, from: 'lead' });
    assert.deepEqual(sent.recipients, ['w1']);
    await m().send({ to: 'w1', body: { n: 2 } });
    await m().send({ to: 'w2', body: 'not yours' });
    const first = await m().receive({ worker_id: 'w1' });
    assert.deepEqual(first.messages.map((x) => [x.body, x.from, x.to]), [
      [{ n: 1 }, 'lead', 'w1'],
      [{ n: 2 }, null, 'w1'],
    ]);
    assert.deepEqual(await ids('w1'), [{ n: 1 }, { n: 2 }], 'at least once: not gone until acknowledged');
    assert.equal((await m().receive({ worker_id: 'w1', max: 1 })).messages.length, 1);
    await m().ack({ worker_id: 'w1', message_id: sent.message_id });
    assert.deepEqual(await ids('w1'), [{ n: 2 }]);
    await rejects(m().ack({ worker_id: 'w1', message_id: sent.message_id }), 'NOT_FOUND', 'already acknowledged');
    await rejects(m().ack({ worker_id: 'w2', message_id: first.messages[1]!.id }), 'NOT_FOUND', 'not pending for w2');
  });

  it('a topic delivers one copy to each subscriber at the time it is sent', async () => {
    await m().subscribe({ worker_id: 'a', topic: 'builds' });
    await m().subscribe({ worker_id: 'b', topic: 'topic:builds' });
    await m().subscribe({ worker_id: 'b', topic: 'builds' }); // idempotent
    const sent = await m().send({ to: 'topic:builds', body: 'green' });
    assert.deepEqual(sent.recipients, ['a', 'b']);
    await m().unsubscribe({ worker_id: 'b', topic: 'builds' });
    await m().send({ to: 'topic:builds', body: 'red' });
    assert.deepEqual(await ids('a'), ['green', 'red']);
    assert.deepEqual(await ids('b'), ['green']);
    await m().ack({ worker_id: 'a', message_id: sent.message_id });
    assert.deepEqual(await ids('b'), ['green'], 'per-subscriber: a’s ack does not take b’s copy');
    assert.deepEqual((await m().send({ to: 'topic:nobody', body: 1 })).recipients, []);
  });

  it('a receive with wait_ms is woken by the message it waits for, or returns nothing when time is up', async () => {
    const waiting = m().receive({ worker_id: 'w', wait_ms: 5000 });
    assert.equal(await settled(waiting, f.store), false);
    await m().send({ to: 'other', body: 'not for w' });
    assert.equal(await settled(waiting, f.store), false);
    await m().send({ to: 'w', body: 'hello' });
    assert.deepEqual((await waiting).messages.map((x) => x.body), ['hello']);
    const empty = m().receive({ worker_id: 'nobody', wait_ms: 30_000 });
    f.clock.advance(29_999);
    assert.equal(await settled(empty, f.store), false, 'waits for the injected clock to pass wait_ms');
    f.clock.advance(1);
    assert.deepEqual((await empty).messages, []);
  });

  it('lists every pending delivery, also to workers that never came back; a person may drop one', async () => {
    await f.c.registerInstance({ worker_id: 'gone' });
    await m().subscribe({ worker_id: 'gone', topic: 't' });
    await m().subscribe({ worker_id: 'stays', topic: 't' });
    const direct = await m().send({ to: 'gone', body: 'direct' });
    const topic = await m().send({ to: 'topic:t', body: 'fan-out' });
    await f.c.deregisterInstance({ worker_id: 'gone' });
    const listed = m().list({});
    assert.deepEqual(listed.messages.map((x) => [x.id, x.recipient]), [
      [direct.message_id, 'gone'],
      [topic.message_id, 'gone'],
      [topic.message_id, 'stays'],
    ]);
    assert.deepEqual(listed.topics, { t: ['stays'] }, 'a worker that went away is unsubscribed');
    assert.deepEqual((await m().drop({ message_id: topic.message_id, recipient: 'gone' })).recipients, ['gone']);
    assert.deepEqual((await m().drop({ message_id: direct.message_id })).recipients, ['gone']);
    assert.deepEqual(m().list({ recipient: 'gone' }).messages, []);
    await rejects(m().drop({ message_id: direct.message_id }), 'NOT_FOUND', 'no pending delivery');
  });

  it('emits message events', async () => {
    const seen: string[] = [];
    f.c.events.onAny((name) => String(name).startsWith('message:') && seen.push(String(name)));
    const s = await m().send({ to: 'w', body: 1 });
    await m().ack({ worker_id: 'w', message_id: s.message_id });
    const s2 = await m().send({ to: 'w', body: 2 });
    await m().drop({ message_id: s2.message_id });
    assert.deepEqual(seen, ['message:sent', 'message:acked', 'message:sent', 'message:dropped']);
  });

  it('bad parameters are clear INVALID_ARGUMENT errors (at the dispatcher, before the core)', async () => {
    await rejects(f.d.raw(MessageSend, { to: 'has space', body: 1 }), 'INVALID_ARGUMENT', 'to');
    await rejects(f.d.raw(MessageSend, { to: 'topic:', body: 1 }), 'INVALID_ARGUMENT', 'names no topic');
    await rejects(f.d.raw(MessageSend, { to: 'w' }), 'INVALID_ARGUMENT', 'body');
    await rejects(f.d.raw(MessageReceive, { worker_id: 'w', max: 0 }), 'INVALID_ARGUMENT', 'max');
    await rejects(f.d.raw(TopicSubscribe, { worker_id: 'w', topic: '' }), 'INVALID_ARGUMENT', 'topic');
    assert.deepEqual(m().list({}).messages, [], 'nothing was sent');
  });

  it('keeps pending messages and subscriptions across a reopen', async function () {
    if (!f.factory.persistent) this.skip();
    await m().subscribe({ worker_id: 'a', topic: 't' });
    await m().send({ to: 'topic:t', body: { keep: 1 } });
    await f.reopen();
    assert.deepEqual(await ids('a'), [{ keep: 1 }]);
    assert.deepEqual((await m().send({ to: 'topic:t', body: 2 })).recipients, ['a']);
    assert.equal((await m().send({ to: 'a', body: 3 })).message_id, 'msg-3', 'ids go on where they were');
  });
});

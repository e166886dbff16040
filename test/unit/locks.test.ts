import * as assert from 'node:assert/strict';
import type { ParamsOf } from '../../src/protocol/command';
import { LockAcquire, LockRelease } from '../../src/protocol/locks';
import { forEachStore, rejects, settled, tick } from '../support/primitives';

const ROOT = '/work/space';

forEachStore('File locks', (f) => {
  type AcquireExtra = Omit<ParamsOf<typeof LockAcquire>, 'worker_id' | 'path'>;
  const acquire = (worker_id: string, path: string, extra: AcquireExtra = {}) => f.c.primitives.locks.acquire({ worker_id, path, ...extra }, ROOT);
  const release = (worker_id: string, extra: Omit<ParamsOf<typeof LockRelease>, 'worker_id'>) => f.c.primitives.locks.release({ worker_id, ...extra }, ROOT);

  it('grants a write lock with a fencing token that grows at every grant', async () => {
    const a = await acquire('w1', 'src/a.ts');
    assert.equal(a.lock.path, 'src/a.ts');
    assert.equal(a.lock.mode, 'write');
    assert.equal(a.lock.ttl_seconds, 60);
    await release('w1', { path: 'src/a.ts' });
    const b = await acquire('w2', './src/../src/a.ts');
    assert.equal(b.lock.path, 'src/a.ts', 'paths are normalized');
    assert.ok(b.lock.token > a.lock.token);
    const other = await acquire('w1', `${ROOT}/other`);
    assert.equal(other.lock.path, 'other', 'an absolute path inside the workspace is made relative');
    assert.ok(other.lock.token > b.lock.token);
  });

  it('write is exclusive, read is shared; a refusal is a TIMEOUT naming the holder', async () => {
    await acquire('w1', 'f', { mode: 'read' });
    await acquire('w2', 'f', { mode: 'read' });
    const e = await rejects(acquire('w3', 'f'), 'TIMEOUT', 'write lock on f is not free: held by w1 (read');
    assert.match(e.message, /w2 \(read/);
    assert.equal((e.details!.holders as unknown[]).length, 2);
    await release('w1', { path: 'f' });
    await release('w2', { path: 'f' });
    await acquire('w3', 'f');
    await rejects(acquire('w1', 'f', { mode: 'read' }), 'TIMEOUT', 'held by w3 (write');
    await rejects(acquire('w3', 'f'), 'TIMEOUT', 'held by w3', ); // not re-entrant: every grant is its own
  });

  it('a waiter is woken when the lock is released, and the TIMEOUT after wait_ms names the holder', async () => {
    await acquire('w1', 'f');
    const waiting = acquire('w2', 'f', { wait_ms: 5000 });
    assert.equal(await settled(waiting, f.store), false);
    const listed = f.c.primitives.locks.list({}, ROOT);
    assert.deepEqual(listed.waiting.map((w) => [w.worker_id, w.position]), [['w2', 1]]);
    await release('w1', { path: 'f' });
    const got = await waiting;
    assert.equal(got.lock.worker_id, 'w2');
    const late = acquire('w3', 'f', { wait_ms: 50 });
    f.clock.advance(50);
    await rejects(late, 'TIMEOUT', /not granted within 50 ms: held by w2 \(write, token \d+/);
  });

  it('waits in the injected clock’s time: times out when the clock passes wait_ms and not before; waited_ms and since are its time', async () => {
    await acquire('w1', 'f', { ttl_seconds: 3600 });
    const waiting = acquire('w2', 'f', { wait_ms: 60_000 });
    f.clock.advance(59_999);
    assert.equal(await settled(waiting, f.store), false, 'still waiting 1 ms before its wait_ms');
    f.clock.advance(1);
    await rejects(waiting, 'TIMEOUT', 'not granted within 60000 ms');
    const since = f.clock.now();
    const next = acquire('w3', 'f', { wait_ms: 60_000 });
    assert.equal(f.c.primitives.locks.list({}, ROOT).waiting[0]!.since, new Date(since).toISOString());
    f.clock.advance(2500);
    await release('w1', { path: 'f' });
    assert.equal((await next).waited_ms, 2500);
  });

  it('a lock running out wakes its waiter when the clock passes the expiry, with no sweep', async () => {
    await acquire('w1', 'f', { ttl_seconds: 10 });
    const waiting = acquire('w2', 'f', { wait_ms: 60_000 });
    f.clock.advance(9999);
    assert.equal(await settled(waiting, f.store), false);
    f.clock.advance(1);
    assert.equal((await waiting).waited_ms, 10_000);
  });

  it('is fair: waiters are served first come, first served, and a waiting writer holds back later readers', async () => {
    await acquire('r0', 'f', { mode: 'read' });
    const order: string[] = [];
    const w1 = acquire('w1', 'f', { wait_ms: 5000 }).then((g) => (order.push('w1'), g));
    await tick();
    const r1 = acquire('r1', 'f', { mode: 'read', wait_ms: 5000 }).then((g) => (order.push('r1'), g));
    const r2 = acquire('r2', 'f', { mode: 'read', wait_ms: 5000 }).then((g) => (order.push('r2'), g));
    await tick();
    await rejects(acquire('r3', 'f', { mode: 'read' }), 'TIMEOUT', '3 other request(s) waiting');
    assert.equal(await settled(r1, f.store), false, 'a reader may not overtake the waiting writer');
    await release('r0', { path: 'f' });
    const g1 = await w1;
    assert.equal(await settled(r1, f.store), false);
    await release('w1', { token: g1.lock.token });
    await Promise.all([r1, r2]);
    assert.deepEqual(order, ['w1', 'r1', 'r2'], 'both readers after the writer, together');
    assert.equal(f.c.primitives.locks.list({ path: 'f' }, ROOT).locks.length, 2);
  });

  it('a waiter that times out at the head lets the readers behind it through', async () => {
    await acquire('r0', 'f', { mode: 'read' });
    const w = acquire('w', 'f', { wait_ms: 40 });
    await tick();
    const r = acquire('r1', 'f', { mode: 'read', wait_ms: 5000 });
    f.clock.advance(40);
    await rejects(w, 'TIMEOUT');
    assert.equal((await r).lock.worker_id, 'r1');
  });

  it('expires after its TTL unless renewed; the sweep deletes it and wakes the waiter', async () => {
    const g = await acquire('w1', 'f', { ttl_seconds: 10 });
    f.clock.advance(8000);
    const renewed = await f.c.primitives.locks.renew({ worker_id: 'w1', token: g.lock.token });
    assert.equal(Date.parse(renewed.lock.expires_at) - f.clock.now(), 10_000);
    const waiting = acquire('w2', 'f', { wait_ms: 60_000 });
    f.clock.advance(9000);
    assert.equal(await settled(waiting, f.store), false);
    f.clock.advance(1000);
    await f.c.sweep();
    assert.equal((await waiting).lock.worker_id, 'w2');
    await rejects(f.c.primitives.locks.renew({ worker_id: 'w1', token: g.lock.token }), 'NOT_FOUND', `w1 does not hold lock ${g.lock.token}`);
  });

  it('an expired lock no longer blocks, even before the sweep; its holder cannot renew it', async () => {
    const g = await acquire('w1', 'f', { ttl_seconds: 1 });
    f.clock.advance(1000);
    await rejects(f.c.primitives.locks.renew({ worker_id: 'w1', token: g.lock.token }), 'LEASE_EXPIRED', 'acquire it again');
    assert.deepEqual(f.c.primitives.locks.list({}, ROOT).locks, []);
    const events: string[] = [];
    f.c.events.on('lock:released', (e) => events.push(`${e.lock.worker_id}:${e.reason}`));
    await acquire('w2', 'f');
    assert.deepEqual(events, ['w1:expired']);
  });

  it('is released at once when its holder deregisters or is swept as stale; its waits end too', async () => {
    await f.c.registerInstance({ worker_id: 'w1' });
    await f.c.registerInstance({ worker_id: 'w2' });
    await acquire('w1', 'a', { ttl_seconds: 3600 });
    await acquire('w1', 'b', { ttl_seconds: 3600 });
    await acquire('w2', 'c', { ttl_seconds: 3600 });
    const w1Waits = acquire('w1', 'c', { wait_ms: 60_000 });
    const reasons: string[] = [];
    f.c.events.on('lock:released', (e) => reasons.push(`${e.lock.path}:${e.reason}`));
    await f.c.deregisterInstance({ worker_id: 'w1' });
    await rejects(w1Waits, 'INSTANCE_STALE', 'went away');
    assert.deepEqual(reasons.sort(), ['a:holder_gone', 'b:holder_gone']);
    await acquire('w3', 'a', { ttl_seconds: 3600 });

    f.clock.advance(f.c.settings.staleInstanceMs);
    await f.c.sweep();
    assert.deepEqual(f.c.primitives.locks.list({}, ROOT).locks.map((l) => l.worker_id), ['w3']);
    await rejects(acquire('w2', 'x'), 'INSTANCE_STALE', 'register it again');
  });

  it('releases by token or by path; another worker’s lock is refused', async () => {
    const g = await acquire('w1', 'f', { mode: 'read' });
    await acquire('w1', 'f', { mode: 'read' });
    await rejects(release('w2', { token: g.lock.token }), 'NOT_CLAIMED_BY', `lock ${g.lock.token} on f is held by w1, not w2`);
    assert.equal((await release('w1', { token: g.lock.token })).released.length, 1);
    assert.equal((await release('w1', { path: 'f' })).released.length, 1);
    await rejects(release('w1', { path: 'f' }), 'NOT_FOUND', 'w1 does not hold a lock on f');
  });

  it('refuses paths outside the workspace', async () => {
    await rejects(acquire('w', '../x'), 'PATH_OUTSIDE_WORKSPACE', '"../x" is outside the workspace');
    await rejects(acquire('w', 'a/../../x'), 'PATH_OUTSIDE_WORKSPACE');
    await rejects(acquire('w', '/etc/passwd'), 'PATH_OUTSIDE_WORKSPACE', '/etc/passwd');
    await rejects(acquire('w', `${ROOT}-other/x`), 'PATH_OUTSIDE_WORKSPACE');
    await rejects(acquire('w', 'a\0b'), 'INVALID_ARGUMENT', 'NUL');
  });

  it('bad parameters are clear INVALID_ARGUMENT errors (at the dispatcher, before the core)', async () => {
    const bad = (extra: Record<string, unknown>) => f.d.raw(LockAcquire, { worker_id: 'w', path: 'f', ...extra });
    await rejects(bad({ mode: 'exclusive' }), 'INVALID_ARGUMENT', 'mode');
    await rejects(bad({ ttl_seconds: 0 }), 'INVALID_ARGUMENT', 'ttl_seconds');
    await rejects(bad({ wait_ms: -1 }), 'INVALID_ARGUMENT', 'wait_ms');
    await rejects(bad({ worker_id: '' }), 'INVALID_ARGUMENT', 'worker_id');
    await rejects(bad({ path: '' }), 'INVALID_ARGUMENT', 'path');
    await rejects(f.d.raw(LockRelease, { worker_id: 'w' }), 'INVALID_ARGUMENT', 'give the path or the token');
    assert.deepEqual(f.c.primitives.locks.list({}, ROOT).locks, [], 'nothing was granted');
  });

  it('a request withdrawn while waiting leaves the line; one granted to a requester that left is released', async () => {
    await acquire('w1', 'f');
    const abort = new AbortController();
    const waiting = f.c.primitives.locks.acquire({ worker_id: 'w2', path: 'f', wait_ms: 60_000 }, ROOT, abort.signal);
    await tick();
    abort.abort();
    await rejects(waiting, 'CLOSED', 'withdrawn');
    assert.deepEqual(f.c.primitives.locks.list({}, ROOT).waiting, []);
  });

  it('keeps granted locks and the token counter across a reopen', async function () {
    if (!f.factory.persistent) this.skip();
    const g = await acquire('w1', 'f', { ttl_seconds: 600 });
    await f.reopen();
    assert.deepEqual(f.c.primitives.locks.list({}, ROOT).locks, [g.lock]);
    await rejects(acquire('w2', 'f'), 'TIMEOUT', 'held by w1');
    assert.ok((await acquire('w2', 'g')).lock.token > g.lock.token);
  });
});

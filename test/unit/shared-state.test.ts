import * as assert from 'node:assert/strict';
import { StatePut } from '../../src/protocol/shared-state';
import { forEachStore, rejects } from '../support/primitives';

forEachStore(
  'Shared state',
  (f) => {
    const s = () => f.c.primitives.state;

    it('put and get JSON values with versions; a missing key is NOT_FOUND with version 0', async () => {
      const e = await rejects(s().get({ key: 'cfg' }), 'NOT_FOUND', 'state key "cfg" does not exist');
      assert.equal(e.details!.version, 0);
      assert.equal((await s().put({ key: 'cfg', value: { a: [1, 'x', null] } })).version, 1);
      assert.equal((await s().put({ key: 'cfg', value: 7, worker_id: 'w1' })).version, 2);
      const got = await s().get({ key: 'cfg' });
      assert.deepEqual([got.value, got.version, got.updated_by], [7, 2, 'w1']);
      assert.match(got.updated_at, /^\d{4}-\d\d-\d\dT/);
      await s().put({ key: 'nothing', value: null });
      assert.equal((await s().get({ key: 'nothing' })).value, null);
    });

    it('compare-and-set: a mismatch is a CONFLICT carrying the current version; 0 means "must not exist"', async () => {
      await s().put({ key: 'k', value: 1, expected_version: 0 });
      const e = await rejects(s().put({ key: 'k', value: 2, expected_version: 0 }), 'CONFLICT', 'is at version 1, not 0');
      assert.deepEqual(e.details, { key: 'k', current_version: 1, expected_version: 0 });
      await s().put({ key: 'k', value: 2, expected_version: 1 });
      await rejects(s().put({ key: 'k', value: 3, expected_version: 1 }), 'CONFLICT', 'version 2');
      await rejects(s().put({ key: 'new', value: 3, expected_version: 4 }), 'CONFLICT', 'is at version 0 (it does not exist), not 4');
      assert.equal((await s().get({ key: 'k' })).value, 2);
    });

    it('100 concurrent read-modify-write increments with retries end at exactly 100', async () => {
      await s().put({ key: 'n', value: 0 });
      let conflicts = 0;
      const increment = async () => {
        for (;;) {
          const { value, version } = await s().get({ key: 'n' });
          try {
            return await s().put({ key: 'n', value: (value as number) + 1, expected_version: version });
          } catch (e) {
            if ((e as { code?: string }).code !== 'CONFLICT') throw e;
            conflicts++;
          }
        }
      };
      await Promise.all(Array.from({ length: 100 }, increment));
      const final = await s().get({ key: 'n' });
      assert.equal(final.value, 100);
      assert.equal(final.version, 101);
      assert.ok(conflicts > 0, 'the increments did contend');
      assert.equal(s().history({ key: 'n' }).versions.length, 3, 'only the configured number of versions is kept');
    });

    it('keeps the last N versions, newest first, dropping older ones', async () => {
      for (let i = 1; i <= 5; i++) await s().put({ key: 'h', value: i });
      assert.deepEqual(
        s().history({ key: 'h' }).versions.map((v) => [v.version, v.value]),
        [
          [5, 5],
          [4, 4],
          [3, 3],
        ],
      );
      f.c.configure({ stateHistoryLimit: 1 });
      await s().put({ key: 'h', value: 6 });
      assert.deepEqual(s().history({ key: 'h' }).versions.map((v) => v.version), [6]);
    });

    it('delete leaves a tombstone version: versions never repeat, and a create after it expects 0', async () => {
      await s().put({ key: 'd', value: 'x' });
      await rejects(s().delete({ key: 'd', expected_version: 5 }), 'CONFLICT');
      assert.equal((await s().delete({ key: 'd', expected_version: 1 })).version, 2);
      await rejects(s().get({ key: 'd' }), 'NOT_FOUND');
      await rejects(s().delete({ key: 'd' }), 'NOT_FOUND');
      await rejects(s().put({ key: 'd', value: 'y', expected_version: 2 }), 'CONFLICT', 'does not exist');
      assert.equal((await s().put({ key: 'd', value: 'y', expected_version: 0 })).version, 3);
      assert.deepEqual(s().history({ key: 'd' }).versions.map((v) => [v.version, v.deleted]), [
        [3, false],
        [2, true],
        [1, false],
      ]);
    });

    it('lists the current values under a prefix, without deleted keys', async () => {
      for (const key of ['app/a', 'app/b', 'apple', 'other', 'app/c']) await s().put({ key, value: key.length });
      await s().delete({ key: 'app/c' });
      assert.deepEqual(s().list({ prefix: 'app/' }).entries.map((e) => [e.key, e.value]), [
        ['app/a', 5],
        ['app/b', 5],
      ]);
      assert.equal(s().list({}).entries.length, 4);
    });

    it('emits state:changed after each write', async () => {
      const seen: string[] = [];
      f.c.events.on('state:changed', (e) => seen.push(`${e.key}@${e.version}${e.deleted ? ' deleted' : ''}`));
      await s().put({ key: 'e', value: 1 });
      await s().delete({ key: 'e' });
      assert.deepEqual(seen, ['e@1', 'e@2 deleted']);
    });

    it('bad parameters are clear INVALID_ARGUMENT errors (at the dispatcher, before the core)', async () => {
      const put = (params: Record<string, unknown>) => f.d.raw(StatePut, params);
      await rejects(put({ key: '', value: 1 }), 'INVALID_ARGUMENT', 'key');
      await rejects(put({ key: 'a\nb', value: 1 }), 'INVALID_ARGUMENT', 'control characters');
      await rejects(put({ key: 'k' }), 'INVALID_ARGUMENT', 'value');
      await rejects(put({ key: 'k', value: 1, expected_version: -1 }), 'INVALID_ARGUMENT', 'expected_version');
      await rejects(put({ key: 'k', value: 1, expected_version: 1.5 }), 'INVALID_ARGUMENT', 'expected_version');
      assert.deepEqual(s().list({}).entries, [], 'nothing was written');
    });

    it('keeps values and versions across a reopen', async function () {
      if (!f.factory.persistent) this.skip();
      await s().put({ key: 'p', value: { deep: true } });
      await s().put({ key: 'p', value: { deep: false } });
      await f.reopen();
      const got = await s().get({ key: 'p' });
      assert.deepEqual([got.value, got.version], [{ deep: false }, 2]);
      assert.equal(s().history({ key: 'p' }).versions.length, 2);
    });
  },
  { stateHistoryLimit: 3 },
);

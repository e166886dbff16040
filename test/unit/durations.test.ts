// Durations on the socket: every one the catalog takes has a maximum, below Node's 2^31-1 ms timer
// limit (beyond it a timer fires after 1 ms), and a value over it is refused naming the field, the
// value and the limit in words. The exec runner refuses the same way instead of ending a command at once.
import * as assert from 'node:assert/strict';
import { z } from 'zod';
import { Coordinator, DEFAULT_CONFIG } from '../../src/core/coordinator';
import { MemoryStore } from '../../src/core/memory-store';
import { runProcess } from '../../src/exec';
import { CATALOG } from '../../src/protocol/catalog';
import { inWords, MAX_DURATION_SECONDS } from '../../src/protocol/durations';
import { dispatcher } from '../support/dispatch';

const TIMER_LIMIT_MS = 2 ** 31 - 1;

type Schema = { properties?: Record<string, Schema>; anyOf?: Schema[]; items?: Schema; maximum?: number };

/** Every property named *_ms or *_seconds, at any depth, with its path. */
function durationFields(schema: Schema, at: string): Array<{ at: string; schema: Schema }> {
  const found: Array<{ at: string; schema: Schema }> = [];
  for (const [name, sub] of Object.entries(schema.properties ?? {})) {
    const path = `${at}.${name}`;
    if (/_(ms|seconds)$/.test(name)) found.push({ at: path, schema: sub });
    found.push(...durationFields(sub, path));
  }
  for (const sub of [...(schema.anyOf ?? []), ...(schema.items ? [schema.items] : [])]) found.push(...durationFields(sub, at));
  return found;
}

describe('durations', () => {
  it('says a limit in words', () => {
    assert.deepEqual([inWords(604800), inWords(86400), inWords(600), inWords(90), inWords(7200)], ['7 days', '1 day', '10 minutes', '90 seconds', '2 hours']);
  });

  it('every duration parameter of the catalog has a maximum, and it fits a Node timer', () => {
    const fields = CATALOG.flatMap((c) => durationFields(z.toJSONSchema(c.params, { io: 'input' }) as Schema, c.name));
    assert.ok(fields.length >= 8, `found only ${fields.map((f) => f.at).join(', ')}`);
    for (const { at, schema } of fields) {
      assert.equal(typeof schema.maximum, 'number', `${at} has no maximum`);
      const ms = at.endsWith('_ms') ? schema.maximum! : schema.maximum! * 1000;
      assert.ok(ms < TIMER_LIMIT_MS, `${at}: a maximum of ${ms} ms overflows a timer`);
    }
  });

  it('a duration over its maximum is refused naming the field, the value given and the limit in words', async () => {
    const d = dispatcher(new Coordinator(new MemoryStore(), DEFAULT_CONFIG));
    const refused = async (command: string, params: Record<string, unknown>) => {
      const reply = await d.send(command, params);
      assert.equal(reply.status, 'error', JSON.stringify(reply));
      return reply.status === 'error' ? reply.message : '';
    };
    assert.equal(
      await refused('task_add', { task_id: 'a', timeout_seconds: 1e9 }),
      'invalid task_add: timeout_seconds: must be at most 604800 seconds (7 days), got 1000000000',
    );
    assert.equal(
      await refused('plan_import', { tasks: [{ id: 'a', timeout_seconds: 0 }] }),
      'invalid plan_import: tasks[0].timeout_seconds: must be more than 0 seconds, got 0',
    );
    assert.equal(
      await refused('lock_acquire', { worker_id: 'w', path: 'x', wait_ms: 2 ** 31 }),
      'invalid lock_acquire: wait_ms: must be at most 86400000 ms (1 day), got 2147483648',
    );
    assert.equal(
      await refused('lock_acquire', { worker_id: 'w', path: 'x', ttl_seconds: 604801 }),
      'invalid lock_acquire: ttl_seconds: must be at most 604800 seconds (7 days), got 604801',
    );
    assert.match(await refused('message_receive', { worker_id: 'w', wait_ms: 1e12 }), /wait_ms: must be at most 86400000 ms \(1 day\), got 1000000000000$/);
    assert.match(await refused('resource_acquire', { worker_id: 'w', amounts: { a: 1 }, ttl_seconds: 1e9 }), /ttl_seconds: must be at most 604800 seconds/);
    assert.deepEqual(await d.send('task_get', { task_id: 'a' }).then((r) => r.status), 'error', 'nothing was added');
  });

  it('the exec runner refuses a timeout over the maximum instead of ending the command after 1 ms', async () => {
    const handle = runProcess({ argv: [process.execPath, '-e', ''], timeoutMs: (MAX_DURATION_SECONDS + 1) * 1000 });
    await assert.rejects(handle.result, (e: Error & { code?: string }) => {
      assert.equal(e.code, 'INVALID_OPTIONS');
      assert.equal(e.message, 'the timeout must be from 0 to 604800 seconds (7 days), got 604801 s');
      return true;
    });
    const grace = runProcess({ argv: [process.execPath, '-e', ''], killGraceMs: 601_000 });
    await assert.rejects(grace.result, /the kill grace must be from 0 to 600 seconds \(10 minutes\), got 601 s/);
  });

  it('the exec runner honours a long timeout: a command with a 7-day timeout runs to its end', async function () {
    this.timeout(20_000);
    const result = await runProcess({ argv: [process.execPath, '-e', 'setTimeout(() => {}, 300)'], timeoutMs: MAX_DURATION_SECONDS * 1000 }).result;
    assert.deepEqual([result.timed_out, result.returncode], [false, 0]);
    assert.ok(result.duration_ms >= 250, `ran for ${result.duration_ms} ms`);
  });
});

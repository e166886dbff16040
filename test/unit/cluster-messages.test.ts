// How records travel as JetStream messages (cluster/log-messages.ts) and how cluster settings
// are read (cluster/settings.ts): pure functions, no server.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode, type HarnessError } from '../../src/core/errors';
import { recordJson } from '../../src/core/journal';
import type { Change } from '../../src/core/store';
import { packEntries, RecentMessages, RecordReader, type OutMessage } from '../../src/cluster/log-messages';
import { PartAssembler, splitParts } from '../../src/cluster/parts';
import { clusterSettings, describeSettings, redact } from '../../src/cluster/settings';

const meta = (key: string, value: string): Change => ({ op: 'meta', key, value });
const entry = (seq: number, value: string) => ({ seq, json: recordJson(seq, [meta('k', value)]), changes: 1 });

function asRead(messages: OutMessage[], from = 1) {
  return messages.map((m, i) => ({ seq: from + i, data: m.data, header: (name: string) => m.headers[name] }));
}

describe('cluster log messages', () => {
  it('packs small records into one message and reads them back in order', () => {
    const entries = [entry(1, 'a'), entry(2, 'b'), entry(3, 'c')];
    const messages = packEntries(entries, 10_000);
    assert.equal(messages.length, 1);
    assert.equal(messages[0]!.headers['Harness-Records'], '1-3');
    const reader = new RecordReader(0, 'test');
    assert.deepEqual(asRead(messages).flatMap((m) => reader.read(m).map((r) => r.c)), [[meta('k', 'a')], [meta('k', 'b')], [meta('k', 'c')]]);
    assert.equal(reader.last, 3);
  });

  it('cuts a record larger than a message into parts, multi-byte characters split across them included', () => {
    const value = 'ü✓'.repeat(2000);
    const messages = packEntries([entry(1, 'a'), entry(2, value), entry(3, 'c')], 1000);
    const parts = messages.filter((m) => m.headers['Harness-Part']);
    assert.ok(parts.length > 5, `${parts.length} parts`);
    assert.ok(messages.every((m) => m.data.length <= 1000));
    const reader = new RecordReader(0, 'test');
    const values = asRead(messages).flatMap((m) => reader.read(m).map((r) => (r.c[0] as { value: string }).value));
    assert.deepEqual(values, ['a', value, 'c']);
  });

  it('drops a torn record (its parts stop) and takes the next record of the same number', () => {
    const torn = packEntries([entry(2, 'x'.repeat(3000))], 1000).slice(0, 2);
    const next = packEntries([entry(2, 'y')], 1000);
    const reader = new RecordReader(1, 'test');
    const got = asRead([...torn, ...next], 10).flatMap((m) => reader.read(m));
    assert.deepEqual(got.map((r) => [r.s, (r.c[0] as { value: string }).value]), [[2, 'y']]);
    assert.equal(reader.torn, 1);
  });

  it('ignores the tail of a record whose first parts were trimmed away, and records a snapshot already holds', () => {
    const parts = packEntries([entry(5, 'x'.repeat(3000))], 1000);
    const reader = new RecordReader(5, 'test');
    assert.deepEqual(asRead(parts.slice(1)).flatMap((m) => reader.read(m)), []);
    assert.deepEqual(asRead(packEntries([entry(4, 'old'), entry(5, 'old'), entry(6, 'new')], 10_000)).flatMap((m) => reader.read(m).map((r) => r.s)), [6]);
  });

  it('refuses a gap, naming the records on either side', () => {
    const reader = new RecordReader(1, 'stream S');
    assert.throws(
      () => asRead(packEntries([entry(3, 'x')], 10_000), 7).forEach((m) => reader.read(m)),
      (e: HarnessError) => e.code === ErrorCode.StateCorrupt && /stream S skips from record 1 to 3 at message 7/.test(e.message) && e.details?.gap === true,
    );
  });
});

describe('the messages a coordinator keeps to put back', () => {
  const kept = (seq: number, bytes: number) => ({ seq, data: new Uint8Array(bytes), headers: { 'Harness-Id': `m${seq}` } });

  it('keeps the newest messages within its bytes, the oldest going first, and always the last one', () => {
    const recent = new RecentMessages(250);
    for (let seq = 1; seq <= 5; seq++) recent.add(kept(seq, 100));
    assert.deepEqual([1, 2, 3, 4, 5].map((s) => recent.get(s)?.headers['Harness-Id']), [undefined, undefined, undefined, 'm4', 'm5']);
    recent.add(kept(6, 1000));
    assert.equal(recent.get(5), undefined);
    assert.equal(recent.get(6)?.data.length, 1000, 'one message larger than the limit is still kept');
  });

  it('a message stored again under its number replaces the old', () => {
    const recent = new RecentMessages(10_000);
    for (let seq = 1; seq <= 4; seq++) recent.add(kept(seq, 10));
    recent.add({ ...kept(2, 20), headers: { 'Harness-Id': 'other' } });
    assert.equal(recent.get(2)?.headers['Harness-Id'], 'other');
  });
});

describe('cluster message parts', () => {
  it('splits and reassembles; a message in one piece passes straight through', () => {
    const data = new Uint8Array(2500).map((_, i) => i % 251);
    const parts = splitParts(data, 1000, { 'Harness-Request': 'r1' });
    assert.equal(parts.length, 3);
    const assembler = new PartAssembler<string>();
    const results = parts.map((p) => assembler.add('r1', p.headers!.get('Harness-Part'), p.data));
    assert.deepEqual(results.slice(0, 2), [undefined, undefined]);
    assert.deepEqual([...results[2]!], [...data]);
    const small = new Uint8Array([1, 2, 3]);
    assert.equal(assembler.add('r2', undefined, small), small);
  });

  it('drops a message whose parts arrive out of order', () => {
    const parts = splitParts(new Uint8Array(3000), 1000);
    const assembler = new PartAssembler<string>();
    assert.equal(assembler.add('m', parts[0]!.headers!.get('Harness-Part'), parts[0]!.data), undefined);
    assert.equal(assembler.add('m', parts[2]!.headers!.get('Harness-Part'), parts[2]!.data), undefined);
    assert.equal(assembler.add('m', parts[1]!.headers!.get('Harness-Part'), parts[1]!.data), undefined);
  });
});

describe('cluster settings', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hset-'));
    fs.mkdirSync(path.join(dir, '.harness'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const state = () => path.join(dir, '.harness');
  const config = (section: unknown, mode = 0o600) => {
    const file = path.join(dir, '.harness', 'config.json');
    fs.writeFileSync(file, JSON.stringify({ cluster: section }));
    fs.chmodSync(file, mode);
  };
  const refuses = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, (e: HarnessError) => pattern.test(e.message));

  it('none without a server or a name: the coordinator runs on its own', () => {
    assert.equal(clusterSettings({}, {}, state(), dir), undefined);
  });

  it('flags over the environment over the config file', () => {
    config({ url: 'nats://config:4222', name: 'fromconfig', leader_ttl_seconds: 5, replicas: 3 });
    assert.deepEqual(clusterSettings({}, {}, state(), dir), { servers: ['nats://config:4222'], cluster: 'fromconfig', leaderTtlMs: 5000, replicas: 3 });
    const env = { HARNESS_NATS_URL: 'nats://a:1,nats://b:2', HARNESS_CLUSTER: 'fromenv' };
    assert.deepEqual(clusterSettings({}, env, state(), dir)?.servers, ['nats://a:1', 'nats://b:2']);
    assert.equal(clusterSettings({ cluster: 'fromflag' }, env, state(), dir)?.cluster, 'fromflag');
  });

  it('clear errors for a missing half, a bad name, a bad address, mixed credentials', () => {
    refuses(() => clusterSettings({ nats: 'nats://h:4222' }, {}), /--nats needs a cluster name: --cluster NAME/);
    refuses(() => clusterSettings({ cluster: 'x' }, {}), /cluster "x" needs NATS servers: --nats URL/);
    refuses(() => clusterSettings({ nats: 'h:4222', cluster: 'a.b' }, {}), /cluster name must be 1 to 64 letters, digits, '_' or '-', got "a.b"/);
    refuses(() => clusterSettings({ nats: 'http://h/x', cluster: 'a' }, {}), /not a NATS server address: "http:\/\/h\/x"/);
    refuses(() => clusterSettings({ nats: 'h:4222', cluster: 'a' }, { HARNESS_NATS_TOKEN: 't', HARNESS_NATS_USER: 'u', HARNESS_NATS_PASSWORD: 'p' }), /one of user and password, a token/);
    refuses(() => clusterSettings({ nats: 'h:4222', cluster: 'a' }, { HARNESS_NATS_USER: 'u' }), /a user needs a password/);
    config({ leader_ttl_seconds: 'soon' });
    refuses(() => clusterSettings({ nats: 'h:4222', cluster: 'a' }, {}, state(), dir), /config\.json: cluster\.leader_ttl_seconds/);
  });

  it('refuses secret files others may read: creds, nkey seed, a config file holding a password', () => {
    const creds = path.join(dir, 'u.creds');
    fs.writeFileSync(creds, 'x');
    fs.chmodSync(creds, 0o640);
    refuses(() => clusterSettings({ nats: 'h:4222', cluster: 'a' }, { HARNESS_NATS_CREDS: creds }), /the creds file .*u\.creds may be read by others \(mode 0640\).*chmod 600/);
    fs.chmodSync(creds, 0o600);
    assert.equal(clusterSettings({ nats: 'h:4222', cluster: 'a' }, { HARNESS_NATS_CREDS: creds })?.credsFile, creds);
    refuses(() => clusterSettings({ nats: 'h:4222', cluster: 'a' }, { HARNESS_NATS_NKEY: path.join(dir, 'none.nk') }), /the nkey seed file .*none\.nk cannot be read: ENOENT/);
    config({ user: 'u', password: 'p' }, 0o644);
    refuses(() => clusterSettings({ nats: 'h:4222', cluster: 'a' }, {}, state(), dir), /the config file .*config\.json may be read by others/);
  });

  it('never shows a password in what it prints', () => {
    const s = clusterSettings({ nats: 'nats://user:hunter2@h:4222,tls://h2:4222', cluster: 'a' }, {})!;
    assert.doesNotMatch(describeSettings(s), /hunter2/);
    assert.equal(redact('nats://user:hunter2@h:4222'), 'nats://***@h:4222');
  });
});

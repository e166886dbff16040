// `harness ping --format text`: which coordinator answered, and in cluster mode where it stands
// and who leads (README "Several machines": ping names the leader).
import * as assert from 'node:assert/strict';
import { pingText } from '../../src/cli/text';

const base = { workspace: '/w', worktree: '/w', pid: 42, protocol: 2, state_dir: '/w/.harness' } as unknown as Parameters<typeof pingText>[0];
const since = new Date(Date.now() - 65_000).toISOString();

describe('ping --format text', () => {
  it('alone: the coordinator, nothing about a cluster', () => {
    assert.equal(pingText(base), 'coordinator of /w answers (pid 42, protocol 2, state in /w/.harness)\n');
  });

  it('a standby names the leader, its host and when it took over; a leader says it leads; nobody leading is said', () => {
    const leader = { node: 'hostb-7-abc', host: 'hostb', pid: 7, since };
    const standby = pingText({ ...base, cluster: { cluster: 'app', node: 'hosta-42-xyz', role: 'standby', leader, record: 1200 } });
    assert.match(standby, /^cluster app: this coordinator \(hosta-42-xyz\) is a standby; hostb-7-abc on hostb \(pid 7\) leads, took over 1 min( 5 s)? ago \(at record 1200\)\n$/m);
    const leading = pingText({ ...base, cluster: { cluster: 'app', node: 'hostb-7-abc', role: 'leader', leader, record: 1200 } });
    assert.match(leading, /^cluster app: this coordinator \(hostb-7-abc\) is the leader, took over 1 min( 5 s)? ago \(at record 1200\)\n$/m);
    const none = pingText({ ...base, cluster: { cluster: 'app', node: 'hosta-42-xyz', role: 'standby', leader: null, record: 3 } });
    assert.match(none, /; nobody leads right now \(at record 3\)\n$/);
  });
});

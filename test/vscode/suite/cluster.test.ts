// A window whose settings name a cluster (agentHarness.natsUrl, agentHarness.clusterName), in a
// real VS Code: its coordinator runs in the extension host as one of the cluster, a real
// nats-server and another coordinator (`harness serve --nats`, which leads) beside it.
import * as assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Connection } from '../../../src/host/connection';
import type { EventLine } from '../../../src/protocol/messages';
import { Ping } from '../../../src/protocol/meta';
import { TaskAdd, TaskGet } from '../../../src/protocol/tasks';
import { readSettings } from '../../../src/ui/settings';
import { statusBarText } from '../../../src/ui/view-models';
import { cli, eventually, repoRoot } from './support';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Resolves with the first line of `child`'s output matching `pattern`. */
function lineOf(child: ChildProcess, pattern: RegExp, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const look = (d: Buffer) => {
      text += d.toString();
      const line = text.split('\n').find((l) => pattern.test(l));
      if (line) resolve(line);
    };
    child.stdout?.on('data', look);
    child.stderr?.on('data', look);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) first:\n${text}`)));
  });
}

function natsServer(): string {
  const find = () => ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((f) => fs.existsSync(f));
  if (!find()) execFileSync('bash', [path.join(repoRoot(), 'scripts', 'install-peers.sh')], { stdio: 'pipe', timeout: 300_000 });
  return find()!;
}

describe('cluster mode in a window', function () {
  this.timeout(120_000);
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hvc-'));
    dirs.push(dir);
    return dir;
  };
  let url = '';
  const cluster = `vscode${process.pid}`;
  let leader: { pid: number; socket: string };

  before(async function () {
    this.timeout(300_000);
    const port = await freePort();
    const nats = spawn(natsServer(), ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', tempDir()], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(nats);
    await lineOf(nats, /Server is ready/, 'nats-server');
    url = `nats://127.0.0.1:${port}`;
    const workspace = tempDir();
    const socket = path.join(workspace, 'h.sock');
    const serve = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'cli.js'), 'serve', '--workspace', workspace, '--socket', socket, '--nats', url, '--cluster', cluster], {
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', HARNESS_SOCKET: '', HARNESS_NATS_URL: '', HARNESS_CLUSTER: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(serve);
    await lineOf(serve, /leading cluster/, 'harness serve');
    leader = { pid: serve.pid!, socket };
  });

  after(() => {
    for (const c of children) c.kill('SIGKILL');
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('its coordinator joins the cluster: requests go to the leader, its events come back, ping and the status bar name the host that leads', async () => {
    const settings = readSettings((key) => ({ natsUrl: url, clusterName: cluster })[key]).settings;
    const log = vscode.window.createOutputChannel('Agent Harness cluster test', { log: true });
    const connection = new Connection(tempDir(), () => settings, log);
    try {
      const api = await connection.ensure();
      assert.equal(api.mode, 'in-process');
      const events: EventLine[] = [];
      const sub = api.onEvent((e) => events.push(e));
      const ping = await api.call(Ping);
      assert.ok(ping.cluster, 'ping answers as a coordinator of a cluster');
      assert.deepEqual([ping.cluster.cluster, ping.cluster.role, ping.cluster.leader?.pid], [cluster, 'standby', leader.pid]);

      await api.call(TaskAdd, { task: { id: 'from-the-window' } });
      // The leader holds it: another client, on the leader's own socket, reads it.
      const got = await cli(['task', 'show', '--id', 'from-the-window'], { HARNESS_SOCKET: leader.socket });
      assert.equal(got.code, 0, got.stderr);
      assert.equal((await api.call(TaskGet, { task_id: 'from-the-window' })).task.status, 'pending');
      // A change made at the leader reaches this window as an event, over NATS.
      const added = await cli(['task', 'add', '--id', 'from-elsewhere'], { HARNESS_SOCKET: leader.socket });
      assert.equal(added.code, 0, added.stderr);
      await eventually('the event of a task added at the leader', () =>
        events.some((e) => e.event === 'task:added' && (e.data as { tasks: Array<{ id: string }> }).tasks.some((t) => t.id === 'from-elsewhere')),
      );
      sub.dispose();

      const bar = statusBarText({ counts: { pending: 2, running: 0, completed: 0, dead_letter: 0, cancelled: 0 }, ready: 2, instances: 0, cluster: ping.cluster });
      assert.match(bar.text, new RegExp(`\\$\\(server\\) ${os.hostname()}$`));
      assert.match(bar.tooltip, new RegExp(`Cluster ${cluster}: led by ${os.hostname()} \\(pid ${leader.pid}\\)`));
    } finally {
      await connection.dispose();
      log.dispose();
    }
  });
});

// Real NATS for the cluster tests: one nats-server, or a 3-node JetStream cluster (routes between
// them, replicas 3) on loopback ports, each with its store in a temporary folder. Nodes can be
// SIGKILLed and started again on the same store, as a crashed server restarts. nats-server comes
// from Debian's package, installed by scripts/install-peers.sh (the bench's peers) when missing.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ConnectionOptions } from '@nats-io/transport-node';
import { natsAddresses, natsServerConfig, waitForJetStream } from '../../bench/peers/nats-cluster';
import { ROOT, within } from './harness-process';

let serverBinary: string | undefined;

/** The nats-server binary, installing Debian's package first when it is missing. */
export function natsServerBinary(): string {
  if (serverBinary) return serverBinary;
  const find = () => ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((f) => fs.existsSync(f));
  if (!find()) {
    try {
      execFileSync('bash', [path.join(ROOT, 'scripts', 'install-peers.sh')], { stdio: 'pipe', timeout: 300_000 });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      throw new Error(`nats-server is missing and scripts/install-peers.sh could not install it: ${err.stderr?.toString() || err.message}`);
    }
  }
  serverBinary = find();
  if (!serverBinary) throw new Error('nats-server is missing after scripts/install-peers.sh');
  return serverBinary;
}

interface NatsNode {
  name: string;
  port: number;
  clusterPort: number;
  config: string;
  child?: ChildProcess;
  exited?: Promise<void>;
  log: string;
}

const running = new Set<NatsCluster>();

/** Stops every NATS server the tests started (afterEach and the process's exit). */
export async function stopAllNats(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop()));
}
process.once('exit', () => {
  for (const c of running) {
    for (const n of c.nodes) n.child?.kill('SIGKILL');
    fs.rmSync(c.dir, { recursive: true, force: true });
  }
});

export class NatsCluster {
  private constructor(
    readonly nodes: NatsNode[],
    readonly dir: string,
    /** What the tests' own clients need to connect (when the servers ask for credentials). */
    readonly client: Partial<ConnectionOptions>,
  ) {}

  /** `size` nats-servers with JetStream, routed together when more than one; resolves once JetStream answers. */
  static async start(size: 1 | 3, options: { extraConfig?: string; client?: Partial<ConnectionOptions> } = {}): Promise<NatsCluster> {
    natsServerBinary();
    // Not a tempDir(): the tests' cleanup after each test must not remove a store in use.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hnats-'));
    const addresses = await natsAddresses(size);
    const nodes: NatsNode[] = addresses.map((a) => ({ ...a, config: path.join(dir, `${a.name}.conf`), log: '' }));
    for (const node of addresses) {
      fs.writeFileSync(path.join(dir, `${node.name}.conf`), natsServerConfig(node, addresses, path.join(dir, node.name), options.extraConfig));
    }
    const cluster = new NatsCluster(nodes, dir, options.client ?? {});
    running.add(cluster);
    await Promise.all(nodes.map((_, i) => cluster.startNode(i)));
    await cluster.waitForJetStream();
    return cluster;
  }

  /** Comma-separated client URLs of every node (clients move to another when one dies). */
  get url(): string {
    return this.nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(',');
  }

  /** Starts node `i` (again) on its store; resolves once it says it is ready. */
  async startNode(i: number): Promise<void> {
    const node = this.nodes[i]!;
    const child = spawn(natsServerBinary(), ['-c', node.config], { stdio: ['ignore', 'pipe', 'pipe'] });
    // A server shared by a whole test run must not keep mocha from exiting; it is killed at exit.
    child.unref();
    (child.stdout as unknown as { unref(): void }).unref();
    (child.stderr as unknown as { unref(): void }).unref();
    node.child = child;
    node.exited = new Promise((r) => child.once('exit', () => r()));
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        node.log += d.toString();
        if (/Server is ready/.test(node.log)) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => reject(new Error(`nats-server ${node.name} exited (${code ?? signal}):\n${node.log.slice(-3000)}`)));
    });
    await within(ready, 20_000, `nats-server ${node.name} to be ready\n${node.log.slice(-2000)}`);
  }

  /** Kills node `i` with `signal` and waits for it to exit. */
  async killNode(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const node = this.nodes[i]!;
    if (!node.child || node.child.exitCode !== null || node.child.signalCode !== null) return;
    node.child.kill(signal);
    await within(node.exited!, 15_000, `nats-server ${node.name} to exit`);
  }

  /** Waits until JetStream takes requests (a cluster has elected its meta leader). */
  waitForJetStream(timeoutMs = 30_000): Promise<void> {
    return waitForJetStream(this.url.split(','), this.nodes.length, timeoutMs, this.client);
  }

  async stop(): Promise<void> {
    running.delete(this);
    await Promise.all(this.nodes.map((_, i) => this.killNode(i, 'SIGKILL')));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// Real processes, real SIGKILL: whatever a coordinator acknowledged before it was killed is on disk.
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { HarnessError } from '../../src/core/errors';
import { FileStore } from '../../src/core/file-store';
import { tempDir } from '../support/stores';

const CHILD = path.join(__dirname, '../support/crash-child.ts');
const ROOT = path.join(__dirname, '../..');

/** A crash-child process and the lines it printed, with a way to wait for one. */
class Child {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  /** Settles once the process is gone and its stdout is read to the end. */
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiter: { test: (line: string) => boolean; resolve: (line: string) => void } | undefined;

  constructor(dir: string, mode: 'work' | 'hold', snapshotAfterBytes = 4096) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, mode, String(snapshotAfterBytes)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      this.lines.push(line);
      if (this.waiter?.test(line)) {
        this.waiter.resolve(line);
        this.waiter = undefined;
      }
    });
    this.closed = new Promise((resolve) => this.proc.on('close', (code, signal) => resolve({ code, signal })));
  }

  /** The first line from now on that passes `test`; fails if the child ends first. */
  next(test: (line: string) => boolean): Promise<string> {
    return Promise.race([
      new Promise<string>((resolve) => (this.waiter = { test, resolve })),
      this.closed.then(({ code, signal }) => {
        throw new Error(`child ended (code ${code}, signal ${signal}) before the expected line\n${this.lines.join('\n')}\n${this.stderr}`);
      }),
    ]);
  }

  async kill(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    const { signal } = await this.closed;
    assert.equal(signal, 'SIGKILL', `the child should die of SIGKILL, not on its own:\n${this.lines.join('\n')}\n${this.stderr}`);
  }
}

describe('crash safety with real processes', function () {
  this.timeout(120_000);
  let dir: string;
  const children: Child[] = [];
  const start = (mode: 'work' | 'hold') => {
    const child = new Child(dir, mode);
    children.push(child);
    return child;
  };

  beforeEach(() => (dir = tempDir('harness-crash-')));
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
      await child.closed;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged change when the coordinator is SIGKILLed at a random point, round after round', async () => {
    const added = new Set<string>();
    const claimed = new Set<string>();
    const completed = new Set<string>();
    const rounds = 5;
    for (let round = 1; round <= rounds; round++) {
      const killAfter = 1 + Math.floor(Math.random() * 80);
      const where = `round ${round}, killed after ${killAfter} acknowledgements`;
      const child = start('work');
      let acks = 0;
      await child.next((line) => line.startsWith('ack ') && ++acks >= killAfter);
      await child.kill();

      // Every line the child printed before it died has been read: all it ever acknowledged.
      assert.ok(!child.lines.some((l) => l.startsWith('error')), `${where}: ${child.lines.join('\n')}`);
      for (const line of child.lines) {
        const [word, op, ...ids] = line.split(' ');
        if (word !== 'ack') continue;
        const into = op === 'add' ? added : op === 'claim' ? claimed : completed;
        for (const id of ids) into.add(id);
      }

      const store = await FileStore.open({ dir });
      try {
        for (const id of added) assert.ok(store.getTask(id), `${where}: acknowledged task ${id} is missing`);
        for (const id of claimed) {
          const task = store.getTask(id)!;
          assert.ok(task.attempts >= 1 && task.fencing_token >= 1, `${where}: acknowledged claim of ${id} is missing`);
          assert.ok(task.status === 'running' || task.status === 'completed', `${where}: ${id} is ${task.status}`);
        }
        for (const id of completed) assert.equal(store.getTask(id)!.status, 'completed', `${where}: completion of ${id} is missing`);
        // And nothing beyond what was acknowledged, except the one call in flight in each round.
        const tasks = store.listTasks();
        const extra = tasks.filter((t) => !added.has(t.id)).map((t) => t.id);
        assert.ok(extra.length <= 2 * round, `${where}: unacknowledged tasks ${extra.join(' ')}`);
        const extraDone = tasks.filter((t) => t.status === 'completed' && !completed.has(t.id)).map((t) => t.id);
        assert.ok(extraDone.length <= round, `${where}: unacknowledged completions ${extraDone.join(' ')}`);
        assert.deepEqual(tasks.map((t) => t.id), tasks.map((_, i) => `t${i}`), `${where}: ids stay contiguous`);
      } finally {
        await store.close(); // takes over the dead child's lock, compacts, releases
      }
    }
    assert.ok(completed.size > 0 && added.size > completed.size);
  });

  it('refuses a second opener while a process holds the directory, naming its pid; takes over once it is killed', async () => {
    const child = start('hold');
    const pid = Number((await child.next((l) => l.startsWith('ready '))).split(' ')[1]);
    assert.equal(pid, child.proc.pid);
    await child.next((l) => l === 'ack add held');

    let error: unknown;
    await FileStore.open({ dir }).then((s) => s.close(), (e: unknown) => (error = e));
    assert.ok(error instanceof HarnessError, `expected STATE_LOCKED, got ${String(error)}`);
    assert.equal(error.code, 'STATE_LOCKED');
    assert.ok(error.message.includes(`pid ${pid}`), error.message);
    assert.equal(fs.readFileSync(path.join(dir, 'owner.pid'), 'utf8').trim(), String(pid), 'the live owner keeps its lock');

    await child.kill();
    const store = await FileStore.open({ dir });
    try {
      assert.equal(store.getTask('held')?.status, 'pending');
      assert.equal(fs.readFileSync(path.join(dir, 'owner.pid'), 'utf8'), String(process.pid));
    } finally {
      await store.close();
    }
  });
});

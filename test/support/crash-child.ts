/**
 * A coordinator in a process of its own, for crash tests: `node --import tsx crash-child.ts <dir>
 * <mode> [snapshotAfterBytes]`. It prints `ready <pid>` once the store is open, then:
 *  - mode `work`: loops adding, claiming and completing tasks, and after EACH call that resolved
 *    (was acknowledged) prints what it acknowledged: `ack add t4 t5`, `ack claim t4`, `ack complete t4`;
 *  - mode `hold`: adds one task (`ack add held`) and then keeps the directory open until killed.
 * Lines go out with a synchronous write, so a line printed is a line the parent will read.
 */
import * as fs from 'node:fs';
import { Coordinator, DEFAULT_CONFIG } from '../../src/core/coordinator';
import { FileStore } from '../../src/core/file-store';

const [dir, mode = 'work', snapshotAfterBytes = '4096'] = process.argv.slice(2);
const pause = new Int32Array(new SharedArrayBuffer(4));
/** Writes the whole line now. A pipe the parent reads slowly answers EAGAIN: wait a moment and go on. */
function say(line: string): void {
  const bytes = Buffer.from(`${line}\n`);
  for (let written = 0; written < bytes.length; ) {
    try {
      written += fs.writeSync(1, bytes, written);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

async function main(): Promise<void> {
  const store = await FileStore.open({ dir: dir!, snapshotAfterBytes: Number(snapshotAfterBytes) });
  const c = new Coordinator(store, { ...DEFAULT_CONFIG, instanceLimit: 0 });
  say(`ready ${process.pid}`);
  if (mode === 'hold') {
    await c.addTasks([{ id: 'held' }]);
    say('ack add held');
    setInterval(() => {}, 1 << 30);
    return;
  }
  // Ids are t0, t1, ... in the order they were added; carry on after whatever is there.
  let n = store.listTasks().length;
  for (;;) {
    const first = `t${n++}`;
    const plan: Array<{ id: string; description?: string; dependencies?: string[] }> = [
      { id: first, description: 'x'.repeat(n % 200) },
    ];
    if (n % 3 === 0) plan.push({ id: `t${n++}`, dependencies: [first] });
    await c.addTasks(plan);
    say(`ack add ${plan.map((t) => t.id).join(' ')}`);
    const { task } = await c.claim({ worker_id: 'w' });
    if (!task) continue;
    say(`ack claim ${task.id}`);
    await c.complete({ worker_id: 'w', task_id: task.id, result: { n } });
    say(`ack complete ${task.id}`);
  }
}

main().catch((e: unknown) => {
  say(`error ${(e as { code?: string }).code ?? ''} ${String((e as Error).message ?? e)}`);
  process.exit(1);
});

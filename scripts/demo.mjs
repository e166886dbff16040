// The headless demo: a coordinator (`harness serve`) on a sample plan, three `harness work`
// processes running a small script for each task, and a summary once every task is done.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
const workspace = mkdtempSync(join(tmpdir(), 'harness-demo-'));
const socket = join(workspace, 'harness.sock');
const env = { ...process.env, HARNESS_SOCKET: socket, HARNESS_WORKTREE: workspace, DEMO_DIR: workspace };
const harness = (...args) => JSON.parse(execFileSync(process.execPath, [cli, ...args], { env, encoding: 'utf8' }));

console.log(`Agent Harness demo in ${workspace}\n`);
const server = spawn(process.execPath, [cli, 'serve', '--worktree', workspace], {
  env,
  stdio: ['ignore', 'pipe', 'inherit'],
});
await new Promise((resolve, reject) => {
  server.once('exit', (code) => reject(new Error(`harness serve exited with ${code}`)));
  createInterface({ input: server.stdout }).once('line', resolve);
});

process.on('exit', () => server.exitCode === null && server.kill('SIGTERM'));
const plan = harness('plan', 'import', join(root, 'examples', 'demo-plan.json'));
console.log(`imported ${plan.data.count} tasks: ${plan.data.task_ids.join(', ')}\n`);

const workers = ['alice', 'bob', 'carol'].map((name) =>
  spawn(
    process.execPath,
    [cli, 'work', '--worker', `agent-${name}`, '--name', name, '--idle-exit', '1.5', '--', join(root, 'examples', 'demo-worker.sh')],
    { env, stdio: ['ignore', 'inherit', 'inherit'] },
  ),
);
const started = Date.now();
await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));

const { tasks } = harness('task', 'list').data;
console.log(`\nAll workers finished in ${((Date.now() - started) / 1000).toFixed(1)} s. Who did what:`);
for (const t of tasks) {
  console.log(`  ${t.status.padEnd(10)} ${t.id.padEnd(16)} by ${String(t.claimed_by).padEnd(12)} attempts ${t.attempts}  ${t.duration_ms ?? '-'} ms`);
}
const completed = tasks.filter((t) => t.status === 'completed').length;
console.log(`\n${completed} of ${tasks.length} tasks completed.`);
server.kill('SIGTERM');
await new Promise((resolve) => server.once('exit', resolve));
rmSync(workspace, { recursive: true, force: true });
process.exitCode = completed === tasks.length ? 0 : 1;

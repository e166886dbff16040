// The headless demo: a coordinator (`harness serve`), three `harness work` processes, and a plan
// of 12 tasks they share; a summary of who did what, and how much ran in parallel, once every
// task is done. The workers are all registered before the plan arrives and stay until it is done
// (a worker with nothing ready waits for the tasks still blocked, it does not leave).
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
const names = ['alice', 'bob', 'carol'];
const children = [];
const exited = (child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)));
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

console.log(`Agent Harness demo in ${workspace}\n`);
const server = spawn(process.execPath, [cli, 'serve', '--worktree', workspace], { env, stdio: ['ignore', 'pipe', 'inherit'] });
children.push(server);
await new Promise((resolve, reject) => {
  server.once('exit', (code) => reject(new Error(`harness serve exited with ${code}`)));
  createInterface({ input: server.stdout }).once('line', resolve);
});

// One watcher for what the demo waits on: workers registering, tasks finishing.
const watch = spawn(
  process.execPath,
  [cli, 'watch', '--format', 'json', '--event', 'instance:registered', '--event', 'task:completed', '--event', 'task:dead_letter'],
  { env, stdio: ['ignore', 'pipe', 'pipe'] },
);
children.push(watch);
const events = createInterface({ input: watch.stdout });
await new Promise((resolve) => createInterface({ input: watch.stderr }).once('line', resolve)); // "watching ..."
const until = (accept) =>
  new Promise((resolve) => {
    const look = (line) => accept(JSON.parse(line)) && (events.off('line', look), resolve());
    events.on('line', look);
  });

let registered = 0;
const allRegistered = until((e) => e.event === 'instance:registered' && ++registered === names.length);
const workers = names.map((name) =>
  spawn(process.execPath, [cli, 'work', '--worker', `agent-${name}`, '--name', name, '--', join(root, 'examples', 'demo-worker.sh')], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  }),
);
children.push(...workers);
await allRegistered;

const plan = harness('plan', 'import', join(root, 'examples', 'demo-plan.json'));
const total = plan.data.count;
console.log(`${names.length} workers ready; imported ${total} tasks: ${plan.data.task_ids.join(', ')}\n`);
const started = Date.now();
let finished = 0;
await until((e) => (e.event === 'task:completed' || e.event === 'task:dead_letter') && ++finished === total);
const wallMs = Date.now() - started;

// Ctrl+C for each worker: it deregisters and exits.
for (const w of workers) w.kill('SIGINT');
await Promise.all(workers.map(exited));
watch.kill('SIGTERM');

const { tasks } = harness('task', 'list').data;
console.log(`\nThe plan took ${(wallMs / 1000).toFixed(1)} s. Who did what:`);
for (const t of tasks) {
  console.log(`  ${t.status.padEnd(10)} ${t.id.padEnd(16)} by ${String(t.claimed_by).padEnd(12)} attempts ${t.attempts}  ${t.duration_ms ?? '-'} ms`);
}
const spans = tasks.filter((t) => t.started_at && t.completed_at).map((t) => [Date.parse(t.started_at), Date.parse(t.completed_at)]);
// The most tasks running at one moment: walk the starts and ends in time order (an end first on a tie).
const moments = spans.flatMap(([s, e]) => [[s, 1], [e, -1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
let running = 0;
let peak = 0;
for (const [, step] of moments) peak = Math.max(peak, (running += step));
const busyMs = spans.reduce((sum, [s, e]) => sum + (e - s), 0);
console.log('\nWorkers:');
for (const name of names) {
  const mine = tasks.filter((t) => t.claimed_by === `agent-${name}` && t.status === 'completed');
  const busy = mine.reduce((sum, t) => sum + (t.duration_ms ?? 0), 0);
  console.log(`  agent-${name.padEnd(6)} ${String(mine.length).padStart(2)} task(s), busy ${(busy / 1000).toFixed(1)} s (${Math.round((100 * busy) / wallMs)}% of the run)`);
}
console.log(`\nUp to ${peak} tasks ran at once: ${(busyMs / 1000).toFixed(1)} s of work in ${(wallMs / 1000).toFixed(1)} s (${(busyMs / wallMs).toFixed(1)}× one worker).`);
const completed = tasks.filter((t) => t.status === 'completed').length;
console.log(`${completed} of ${tasks.length} tasks completed.`);
server.kill('SIGTERM');
await exited(server);
rmSync(workspace, { recursive: true, force: true });
process.exitCode = completed === tasks.length ? 0 : 1;

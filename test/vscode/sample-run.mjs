// A workspace with a plan mid-run, for screenshots: a real `harness serve` and the 40-task
// examples/shop-plan.json driven through the real CLI by four workers: ten tasks done, four
// running (two streaming live exec output, two reporting progress), one dead-lettered, one failed
// and waiting for its retry, a lock held and a message waiting.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from './workbench.mjs';

const cli = join(repoRoot, 'dist', 'cli.js');

/** Scripts the workers run, printing like a test runner, forever (until stopped), in colour. */
const SCRIPTS = {
  'tools/test-payments.sh':
    'for i in $(seq 1 100000); do printf "\\033[32m✔\\033[0m POST /api/payments/%d \\033[2m(%d ms)\\033[0m\\n" $i $((RANDOM % 40 + 5)); ' +
    'if (( i % 7 == 0 )); then printf "\\033[33mwarn\\033[0m provider answered 429, retrying payment %d\\n" $i >&2; fi; sleep 0.2; done\n',
  'tools/check-flags.sh':
    'for i in $(seq 1 100000); do printf "\\033[36m▸\\033[0m flag %-28s \\033[2mevaluated in %d µs\\033[0m\\n" "checkout.variant-$((i % 9))" $((RANDOM % 90)); sleep 0.3; done\n',
};

/**
 * Starts the coordinator of `workspace` and drives it to the state above. `runtimeDir` is the
 * XDG_RUNTIME_DIR both this coordinator and the extension host use, so they find the same
 * socket and the extension joins it as a client. Returns stop().
 */
export async function startSampleRun(workspace, runtimeDir) {
  mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
  mkdirSync(workspace, { recursive: true });
  writeFileSync(join(workspace, 'README.md'), '# shop\n\nA web shop built by four agents.\n');
  mkdirSync(join(workspace, 'tools'), { recursive: true });
  for (const [file, text] of Object.entries(SCRIPTS)) writeFileSync(join(workspace, file), text);
  copyFileSync(join(repoRoot, 'examples', 'shop-plan.json'), join(workspace, 'plan.json'));
  const env = { ...process.env, XDG_RUNTIME_DIR: runtimeDir, HARNESS_WORKTREE: workspace };
  delete env.HARNESS_SOCKET;
  const children = [];
  const serve = spawn(process.execPath, [cli, 'serve', '--worktree', workspace, '--instance-limit', '0', '--stale-timeout', '3600'], {
    env,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(serve);
  await new Promise((resolve, reject) => {
    serve.once('exit', (code) => reject(new Error(`harness serve exited with ${code}`)));
    createInterface({ input: serve.stdout }).once('line', resolve);
  });
  const harness = (worker, ...args) =>
    JSON.parse(execFileSync(process.execPath, [cli, ...args, '--worker', worker], { env, cwd: workspace, encoding: 'utf8' }));
  const claim = (worker) => harness(worker, 'task', 'claim').data.task;
  const lease = (task) => ['--id', task.id, '--token', String(task.fencing_token)];

  harness('agent-1', 'plan', 'import', join(workspace, 'plan.json'));
  const workers = [['agent-1', 'agent-1 (claude)'], ['agent-2', 'agent-2 (codex)'], ['agent-3', 'agent-3 (aider)'], ['agent-4', 'agent-4 (script)']];
  for (const [id, name] of workers) harness(id, 'instance', 'register', '--name', name);

  // The agents report what each attempt used (the script worker runs no model): the usage view
  // and the costs beside tasks and workers show figures, priced from the bundled table.
  const models = { 'agent-1': 'claude-sonnet-4-5', 'agent-2': 'gpt-5-codex', 'agent-3': 'claude-haiku-4-5' };
  let n = 0;
  const usage = (worker) => {
    const model = models[worker];
    if (!model) return [];
    n++;
    return ['--usage', JSON.stringify({ model, input_tokens: 40_000 + 17_000 * (n % 5), output_tokens: 3_000 + 1_100 * (n % 4) })];
  };
  const complete = (worker, task) => harness(worker, 'task', 'complete', ...lease(task), '--result', JSON.stringify({ ok: true, by: worker }), ...usage(worker));
  // Nine tasks done, in claim order (priority): spec … api-cart.
  for (let i = 0; i < 9; i++) complete(workers[i % workers.length][0], claim(workers[i % workers.length][0]));
  const orders = claim('agent-1'); // api-orders
  harness('agent-1', 'task', 'progress', ...lease(orders), '--percent', '40', '--message', 'migrating the order history');
  const payments = claim('agent-2'); // api-payments: streams its test run
  complete('agent-3', claim('agent-3')); // ui-shell, the tenth
  const seed = claim('agent-3'); // seed-data
  harness('agent-3', 'task', 'progress', ...lease(seed), '--percent', '70', '--message', '7,000 of 10,000 products');
  // A flaky task: failed once, claimed again (attempt 2 of 3), streaming its second try.
  const flags = claim('agent-4');
  harness('agent-4', 'task', 'fail', ...lease(flags), '--error', 'flag service timed out after 30 s');
  const flagsAgain = claim('agent-4');
  // A one-off worker: one task failed for good (dead letter), one failed and waiting to be retried.
  harness('agent-5', 'instance', 'register', '--name', 'agent-5 (claude)');
  const catalog = claim('agent-5');
  harness('agent-5', 'task', 'fail', ...lease(catalog), '--error', 'exit code 1: snapshot tests failed (12 of 48)\nexpected <ProductGrid columns={4}> to render 24 items, got 0', '--no-retry');
  const cart = claim('agent-5');
  harness('agent-5', 'task', 'fail', ...lease(cart), '--error', 'timed out after 300 s');
  harness('agent-5', 'instance', 'deregister');
  harness('agent-3', 'lock', 'acquire', 'db/seed.sql', '--ttl', '900');
  harness('agent-1', 'msg', 'send', '--to', 'agent-2', 'orders API is in: rebase on main before the payment callbacks');

  // Live output streaming into the coordinator, attached to the running tasks.
  for (const [worker, task, script] of [['agent-2', payments, 'tools/test-payments.sh'], ['agent-4', flagsAgain, 'tools/check-flags.sh']]) {
    const exec = spawn(process.execPath, [cli, 'exec', '--worker', worker, '--task', task.id, '--timeout', '900', '--', 'bash', script], {
      env,
      cwd: workspace,
      stdio: 'ignore',
    });
    children.push(exec);
  }
  return {
    socketEnv: env,
    tasks: { orders, payments, seed, flags: flagsAgain, catalog, cart },
    stop: async () => {
      for (const child of children.reverse()) {
        if (child.exitCode === null) child.kill('SIGTERM');
      }
      await new Promise((resolve) => (serve.exitCode !== null ? resolve() : serve.once('exit', resolve)));
    },
  };
}

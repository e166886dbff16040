// A workspace with a plan mid-run, for screenshots: a real `harness serve` with some tasks done,
// two running (one streaming live exec output), one dead-lettered, and registered workers.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from './workbench.mjs';

const cli = join(repoRoot, 'dist', 'cli.js');

/**
 * Starts the coordinator of `workspace` and drives it to an interesting state. `runtimeDir` is
 * the XDG_RUNTIME_DIR both this coordinator and the extension host use, so they find the same
 * socket and the extension joins it as a client. Returns stop().
 */
export async function startSampleRun(workspace, runtimeDir) {
  mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
  mkdirSync(workspace, { recursive: true });
  writeFileSync(join(workspace, 'README.md'), '# demo-project\n\nA web service built by three agents.\n');
  copyFileSync(join(repoRoot, 'examples', 'demo-plan.json'), join(workspace, 'plan.json'));
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
    JSON.parse(execFileSync(process.execPath, [cli, ...args, '--worker', worker], { env, encoding: 'utf8' }));
  const register = (worker, name, caps = []) =>
    harness(worker, 'instance', 'register', '--name', name, ...caps.flatMap((c) => ['--capability', c]));

  harness('agent-alice', 'plan', 'import', join(workspace, 'plan.json'));
  register('agent-alice', 'alice (claude)', ['ts']);
  register('agent-bob', 'bob (codex)', ['ts', 'sql']);
  register('agent-carol', 'carol (aider)');
  const claimAndComplete = (worker) => {
    const { task } = harness(worker, 'task', 'claim').data;
    harness(worker, 'task', 'complete', '--id', task.id, '--result', '{"ok":true}');
    return task.id;
  };
  claimAndComplete('agent-alice'); // design-api
  claimAndComplete('agent-bob'); // schema
  claimAndComplete('agent-carol'); // models
  // Ready now, by priority: endpoints, flaky-migration, unit-tests, docs.
  const endpoints = harness('agent-alice', 'task', 'claim').data.task; // endpoints (highest ready)
  const migration = harness('agent-carol', 'task', 'claim').data.task; // fails for good: a dead letter
  harness('agent-carol', 'task', 'fail', '--id', migration.id, '--error', 'exit code 3: relation "users" already exists', '--no-retry');
  harness('agent-bob', 'task', 'claim'); // unit-tests
  // Live output streaming into the coordinator, attached to the running task.
  const exec = spawn(
    process.execPath,
    [cli, 'exec', '--worker', 'agent-alice', '--task', endpoints.id, '--timeout', '600', '--', 'bash', '-c',
      'for i in $(seq 1 400); do printf "\\033[32m✔\\033[0m GET /api/items/%d \\033[2m(%d ms)\\033[0m\\n" $i $((RANDOM % 40)); ' +
      'if (( i % 9 == 0 )); then printf "\\033[33mwarn\\033[0m slow query on /api/items/%d\\n" $i >&2; fi; sleep 0.15; done'],
    { env, stdio: 'ignore' },
  );
  children.push(exec);
  return {
    socketEnv: env,
    stop: async () => {
      for (const child of children.reverse()) {
        if (child.exitCode === null) child.kill('SIGTERM');
      }
      await new Promise((resolve) => (serve.exitCode !== null ? resolve() : serve.once('exit', resolve)));
    },
  };
}

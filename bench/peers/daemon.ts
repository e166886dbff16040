// Starting and stopping the peers' servers (redis-server, nats-server) for one measurement: a
// free loopback port, a child process whose log is watched for its ready line, a stop that
// escalates to SIGKILL when the server does not exit in time.

import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { cleanEnv } from '../serve';

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Daemon {
  pid: number;
  /** The last lines it logged (stdout and stderr), for error messages. */
  log(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns `file args` and resolves once a line of its output (stdout or stderr) matches `ready`;
 * rejects with its log when it exits first or `timeoutMs` passes (and kills it then).
 */
export async function startDaemon(name: string, file: string, args: string[], ready: RegExp, timeoutMs = 20_000): Promise<Daemon> {
  const child = spawn(file, args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  let pending = '';
  let onLine: ((line: string) => void) | undefined;
  const take = (chunk: string) => {
    log = (log + chunk).slice(-20_000);
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      onLine?.(line);
    }
  };
  child.stdout!.setEncoding('utf8').on('data', take);
  child.stderr!.setEncoding('utf8').on('data', take);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      onLine = (line) => {
        if (ready.test(line)) resolve();
      };
      void spawnError.then((e) => reject(new Error(`${name} could not be started (${file}): ${e.message}`)));
      void exited.then(() => reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${log.trim() || '(it logged nothing)'}`)));
      timer = setTimeout(() => reject(new Error(`${name} was not ready after ${timeoutMs} ms:\n${log.trim()}`)), timeoutMs);
    });
  } catch (e) {
    if (child.pid !== undefined) {
      child.kill('SIGKILL');
      await exited;
    }
    throw e;
  } finally {
    clearTimeout(timer);
    onLine = undefined;
  }
  return {
    pid: child.pid!,
    log: () => log,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(kill);
    },
  };
}

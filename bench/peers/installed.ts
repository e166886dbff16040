// What is installed on this machine for the peers section: server binaries and their versions,
// client libraries' versions.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The server binary NAME: the file named by the environment variable `env` when it is set (a
 * developer's own build, or a path that does not exist to leave that system out), else NAME on
 * PATH or in /usr/sbin (where Debian puts nats-server, outside a non-root PATH). Undefined when
 * there is no such executable.
 */
export function findServer(name: string, env: string): string | undefined {
  const executable = (file: string) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  };
  const chosen = process.env[env];
  if (chosen !== undefined) return executable(chosen) ? chosen : undefined;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin'];
  return dirs.filter(Boolean).map((dir) => path.join(dir, name)).find(executable);
}

/** Why a server binary is missing, for the section's "skipped" note. */
export function missingServer(name: string, env: string): string {
  return process.env[env] !== undefined
    ? `${env}=${process.env[env]} is not an executable file`
    : `${name} is not installed (scripts/install-peers.sh installs Debian's package of that name; ${env} may name another binary)`;
}

/** The first line `file args` prints (e.g. its `--version`), or undefined when it cannot run. */
export function firstLineOf(file: string, args: string[]): string | undefined {
  try {
    return execFileSync(file, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).toString().split('\n')[0]?.trim();
  } catch {
    return undefined;
  }
}

/** The version in node_modules/NAME/package.json under `root`, or "?". */
export function packageVersion(root: string, name: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

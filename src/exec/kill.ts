// The only platform-specific part of the runner. On POSIX a run's child is spawned detached, so it
// leads its own process group and signalling -pid reaches every descendant that stayed in the group.
// Windows has no process groups to signal; `taskkill /T` walks the tree instead, and cannot be polite.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const isWindows = process.platform === 'win32';

/** Asks the tree led by `pid` to stop (SIGTERM to the group; forced on Windows). */
export function terminateTree(pid: number): void {
  if (isWindows) taskkill(pid);
  else signalGroup(pid, 'SIGTERM');
}

/** Forces the tree led by `pid` to stop (SIGKILL to the group). */
export function killTree(pid: number): void {
  if (isWindows) taskkill(pid);
  else signalGroup(pid, 'SIGKILL');
}

/**
 * Whether anything in the tree led by `pid` is still running. Zombies do not count: a killed
 * grandchild is reparented to init, which may take seconds to reap it, yet it can no longer run.
 */
export function treeAlive(pid: number): boolean {
  if (isWindows) return exists(pid);
  if (!exists(-pid)) return false;
  return process.platform === 'linux' ? linuxGroupHasLiveMember(pid) : true;
}

/** Whether the process `pid` is still running (a zombie is not: it can no longer run). */
export function processAlive(pid: number): boolean {
  if (!exists(pid)) return false;
  if (process.platform !== 'linux') return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function exists(pidOrGroup: number): boolean {
  try {
    process.kill(pidOrGroup, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone, which is what we wanted.
  }
}

function taskkill(pid: number): void {
  const child = spawn('taskkill', ['/T', '/F', '/PID', String(pid)], { stdio: 'ignore', windowsHide: true });
  child.on('error', () => {
    // Nothing better to do: the caller polls treeAlive() and gives up after a bound.
  });
}

function linuxGroupHasLiveMember(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // The command name (field 2) may contain spaces and parentheses, so parse after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

// harness work --exit-on-crash: which runs mean the worker is broken, and the words its supervisor
// shows for them (a target's row: the command could not be started, and why).
import * as assert from 'node:assert/strict';
import { crashOf } from '../../src/cli/work';
import type { RunResult } from '../../src/exec/runner';

const run = (over: Partial<RunResult>): RunResult => ({
  returncode: 0,
  signal_name: null,
  timed_out: false,
  cancelled: false,
  duration_ms: 5,
  started_at: '2026-01-01T00:00:00.000Z',
  stdout_tail: '',
  stderr_tail: '',
  stdout_bytes: 0,
  stderr_bytes: 0,
  dropped_bytes: 0,
  ...over,
});

describe('harness work: a crash is the worker, not the task', () => {
  it('a command that could not be started says what the shell or the spawn said', () => {
    assert.equal(crashOf(run({ returncode: 127, stderr_tail: 'sh: 1: claude: not found\n' })), 'the command could not be started (exit code 127: sh: 1: claude: not found)');
    assert.equal(crashOf(run({ returncode: 126, stderr_tail: 'line one\nsh: ./agent.sh: Permission denied\n' })), 'the command could not be started (exit code 126: sh: ./agent.sh: Permission denied)');
    assert.equal(crashOf(run({ returncode: 127 })), 'the command could not be started (exit code 127)');
  });

  it('a signal nobody sent is a crash; an exit code, a timeout or a cancel is the task', () => {
    assert.equal(crashOf(run({ returncode: undefined, signal_name: 'SIGSEGV' })), 'the command was killed by SIGSEGV');
    assert.equal(crashOf(run({ returncode: 1 })), undefined);
    assert.equal(crashOf(run({ returncode: undefined, signal_name: 'SIGKILL', timed_out: true })), undefined);
    assert.equal(crashOf(run({ returncode: undefined, signal_name: 'SIGTERM', cancelled: true })), undefined);
  });
});

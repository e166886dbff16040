// The words every edge adds to an error: the hint for its code, once, and only where it fits; and
// a HarnessError is known by its code wherever its class came from (the CLI and `harness mcp` are
// separate bundles, each with its own copy of the class).
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { explainError, explainThrown } from '../../src/protocol/error-words';
import { describeFileError, ErrorCode, HarnessError, isHarnessError } from '../../src/protocol/errors';
import { toErrorReply } from '../../src/protocol/messages';
import { RunError } from '../../src/exec/runner';

/** A second, separate copy of the errors module, as another bundle has it. */
function otherCopy(): typeof import('../../src/protocol/errors') {
  const file = require.resolve('../../src/protocol/errors');
  const mine = require.cache[file];
  delete require.cache[file];
  try {
    return require(path.resolve(file)) as typeof import('../../src/protocol/errors');
  } finally {
    require.cache[file] = mine;
  }
}

describe('error words', () => {
  it('a HarnessError of another copy of the class keeps its code (it used to become INTERNAL, "a bug in harness")', () => {
    const other = otherCopy();
    assert.notEqual(other.HarnessError, HarnessError, 'a separate class, as in another bundle');
    const e = new other.HarnessError(ErrorCode.InvalidArgument, '.mcp.json: comma expected at line 4, column 5', { file: '.mcp.json' });
    assert.ok(e instanceof HarnessError);
    assert.ok(isHarnessError(e));
    assert.deepEqual(toErrorReply(e), { status: 'error', code: 'INVALID_ARGUMENT', message: '.mcp.json: comma expected at line 4, column 5', details: { file: '.mcp.json' } });
    assert.equal(explainThrown(e), '.mcp.json: comma expected at line 4, column 5');
    // And the other way round; anything else is still not one.
    assert.ok(new HarnessError(ErrorCode.NotFound, 'x') instanceof other.HarnessError);
    for (const x of [new Error('x'), { code: 'NOT_FOUND', message: 'x' }, null, 'x']) assert.equal(x instanceof HarnessError, false);
  });

  it('a subclass is still checked by its own prototype', () => {
    const base = new HarnessError(ErrorCode.Internal, 'x');
    assert.equal(base instanceof RunError, false);
    assert.ok(new RunError('SPAWN_FAILED', 'y') instanceof HarnessError);
  });

  it('does not repeat a hint the message carries already, in its own words or by the command it names', () => {
    assert.equal(
      explainError({ code: 'CONFLICT', message: 'state key "k" is at version 0, not 5; read it again and retry' }),
      'state key "k" is at version 0, not 5; read it again and retry',
    );
    const closed = 'no coordinator is listening on /s.sock (ENOENT); start one with `harness serve --workspace <dir>` or open the workspace in VS Code';
    assert.equal(explainError({ code: 'CLOSED', message: closed }), closed);
    const pool = 'the request needs pool p, which does not exist; declare it in the plan\'s "resources" or with `harness pool set p N`';
    assert.equal(explainError({ code: 'UNKNOWN_POOL', message: pool }), pool);
    // A message without the advice still gets it.
    assert.equal(explainError({ code: 'CLOSED', message: 'the connection closed' }), 'the connection closed (start one with `harness serve`, or open the workspace in VS Code)');
  });

  it('"fix the named field" only for an error that names a field', () => {
    assert.equal(
      explainError({ code: 'INVALID_ARGUMENT', message: 'invalid task_add: task.priority: too big', details: { field: 'task.priority' } }),
      'invalid task_add: task.priority: too big (fix the named field and send it again)',
    );
    assert.equal(
      explainError({ code: 'INVALID_ARGUMENT', message: 'target claude is defined in .harness/config.json: remove it there', details: { target: 'claude' } }),
      'target claude is defined in .harness/config.json: remove it there',
    );
    assert.equal(explainError({ code: 'INVALID_ARGUMENT', message: 'cannot read plan file p.yaml: no such file' }), 'cannot read plan file p.yaml: no such file');
  });

  it('UNAVAILABLE advises looking before sending again only when the change may have been applied', () => {
    const refused = 'could not connect to NATS for cluster x on nats://127.0.0.1:1: connection refused';
    assert.equal(explainError({ code: 'UNAVAILABLE', message: refused, details: { outcome: 'not_applied' } }), refused);
    const cut = 'the cluster could not be reached (connection closed): the request may or may not have been applied';
    assert.equal(
      explainError({ code: 'UNAVAILABLE', message: cut, details: { outcome: 'unknown' } }),
      `${cut} (it may have been applied: look (e.g. \`harness task show\`) before sending a change again)`,
    );
  });

  it('NOT_CLAIMED_BY fits release and heartbeat too', () => {
    assert.equal(
      explainError({ code: 'NOT_CLAIMED_BY', message: 'task a is not claimed by w1 (it is pending)' }),
      'task a is not claimed by w1 (it is pending) (only the worker holding a task can complete, fail, heartbeat or release it)',
    );
  });

  it('a file that cannot be read is said in words, not as the errno', () => {
    const errno = (code: string) => Object.assign(new Error(`${code}: raw`), { code });
    assert.equal(describeFileError(errno('ENOENT')), 'no such file');
    assert.equal(describeFileError(errno('EACCES')), 'permission denied');
    assert.equal(describeFileError(errno('EISDIR')), 'it is a directory');
    assert.equal(describeFileError(errno('EIO')), 'EIO: raw');
    assert.equal(describeFileError(errno('toString')), 'toString: raw');
  });
});

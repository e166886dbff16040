// The extension-host launcher's socket-path guard (test/vscode/workbench.mjs): its temp and
// runtime folders are short wherever the clone is, and a socket failure is named as such.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const workbench = require('../vscode/workbench.mjs') as {
  UNIX_SOCKET_PATH_MAX: number;
  createShortDir(): string;
  explainFailure(message: string, shortDir?: string): string;
  diagnoseLogs(w: { consoleLog: string; codeServerLog: string; shortDir: string }): string;
};

describe('the extension-host launcher and socket paths', () => {
  it('puts temp and runtime dirs in a short folder: the longest socket path this run makes fits', () => {
    const dir = workbench.createShortDir();
    try {
      assert.ok(fs.statSync(path.join(dir, 'tmp')).isDirectory() && fs.statSync(path.join(dir, 'run')).isDirectory());
      const chromium = path.join(dir, 'tmp', '.org.chromium.Chromium.XXXXXX', 'SingletonSocket');
      assert.ok(Buffer.byteLength(chromium) <= workbench.UNIX_SOCKET_PATH_MAX, chromium);
      assert.ok(dir.length < 30, `${dir} is short, wherever the repository is`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names a socket path that was too long, from Chromium's message or the run's logs", () => {
    const chromium = 'FATAL:chrome/browser/process_singleton_posix.cc:315] Socket path too long: /home/someone/src/agent-harness/.run/vscode/x/tmp/org.chromium.Chromium.rN4msA/SingletonSocket';
    assert.match(workbench.explainFailure(`Chromium did not start: ${chromium}`, '/tmp/ah-abc'), /A Unix socket path was too long \(the limit is 107 bytes/);
    assert.equal(workbench.explainFailure('Chromium did not start: no such file', '/tmp/ah-abc'), 'Chromium did not start: no such file');
    const logs = fs.mkdtempSync(path.join(os.tmpdir(), 'ah-logs-'));
    try {
      fs.writeFileSync(path.join(logs, 'console.log'), `[log] fine\n[err] ${chromium}\n`);
      fs.writeFileSync(path.join(logs, 'code-server.log'), 'started\n');
      const cause = workbench.diagnoseLogs({ consoleLog: path.join(logs, 'console.log'), codeServerLog: path.join(logs, 'code-server.log'), shortDir: '/tmp/ah-abc' });
      assert.match(cause, /Socket path too long.*\nA Unix socket path was too long/s);
      fs.writeFileSync(path.join(logs, 'console.log'), '[log] fine\n');
      assert.equal(workbench.diagnoseLogs({ consoleLog: path.join(logs, 'console.log'), codeServerLog: path.join(logs, 'code-server.log'), shortDir: '/tmp/ah-abc' }), '');
    } finally {
      fs.rmSync(logs, { recursive: true, force: true });
    }
  });
});

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fillPlaceholders } from '../../src/cli/work';
import type { Task } from '../../src/core/model';
import { markdownLink, taskItem } from '../../src/ui/view-models';
import { HookSettings } from '../../src/webhooks/config';
import { checkHookCommand, hookArgv } from '../../src/webhooks/hooks';
import { readSecret } from '../../src/webhooks/secrets';
import { tempDir } from '../support/stores';

describe('webhook secrets', () => {
  it('reads one from the environment, naming the variable (never the value) when it is missing', () => {
    assert.equal(readSecret({ env: 'WH_SECRET' }, 'webhooks.github.secret', '/', { WH_SECRET: 's3cret' }).toString(), 's3cret');
    assert.throws(() => readSecret({ env: 'WH_SECRET' }, 'webhooks.github.secret', '/', {}), /webhooks.github.secret: environment variable WH_SECRET is not set/);
  });

  it('reads one from a file only its owner can read, and refuses a group- or world-readable one', function () {
    if (process.platform === 'win32') this.skip();
    const dir = tempDir();
    const file = path.join(dir, 'secret');
    fs.writeFileSync(file, 'file-secret-value\n', { mode: 0o600 });
    assert.equal(readSecret({ file: 'secret' }, 'w', dir).toString(), 'file-secret-value');
    for (const mode of [0o640, 0o604]) {
      fs.chmodSync(file, mode);
      assert.throws(
        () => readSecret({ file: 'secret' }, 'w', dir),
        (e: Error) => /readable by others/.test(e.message) && e.message.includes(`chmod 600 ${file}`) && !e.message.includes('file-secret-value'),
      );
    }
    assert.throws(() => readSecret({ file: 'missing' }, 'w', dir), /cannot read secret file .*ENOENT/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('payload text reaches a worker only as data', () => {
  const task = { id: 'gh-1', description: 'x"; touch PWNED; echo "$(touch PWNED2)`touch PWNED3`' } as Task;

  it('fills placeholders as whole arguments without a shell', () => {
    assert.deepEqual(fillPlaceholders(['agent', '--task', '{id}', '{description}'], task), ['agent', '--task', 'gh-1', task.description]);
  });

  it('in a shell command line, turns placeholders into variable references the shell expands as data', function () {
    if (process.platform === 'win32') this.skip();
    const dir = tempDir();
    const [line] = fillPlaceholders(['printf "%s|%s" {id} "{description}"'], task, true);
    const out = execFileSync('/bin/sh', ['-c', line!], { cwd: dir, env: { PATH: process.env.PATH, HARNESS_TASK_ID: task.id, HARNESS_TASK_DESCRIPTION: task.description } });
    assert.equal(out.toString(), `gh-1|${task.description}`);
    assert.deepEqual(fs.readdirSync(dir), [], 'nothing in the description ran');
    assert.throws(() => fillPlaceholders(['echo {description}'], task, true, 'win32'), /cannot be used with --shell on Windows/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('where a task came from, in the Tasks tree', () => {
  it('puts the source in the tooltip and as a link with its label escaped', () => {
    const t = { id: 'gh-1', description: '', dependencies: [], priority: 0, capabilities: [], status: 'pending', attempts: 0, max_attempts: 3, claimed_by: null, error: null, source: { kind: 'github_issue', url: 'https://github.com/a/b/issues/1', title: '#1: [x](javascript:alert(1)) *bold*' } } as unknown as Task;
    const item = taskItem(t, 'ready', Date.now(), '');
    assert.match(item.tooltip, /From: #1: \[x\]\(javascript:alert\(1\)\) \*bold\* \(https:\/\/github.com\/a\/b\/issues\/1\)/);
    assert.deepEqual(item.link, { label: '#1: [x](javascript:alert(1)) *bold*', url: 'https://github.com/a/b/issues/1' });
    assert.equal(markdownLink(item.link!.label, item.link!.url), '[\\#1: \\[x\\]\\(javascript:alert\\(1\\)\\) \\*bold\\*](https://github.com/a/b/issues/1)');
    assert.equal(markdownLink('a', 'https://x.test/a b(c)'), '[a](https://x.test/a%20b%28c%29)');
  });
});

describe('the completion hook command', () => {
  const task = { id: 'gh-9', status: 'completed', source: { kind: 'github_issue', url: 'https://github.com/a/b/issues/9', title: '#9: a; rm -rf ~' } } as Task;
  const hook = (command: string[]) => HookSettings.parse({ command });

  it('fills {id}, {status}, {url}, {title} as whole arguments, never the program', () => {
    assert.deepEqual(hookArgv(['gh', 'issue', 'comment', '{url}', '--body', 'task {id} {status}: {title}'], task), [
      'gh', 'issue', 'comment', 'https://github.com/a/b/issues/9', '--body', 'task gh-9 completed: #9: a; rm -rf ~',
    ]);
    assert.deepEqual(hookArgv(['{id}'], task), ['{id}']);
  });

  it('refuses placeholders inside a shell script, and allows a shell that reads the variables', () => {
    assert.match(checkHookCommand(hook(['sh', '-c', 'gh issue comment {url}']))[0]!, /use \$HARNESS_TASK_\* variables/);
    assert.equal(checkHookCommand(hook(['/bin/bash', '-c', 'gh issue comment "$HARNESS_TASK_SOURCE_URL"'])).length, 0);
    assert.equal(checkHookCommand(hook(['gh', 'issue', 'comment', '{url}'])).length, 0);
  });
});

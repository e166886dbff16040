// Runs inside a real VS Code extension host (see test/vscode/suite/index.ts): the extension
// under development is this repository, loaded from its package.json and dist/extension.js.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

const EXTENSION_ID = 'agent-harness.agent-harness';

describe('activation', () => {
  it('finds the extension under its manifest id', () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is not among the installed extensions`);
    assert.equal(extension.packageJSON.main, './dist/extension.js');
  });

  it('activates without throwing', async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension);
    await extension.activate();
    assert.equal(extension.isActive, true);
  });

  it('registers every command that package.json contributes', async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension);
    await extension.activate();
    const contributed: string[] = (extension.packageJSON.contributes?.commands ?? []).map(
      (command: { command: string }) => command.command,
    );
    assert.ok(contributed.includes('agentHarness.showLog'), 'package.json lacks agentHarness.showLog');
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((id) => !registered.has(id));
    assert.deepEqual(missing, [], 'contributed but not registered after activation');
  });

  it('agentHarness.showLog shows the "Agent Harness" output channel', async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
    await vscode.commands.executeCommand('agentHarness.showLog');
    // The Output view opens the channel as a document of scheme `output` a moment later.
    const channel = await eventually(() =>
      vscode.workspace.textDocuments.find(
        (document) => document.uri.scheme === 'output' && document.uri.path.includes('Agent Harness'),
      ),
    );
    assert.ok(
      channel,
      `no "Agent Harness" output document; open: ${vscode.workspace.textDocuments.map((d) => d.uri.toString()).join(', ')}`,
    );
  });
});

/** Polls `probe` until it returns something truthy or `timeoutMs` passes (then undefined). */
async function eventually<T>(probe: () => T | undefined, timeoutMs = 5000): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

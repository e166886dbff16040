// The MCP client files `harness mcp config --write` merges its entry into: other servers, comments
// and settings survive; a file it cannot read safely is refused, not overwritten.
import { strict as assert } from 'node:assert';
import { parse as parseJsonc } from 'jsonc-parser';
import { parse as smolParse } from 'smol-toml';
import { mergeClientConfig, SERVER_NAME, type LaunchSpec } from '../../src/mcp/client-config';

/** The TOML as plain objects (the parser's have no prototype). */
const parseToml = (text: string): any => JSON.parse(JSON.stringify(smolParse(text)));

const spec: LaunchSpec = { command: '/usr/bin/node', args: ['/opt/harness/cli.js', 'mcp', '--workspace', '/w/my "repo"'], env: { ELECTRON_RUN_AS_NODE: '1' } };

describe('harness mcp config: merging into the clients\' files', () => {
  it('writes a new file for each JSON client, under the key that client reads', () => {
    assert.deepEqual(JSON.parse(mergeClientConfig('claude', undefined, spec)), { mcpServers: { [SERVER_NAME]: { type: 'stdio', ...spec } } });
    assert.deepEqual(JSON.parse(mergeClientConfig('cursor', '', spec)), { mcpServers: { [SERVER_NAME]: spec } });
    assert.deepEqual(JSON.parse(mergeClientConfig('vscode', undefined, spec)), { servers: { [SERVER_NAME]: { type: 'stdio', ...spec } } });
  });

  it('keeps the other servers, the comments and the rest of a VS Code mcp.json; replaces only its own entry', () => {
    const existing = [
      '{',
      '  // team servers',
      '  "inputs": [{ "id": "token", "type": "promptString" }],',
      '  "servers": {',
      '    "github": { "type": "http", "url": "https://api.example.com/mcp" }, // keep me',
      `    "${SERVER_NAME}": { "command": "old-harness", "args": [] },`,
      '  },',
      '}',
      '',
    ].join('\n');
    const out = mergeClientConfig('vscode', existing, spec);
    assert.match(out, /\/\/ team servers/);
    assert.match(out, /\/\/ keep me/);
    const doc = parseJsonc(out, [], { allowTrailingComma: true });
    assert.deepEqual(doc.inputs, [{ id: 'token', type: 'promptString' }]);
    assert.deepEqual(doc.servers.github, { type: 'http', url: 'https://api.example.com/mcp' });
    assert.deepEqual(doc.servers[SERVER_NAME], { type: 'stdio', ...spec });
    assert.equal(mergeClientConfig('vscode', out, spec), out, 'writing again changes nothing');
  });

  it('writes its entry in the file\'s own indentation (four spaces, tabs) and line endings', () => {
    const four = mergeClientConfig('claude', '{\n    "mcpServers": {\n        "other": { "command": "x" }\n    }\n}\n', spec);
    assert.match(four, /^ {8}"agent-harness": \{\n {12}"type": "stdio",$/m);
    assert.doesNotMatch(four, /^( {2}| {6}| {10})"/m, 'no line indented by two spaces more or less than the file uses');
    const tabs = mergeClientConfig('cursor', '{\n\t"mcpServers": {}\n}\n', spec);
    assert.match(tabs, /^\t\t"agent-harness": \{\n\t\t\t"command": /m);
    const crlf = mergeClientConfig('claude', '{\r\n  "mcpServers": {}\r\n}\r\n', spec);
    assert.doesNotMatch(crlf.replace(/\r\n/g, ''), /\n/, 'CRLF kept throughout');
  });

  it('refuses a JSON file it cannot parse, or whose servers are not an object, naming the file', () => {
    assert.throws(() => mergeClientConfig('claude', '{"mcpServers": {', spec), /\.mcp\.json: .* at line 1, column \d+; nothing was written/);
    // Where an editor shows it (line and column from 1), and in words, not the parser's names.
    assert.throws(
      () => mergeClientConfig('claude', '{\n  "mcpServers": {\n    "x": {"command": "a"}\n    "y": 1\n  }\n}\n', spec),
      (e: Error) => e.message === '.mcp.json: comma expected at line 4, column 5; nothing was written (fix the file, or add the entry by hand)',
    );
    assert.throws(() => mergeClientConfig('cursor', '{"mcpServers": {}}}', spec), /\.cursor\/mcp\.json: end of file expected at line 1, column 19;/);
    assert.throws(() => mergeClientConfig('claude', '[1, 2]', spec), /\.mcp\.json: the top level is not a JSON object/);
    assert.throws(() => mergeClientConfig('cursor', '{"mcpServers": []}', spec), /\.cursor\/mcp\.json: "mcpServers" is not an object/);
  });

  it('Codex TOML: keeps every other table, key and comment as it was; replaces its own table and subtables', () => {
    const existing = [
      '# my codex settings',
      'model = "o4"',
      '',
      '[mcp_servers.docs]',
      'command = "docs-server"',
      'args = ["--port", "0"]',
      '',
      `[mcp_servers.${SERVER_NAME}]`,
      'command = "old"',
      '',
      `[mcp_servers."${SERVER_NAME}".env]`,
      'STALE = "1"',
      '',
      '[profiles.fast]',
      'model = "o4-mini" # quick',
      '',
    ].join('\n');
    const out = mergeClientConfig('codex', existing, spec);
    const doc = parseToml(out);
    assert.equal(doc.model, 'o4');
    assert.deepEqual(doc.mcp_servers.docs, { command: 'docs-server', args: ['--port', '0'] });
    assert.deepEqual(doc.mcp_servers[SERVER_NAME], spec, 'the stale env table is gone; ours is whole');
    assert.deepEqual(doc.profiles, { fast: { model: 'o4-mini' } });
    assert.match(out, /^# my codex settings$/m);
    assert.match(out, /# quick/);
    assert.equal(mergeClientConfig('codex', out, spec), out, 'writing again changes nothing');
    assert.deepEqual(parseToml(mergeClientConfig('codex', undefined, spec)), { mcp_servers: { [SERVER_NAME]: spec } });
  });

  it('Codex TOML: refuses a file that does not parse, and an entry of its own in a form it does not rewrite', () => {
    assert.throws(() => mergeClientConfig('codex', 'model = "o4"\n[mcp_servers\n', spec), /config\.toml: not valid TOML .*nothing was written/);
    const inline = `[mcp_servers]\n${SERVER_NAME} = { command = "mine" }\n`;
    assert.throws(() => mergeClientConfig('codex', inline, spec), /form harness does not rewrite/);
    const dotted = `[mcp_servers]\n${SERVER_NAME}.command = "mine"\n`;
    assert.throws(() => mergeClientConfig('codex', dotted, spec), /form harness does not rewrite/);
  });
});

// The files MCP clients read their servers from, and the one entry `harness mcp config` puts in
// each: merged into what is there, never clobbering another server, a comment or the layout.
// JSON (JSON with comments in VS Code's case) is edited in place with jsonc-parser; Codex's TOML
// is edited as text, one table, and the result checked with a TOML parser: it must parse, hold
// our entry, and hold everything else exactly as before.
import { isDeepStrictEqual } from 'node:util';
import { applyEdits, modify, parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { ErrorCode, HarnessError } from '../protocol/errors';

export const MCP_CLIENTS = ['claude', 'vscode', 'cursor', 'codex'] as const;
export type McpClient = (typeof MCP_CLIENTS)[number];

/** The name the server is listed under in every client. */
export const SERVER_NAME = 'agent-harness';

/** Each client's file, relative to the workspace. */
export const CLIENT_FILES: Record<McpClient, string> = {
  claude: '.mcp.json',
  vscode: '.vscode/mcp.json',
  cursor: '.cursor/mcp.json',
  codex: '.codex/config.toml',
};

/** How a client starts `harness mcp`. */
export interface LaunchSpec {
  command: string;
  args: string[];
  env?: Record<string, string>;
}

/** Where in each JSON file the servers are, and what one entry looks like there. */
const JSON_SHAPE: Record<Exclude<McpClient, 'codex'>, { key: string; entry: (s: LaunchSpec) => Record<string, unknown> }> = {
  claude: { key: 'mcpServers', entry: (s) => ({ type: 'stdio', ...s }) },
  cursor: { key: 'mcpServers', entry: (s) => ({ ...s }) },
  vscode: { key: 'servers', entry: (s) => ({ type: 'stdio', ...s }) },
};

/** The file's own indentation (its first indented line), so the entry written matches it; two spaces for a new file. */
function indentOf(text: string): { insertSpaces: boolean; tabSize: number } {
  const indent = /^([ \t]+)\S/m.exec(text)?.[1];
  if (indent?.startsWith('\t')) return { insertSpaces: false, tabSize: 1 };
  return { insertSpaces: true, tabSize: indent?.length ?? 2 };
}

function invalid(file: string, why: string): HarnessError {
  return new HarnessError(ErrorCode.InvalidArgument, `${file}: ${why}; nothing was written (fix the file, or add the entry by hand)`, { file });
}

/** jsonc-parser's name for a mistake in words: `CloseBraceExpected` → `close brace expected`. */
const inWords = (name: string) => name.replace(/(?<=[a-z])(?=[A-Z])/g, ' ').toLowerCase();

/** Where `offset` is in `text`, as an editor shows it: `line 4, column 5` (both from 1). */
export function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

/** The file's new text: `existing` (undefined: no file yet) with our server's entry set. */
export function mergeClientConfig(client: McpClient, existing: string | undefined, spec: LaunchSpec): string {
  return client === 'codex' ? mergeToml(existing ?? '', spec) : mergeJson(client, existing, spec);
}

function mergeJson(client: Exclude<McpClient, 'codex'>, existing: string | undefined, spec: LaunchSpec): string {
  const file = CLIENT_FILES[client];
  const { key, entry } = JSON_SHAPE[client];
  const text = existing?.trim() ? existing : '{}\n';
  const errors: ParseError[] = [];
  const doc = parseJsonc(text, errors, { allowTrailingComma: true }) as unknown;
  if (errors.length > 0) throw invalid(file, `${inWords(printParseErrorCode(errors[0]!.error))} at ${lineAndColumn(text, errors[0]!.offset)}`);
  if (!isObject(doc)) throw invalid(file, 'the top level is not a JSON object');
  if (doc[key] !== undefined && !isObject(doc[key])) throw invalid(file, `"${key}" is not an object`);
  const edits = modify(text, [key, SERVER_NAME], entry(spec), { formattingOptions: { ...indentOf(text), eol: text.includes('\r\n') ? '\r\n' : '\n' } });
  const out = applyEdits(text, edits);
  return out.endsWith('\n') ? out : out + '\n';
}

/** A table header: `[mcp_servers.agent-harness]` or one of its subtables, however the key is quoted. */
const OUR_HEADER = new RegExp(String.raw`^\s*\[\s*mcp_servers\s*\.\s*(?:${SERVER_NAME}|"${SERVER_NAME}"|'${SERVER_NAME}')\s*(?:\.[^\]]*)?\]\s*(?:#.*)?$`);
const ANY_HEADER = /^\s*\[/;

function mergeToml(existing: string, spec: LaunchSpec): string {
  const file = CLIENT_FILES.codex;
  let before: Record<string, unknown>;
  try {
    before = plain(parseToml(existing));
  } catch (e) {
    throw invalid(file, `not valid TOML (${(e as Error).message.split('\n')[0]})`);
  }
  // Drop our tables (a header and the lines up to the next header), keep every other line as it is.
  const kept: string[] = [];
  let ours = false;
  for (const line of existing.split('\n')) {
    if (ANY_HEADER.test(line)) ours = OUR_HEADER.test(line);
    if (!ours) kept.push(line);
  }
  const table = stringifyToml({ mcp_servers: { [SERVER_NAME]: spec } });
  const head = kept.join('\n').replace(/\n*$/, '');
  const text = `${head ? `${head}\n\n` : ''}${table.replace(/\n*$/, '')}\n`;

  let after: Record<string, unknown>;
  try {
    after = plain(parseToml(text));
  } catch {
    throw invalid(file, `its "${SERVER_NAME}" server is written in a form harness does not rewrite (inline or dotted keys)`);
  }
  const servers = (doc: Record<string, unknown>) => (isObject(doc.mcp_servers) ? doc.mcp_servers : {});
  const others = (doc: Record<string, unknown>) => {
    const { [SERVER_NAME]: _ours, ...rest } = servers(doc);
    const { mcp_servers: _all, ...top } = doc;
    return { top, rest };
  };
  if (!isDeepStrictEqual(servers(after)[SERVER_NAME], plain(spec)) || !isDeepStrictEqual(others(after), others(before))) {
    throw invalid(file, `its "${SERVER_NAME}" server is written in a form harness does not rewrite (inline or dotted keys)`);
  }
  return text;
}

/** Plain objects to compare (the TOML parser's have no prototype; dates compare as their text). */
function plain(x: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(x)) as Record<string, unknown>;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

// The layers point one way. Reads every import (static, dynamic, require, type-only too: a type
// import is a dependency of the reader on the definition) in src/, webview/ and bench/, and fails
// on one against the grain:
//   host → client → protocol;  cli → client → protocol;  server → core and exec;
//   core imports neither vscode nor node:net;  webview → protocol only (its zod/mini part);
//   only src/host imports vscode.
// A new directory under src/ needs a rule here before anything in it may import anything.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtinModules } from 'node:module';

const ROOT = path.resolve(__dirname, '..', '..');

/** Where each layer may import from (its own directory always). */
const LAYERS: Record<string, { may: string[]; npm?: string[]; noNode?: string[] }> = {
  // Shared by every side: depends on nothing of ours.
  protocol: { may: [], npm: ['zod', 'yaml'], noNode: ['net'] },
  core: { may: ['protocol'], npm: ['zod', 'sql.js', 'sorted-btree'], noNode: ['net'] },
  exec: { may: ['protocol'] },
  isolation: { may: ['core', 'exec', 'protocol'], npm: ['zod'] },
  webhooks: { may: ['core', 'exec', 'protocol'], npm: ['zod'] },
  // The one reader of config.json, composing the features' section schemas (features never read it).
  config: { may: ['isolation', 'protocol', 'webhooks'], npm: ['zod'] },
  server: { may: ['config', 'core', 'exec', 'isolation', 'protocol', 'webhooks'], npm: ['zod'] },
  // A coordinator as one of a cluster on NATS JetStream: the server's coordinator over another log.
  cluster: {
    may: ['config', 'core', 'protocol', 'server', 'webhooks'],
    npm: ['zod', '@nats-io/transport-node', '@nats-io/jetstream', '@nats-io/kv', '@nats-io/obj'],
  },
  client: { may: ['protocol'], npm: ['yaml'] },
  cli: { may: ['client', 'config', 'exec', 'mcp', 'protocol'] },
  mcp: { may: ['client', 'exec', 'protocol'], npm: ['@modelcontextprotocol/server', 'jsonc-parser', 'smol-toml', 'zod'] },
  ui: { may: ['protocol'], npm: ['zod'] },
  host: { may: ['client', 'exec', 'protocol', 'ui'], npm: ['vscode'] },
};

/**
 * The composition roots: the two places that start a coordinator. Each is one file, and says why.
 * Everything else in cli and host reaches the coordinator through the client or the API.
 */
const COMPOSITION: Record<string, string[]> = {
  'src/cli/serve.ts': ['server', 'cluster'], // `harness serve` runs the coordinator headless, alone or as one of a cluster
  'src/cli/recover.ts': ['server'], // `harness recover` works on the state files of a stopped coordinator
  'src/cli/direct.ts': ['cluster'], // `--nats`: a gateway to a cluster in the CLI's own process, no coordinator on this host
  'src/host/connection.ts': ['server', 'cluster'], // the window runs the coordinator in-process, alone or as one of a cluster
  'src/cli/github-issues.ts': ['webhooks'], // turns a gh issue list into a plan, client-side, with the webhooks' label rules
};

/** The webview bundle: these and nothing else (zod/mini, not zod's classic API: bundle size). */
const WEBVIEW_PROTOCOL = ['src/protocol/webview.ts', 'src/protocol/output.ts', 'src/protocol/human-time.ts'];
const WEBVIEW_NPM = ['zod/mini', 'zod/v4/locales/en.js', 'elkjs/lib/elk-api'];

const NODE = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

export interface Import {
  from: string;
  specifier: string;
  /** The file it resolves to, relative to the repository root, for our own modules. */
  target?: string;
}

/** Imports of one file's text: static, re-exports, side-effect, dynamic, require. */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s+(?:type\s+)?(?:[\w*\s{},$]*?)\s*from\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) found.push(m[1]!);
  return found;
}

function resolve(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(path.join(ROOT, from)), specifier);
  for (const candidate of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return path.relative(ROOT, candidate).split(path.sep).join('/');
  }
  return path.relative(ROOT, base).split(path.sep).join('/');
}

function sourceFiles(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  if (!fs.existsSync(abs)) return [];
  return fs
    .readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(ts|mts|mjs)$/.test(f) && !f.endsWith('.d.ts'))
    .map((f) => `${dir}/${f.split(path.sep).join('/')}`);
}

export function allImports(dirs: string[]): Import[] {
  return dirs.flatMap((dir) =>
    sourceFiles(dir).flatMap((from) => {
      const text = fs.readFileSync(path.join(ROOT, from), 'utf8');
      return importsOf(text).map((specifier) => ({ from, specifier, target: resolve(from, specifier) }));
    }),
  );
}

const layerOf = (file: string) => /^src\/([^/]+)\//.exec(file)?.[1];
const packageOf = (specifier: string) => (specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);

/** Why an import in src/ goes against the layers, or undefined when it does not. */
export function violation(imp: Import): string | undefined {
  const layer = layerOf(imp.from);
  if (!layer) return undefined;
  const rule = LAYERS[layer];
  if (!rule) return `src/${layer}/ has no layer rule: add one to test/unit/layers.test.ts`;
  if (imp.target) {
    const to = layerOf(imp.target);
    if (!to) return `imports ${imp.target}, outside src/`;
    if (to === layer || rule.may.includes(to) || COMPOSITION[imp.from]?.includes(to)) return undefined;
    return `${layer} → ${to} goes against the layers (${layer} may import ${[layer, ...rule.may].join(', ')})`;
  }
  if (imp.specifier === 'vscode') return layer === 'host' ? undefined : 'only src/host imports vscode';
  if (NODE.has(imp.specifier)) {
    const bare = imp.specifier.replace(/^node:/, '');
    return rule.noNode?.includes(bare) ? `${layer} must not import node:${bare}` : undefined;
  }
  return undefined; // other npm packages: bundled by esbuild, checked by the dependency review, not by layer
}

/** The webview's import closure: every file and package it pulls into its bundle. */
export function webviewClosure(): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = sourceFiles('webview');
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const specifier of importsOf(fs.readFileSync(path.join(ROOT, file), 'utf8'))) {
      const target = resolve(file, specifier);
      if (target) queue.push(target);
      else packages.add(specifier);
    }
  }
  return { files, packages };
}

describe('layers', () => {
  const imports = allImports(['src', 'webview', 'bench']);

  it('reads the imports it judges (static, type-only, re-export, dynamic, require)', () => {
    const text = [
      "import * as a from './a';",
      "import type { B } from '../b/b';",
      'import {\n  C,\n  type D,\n} from "../c";',
      "export { E } from './e';",
      "import './side-effect';",
      "const f = await import('./f');",
      "const g = require('node:net');",
      "// import { ignored } from './commented-out';",
    ].join('\n');
    assert.deepEqual(importsOf(text).sort(), ['../b/b', '../c', './a', './e', './f', './side-effect', 'node:net'].sort());
    assert.ok(imports.length > 300, `only ${imports.length} imports found: the reader is broken`);
  });

  it('src/: every import goes with the grain', () => {
    const wrong = imports.flatMap((imp) => {
      const why = violation(imp);
      return why ? [`${imp.from}: import '${imp.specifier}': ${why}`] : [];
    });
    assert.deepEqual(wrong, []);
  });

  it('fails on an import against the grain (core → server, client → server, vscode outside host, node:net in core)', () => {
    const cases: Array<[Import, RegExp]> = [
      [{ from: 'src/core/coordinator.ts', specifier: '../server/service', target: 'src/server/service.ts' }, /core → server/],
      [{ from: 'src/client/api.ts', specifier: '../server/dispatch', target: 'src/server/dispatch.ts' }, /client → server/],
      [{ from: 'src/host/exec.ts', specifier: '../cli/exec', target: 'src/cli/exec.ts' }, /host → cli/],
      [{ from: 'src/cli/commands.ts', specifier: '../server/paths', target: 'src/server/paths.ts' }, /cli → server/],
      [{ from: 'src/protocol/tasks.ts', specifier: '../core/model', target: 'src/core/model.ts' }, /protocol → core/],
      [{ from: 'src/ui/outbox.ts', specifier: 'vscode' }, /only src\/host imports vscode/],
      [{ from: 'src/core/store.ts', specifier: 'node:net' }, /core must not import node:net/],
      [{ from: 'src/newthing/x.ts', specifier: '../protocol/api', target: 'src/protocol/api.ts' }, /no layer rule/],
    ];
    for (const [imp, why] of cases) assert.match(violation(imp) ?? 'no violation', why, `${imp.from} → ${imp.specifier}`);
    assert.equal(violation({ from: 'src/host/connection.ts', specifier: '../server/service', target: 'src/server/service.ts' }), undefined);
  });

  it('webview/: only the zod/mini part of the protocol and its own modules', () => {
    const { files, packages } = webviewClosure();
    const foreign = [...files].filter((f) => !f.startsWith('webview/') && !WEBVIEW_PROTOCOL.includes(f));
    assert.deepEqual(foreign, [], 'the webview bundle pulls these in');
    assert.deepEqual([...packages].filter((p) => !WEBVIEW_NPM.includes(p)), [], 'packages the webview bundle may not use');
  });

  it('bench/: no vscode and nothing of the extension host (the vscode-free view models are fine)', () => {
    const wrong = imports
      .filter((imp) => imp.from.startsWith('bench/'))
      .filter((imp) => imp.specifier === 'vscode' || /^src\/host\//.test(imp.target ?? ''))
      .map((imp) => `${imp.from}: ${imp.specifier}`);
    assert.deepEqual(wrong, []);
  });

  it('names every npm package a layer uses where it is declared', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const runtime = new Set([...Object.keys(pkg.dependencies), 'vscode']);
    const used = imports.filter((i) => /^src\//.test(i.from) && !i.target && !NODE.has(i.specifier)).map((i) => [i.from, packageOf(i.specifier)] as const);
    assert.deepEqual(used.filter(([, p]) => !runtime.has(p)).map(([f, p]) => `${f}: ${p}`), [], 'src/ imports a package that is not a runtime dependency');
    for (const [from, p] of used) {
      const rule = LAYERS[layerOf(from)!];
      assert.ok(rule?.npm?.includes(p) || p === 'vscode', `${from} imports ${p}, which its layer does not list`);
    }
  });
});

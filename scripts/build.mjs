// Bundles the extension, the CLI and the webview with esbuild. Type-checking is separate
// (`npm run typecheck`), so a build stays fast.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const production = process.argv.includes('--production');
const dist = join(root, 'dist');
mkdirSync(dist, { recursive: true });

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  external: ['vscode'],
  // jsonc-parser's main build (UMD) requires its parts at run time, which a bundle cannot follow.
  alias: { 'jsonc-parser': 'jsonc-parser/lib/esm/main.js' },
  // The version `harness mcp` tells MCP clients.
  define: { HARNESS_VERSION: JSON.stringify(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version) },
};

/** The CLI imports the MCP module as ./mcp.js beside it, at run time, instead of bundling it. */
const mcpApart = {
  name: 'mcp-apart',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/mcp\/index\.js$/ }, () => ({ path: './mcp.js', external: true }));
  },
};

const entries = [
  { ...node, entryPoints: [join(root, 'src/host/extension.ts')], outfile: join(dist, 'extension.js') },
  {
    ...node,
    entryPoints: [join(root, 'src/cli/main.ts')],
    outfile: join(dist, 'cli.js'),
    banner: { js: '#!/usr/bin/env node' },
    plugins: [mcpApart],
  },
  // The NATS client, loaded only in cluster mode (src/cluster/nats-loader.ts).
  { ...node, entryPoints: [join(root, 'src/cluster/nats.ts')], outfile: join(dist, 'nats.js') },
  // `harness mcp` and `harness mcp config` only: the MCP SDK stays out of every other command's start-up.
  { ...node, entryPoints: [join(root, 'src/mcp/index.ts')], outfile: join(dist, 'mcp.js') },
  // Snapshots are read and written by sql.js in a worker thread (src/core/snapshot-jobs.ts).
  { ...node, entryPoints: [join(root, 'src/core/snapshot-worker.ts')], outfile: join(dist, 'snapshot-worker.js') },
  {
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    sourcemap: !production,
    minify: production,
    logLevel: 'warning',
    entryPoints: [join(root, 'webview/main.ts')],
    outfile: join(dist, 'webview.js'),
  },
];
if (existsSync(join(root, 'bench/main.ts'))) {
  entries.push({ ...node, entryPoints: [join(root, 'bench/main.ts')], outfile: join(dist, 'bench.js') });
}

// The extension-host test tier (npm run test:vscode): the runner and one bundle per test file,
// plain CommonJS for VS Code's extension host. Mocha is bundled in (mocha 12 is ESM and needs
// require(esm), which an Electron extension host may lack); `vscode` comes from the host.
const vscodeSuite = join(root, 'test/vscode/suite');
if (existsSync(vscodeSuite)) {
  const outdir = join(root, 'out/vscode/suite');
  rmSync(outdir, { recursive: true, force: true }); // no stale test from a deleted source
  const suiteEntries = readdirSync(vscodeSuite, { recursive: true, encoding: 'utf8' })
    .filter((name) => name === 'index.ts' || name.endsWith('.test.ts'))
    .map((name) => join(vscodeSuite, name));
  entries.push({
    ...node,
    sourcemap: true,
    minify: false,
    entryPoints: suiteEntries,
    outbase: vscodeSuite,
    outdir,
    // mocha's parallel mode resolves files of its own at run time; the runner does not use it.
    logOverride: { 'require-resolve-not-external': 'silent' },
  });
}

await Promise.all(entries.map((options) => esbuild.build(options)));
// sql.js loads its WebAssembly from beside the bundle.
copyFileSync(require.resolve('sql.js/dist/sql-wasm.wasm'), join(dist, 'sql-wasm.wasm'));
// The panel's graph layout runs ELK in a Web Worker: ELK's own minified worker build, as shipped.
copyFileSync(require.resolve('elkjs/lib/elk-worker.min.js'), join(dist, 'elk-worker.js'));

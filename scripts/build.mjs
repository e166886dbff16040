// Bundles the extension, the CLI and the webview with esbuild. Type-checking is separate
// (`npm run typecheck`), so a build stays fast.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

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
};

const entries = [
  { ...node, entryPoints: [join(root, 'src/host/extension.ts')], outfile: join(dist, 'extension.js') },
  {
    ...node,
    entryPoints: [join(root, 'src/cli/main.ts')],
    outfile: join(dist, 'cli.js'),
    banner: { js: '#!/usr/bin/env node' },
  },
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

await Promise.all(entries.map((options) => esbuild.build(options)));
// sql.js loads its WebAssembly from beside the bundle.
copyFileSync(require.resolve('sql.js/dist/sql-wasm.wasm'), join(dist, 'sql-wasm.wasm'));

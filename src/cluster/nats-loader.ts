import * as fs from 'node:fs';
import * as path from 'node:path';

type NatsModule = typeof import('./nats');

let loaded: NatsModule | undefined;

/**
 * The NATS client (nats.ts), loaded on first use: `nats.js` beside the bundle (dist/), the
 * repository's dist/nats.js for the extension-host test bundles (out/vscode/suite/), or the
 * sources when running from them (tests through tsx). The paths are computed, so the bundler
 * leaves the client out of the bundles that import this file.
 */
export function nats(): NatsModule {
  if (loaded) return loaded;
  const candidates = [path.join(__dirname, 'nats.js'), path.join(__dirname, '..', '..', '..', 'dist', 'nats.js')];
  const bundled = candidates.find((f) => fs.existsSync(f));
  loaded = require(bundled ?? path.join(__dirname, 'nats')) as NatsModule;
  return loaded;
}

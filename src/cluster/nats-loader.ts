import * as fs from 'node:fs';
import * as path from 'node:path';

type NatsModule = typeof import('./nats');

let loaded: NatsModule | undefined;

/**
 * The NATS client (nats.ts), loaded on first use: `nats.js` beside the bundle, or the sources when
 * running from them (tests). The path is computed, so the bundler leaves the client out of the
 * bundles that import this file.
 */
export function nats(): NatsModule {
  if (loaded) return loaded;
  const bundled = path.join(__dirname, 'nats.js');
  loaded = require(fs.existsSync(bundled) ? bundled : path.join(__dirname, 'nats')) as NatsModule;
  return loaded;
}

import type { Logger } from '../protocol/log';

export { silentLogger, type Logger } from '../protocol/log';

export function stderrLogger(prefix = 'harness', verbose = false): Logger {
  const write = (level: string) => (message: string) =>
    process.stderr.write(`${new Date().toISOString()} ${prefix} ${level}: ${message}\n`);
  return { debug: verbose ? write('debug') : () => {}, info: write('info'), warn: write('warn'), error: write('error') };
}

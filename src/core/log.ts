/** Where the core and server log to: a LogOutputChannel in VS Code, stderr in the CLI and daemon. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export function stderrLogger(prefix = 'harness', verbose = false): Logger {
  const write = (level: string) => (message: string) =>
    process.stderr.write(`${new Date().toISOString()} ${prefix} ${level}: ${message}\n`);
  return { debug: verbose ? write('debug') : () => {}, info: write('info'), warn: write('warn'), error: write('error') };
}

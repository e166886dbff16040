/** Where every side logs to: a LogOutputChannel in VS Code, stderr in the CLI, daemon and MCP server. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Lines on stderr: what the CLI, `harness serve` and the MCP server log to (stdout is their output). */
export function stderrLogger(prefix = 'harness', verbose = false): Logger {
  const write = (level: string) => (message: string) =>
    process.stderr.write(`${new Date().toISOString()} ${prefix} ${level}: ${message}\n`);
  return { debug: verbose ? write('debug') : () => {}, info: write('info'), warn: write('warn'), error: write('error') };
}

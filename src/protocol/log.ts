/** Where every side logs to: a LogOutputChannel in VS Code, stderr in the CLI, daemon and MCP server. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

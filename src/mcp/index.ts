// What the CLI uses of the MCP server: one module, built into its own bundle (dist/mcp.js) that
// only `harness mcp` loads, so no other command parses the SDK.
export { serveMcp, type McpServerOptions } from './server';
export { selectTools } from './tools';
export { CLIENT_FILES, MCP_CLIENTS, mergeClientConfig } from './client-config';

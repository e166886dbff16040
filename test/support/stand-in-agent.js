#!/usr/bin/env node
// A stand-in for an agent CLI in tests: prints what Claude Code (`claude -p --output-format
// stream-json`) or Codex (`codex exec --json`) print at the end of a run, with the figures given.
//   node stand-in-agent.js claude|codex [--cost USD] [--tokens N] [--fail-first DIR]
// --fail-first DIR: the first attempt of each task (by $HARNESS_TASK_ID) prints its usage and
// exits 1; later attempts exit 0.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [format, ...rest] = process.argv.slice(2);
const opt = (name, fallback) => {
  const at = rest.indexOf(name);
  return at === -1 ? fallback : rest[at + 1];
};
const cost = Number(opt('--cost', '0.05'));
const tokens = Number(opt('--tokens', '1000'));
const failFirst = opt('--fail-first', undefined);
const task = process.env.HARNESS_TASK_ID || 'none';
const attempt = failFirst && !fs.existsSync(path.join(failFirst, task)) ? 'first' : 'again';
if (failFirst && attempt === 'first') fs.writeFileSync(path.join(failFirst, task), '');
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

process.stdout.write(`working on ${task}\n`);
if (format === 'claude') {
  const session = `session-${task}-${attempt}`;
  say({ type: 'system', subtype: 'init', session_id: session, model: 'claude-sonnet-4-5-20250929' });
  say({ type: 'assistant', session_id: session, message: { content: [{ type: 'text', text: 'on it' }] } });
  // Most of the cost in the main model, a fifth in a subagent's (which `usage` does not count).
  say({
    type: 'result',
    subtype: attempt === 'first' ? 'error_during_execution' : 'success',
    is_error: attempt === 'first',
    session_id: session,
    total_cost_usd: cost,
    usage: { input_tokens: tokens, output_tokens: tokens / 2, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    modelUsage: {
      'claude-sonnet-4-5-20250929': { inputTokens: tokens, outputTokens: tokens / 2, cacheReadInputTokens: 0, cacheCreationInputTokens: 0, webSearchRequests: 0, costUSD: cost * 0.8, contextWindow: 200000 },
      'claude-haiku-4-5-20251001': { inputTokens: tokens / 4, outputTokens: tokens / 10, cacheReadInputTokens: 0, cacheCreationInputTokens: 0, webSearchRequests: 0, costUSD: cost * 0.2, contextWindow: 200000 },
    },
  });
} else if (format === 'codex') {
  say({ type: 'thread.started', thread_id: `thread-${task}-${attempt}` });
  say({ type: 'turn.started' });
  say({ type: 'item.completed', item: { id: 'item_0', type: 'agent_message', text: 'done' } });
  say({ type: 'turn.completed', usage: { input_tokens: tokens, cached_input_tokens: tokens / 2, output_tokens: tokens / 10 } });
} else {
  process.stderr.write(`stand-in-agent: unknown format ${format}\n`);
  process.exit(2);
}
process.exit(failFirst && attempt === 'first' ? 1 : 0);

// The command catalog as MCP tools and docs will read it: every params schema is a valid JSON
// Schema of an object whose fields say what they are, names are unique, and the fields a
// worker-side wrapper fills in exist.
import * as assert from 'node:assert/strict';
import Ajv2020 from 'ajv/dist/2020';
import { z } from 'zod';
import { CATALOG, COMMAND_NAMES, findCommand } from '../../src/protocol/catalog';
import { EVENT_NAMES, EVENTS, QUIET_EVENTS } from '../../src/protocol/events';

// Formats (uri, ...) are standard annotations; this checks schemas, not data, so they need no validator.
const ajv = new Ajv2020({ strict: true, allErrors: true, validateFormats: false });

type JsonSchema = { type?: string; properties?: Record<string, JsonSchema & { description?: string }>; required?: string[]; additionalProperties?: unknown };

const inputSchema = (command: (typeof CATALOG)[number]) => z.toJSONSchema(command.params, { io: 'input' }) as JsonSchema;

describe('the command catalog', () => {
  it('has one descriptor per name', () => {
    assert.equal(new Set(COMMAND_NAMES).size, CATALOG.length);
    for (const name of COMMAND_NAMES) assert.equal(findCommand(name)?.name, name);
    assert.equal(findCommand('toString'), undefined, 'no prototype names');
  });

  for (const command of CATALOG) {
    describe(command.name, () => {
      it('params: z.toJSONSchema gives a valid JSON Schema (2020-12) of an object', () => {
        const schema = inputSchema(command);
        assert.ok(ajv.validateSchema(schema), ajv.errorsText(ajv.errors));
        assert.equal(schema.type, 'object');
        ajv.compile(schema); // compiles under ajv's strict mode: no unknown keywords, no contradictions
      });

      it('params: every field describes itself; unknown fields are refused', () => {
        const schema = inputSchema(command);
        for (const [field, prop] of Object.entries(schema.properties ?? {})) {
          assert.ok(prop.description && prop.description.length > 3, `${command.name}.${field} has no description`);
        }
        if (command.name !== 'ping') assert.equal(schema.additionalProperties, false, `${command.name} ignores unknown fields`);
      });

      it('summary: one line for people and models', () => {
        assert.ok(command.summary.length >= 15 && command.summary.length <= 140, command.summary);
        assert.doesNotMatch(command.summary, /\n/);
      });

      it('result: a JSON Schema exists for it', () => {
        assert.ok(ajv.validateSchema(z.toJSONSchema(command.result, { io: 'output', unrepresentable: 'any' })), ajv.errorsText(ajv.errors));
      });

      it('fills and waits name fields the params have', () => {
        const props = Object.keys(inputSchema(command).properties ?? {});
        for (const field of [...Object.values(command.fills ?? {}), ...(command.waits ? [command.waits] : [])]) {
          assert.ok(props.includes(field as string), `${command.name} fills/waits ${String(field)}, which it does not have`);
        }
        if (command.fills?.fencingToken) assert.ok(command.fills.task, 'a fencing token belongs to a task parameter');
      });
    });
  }

  it('marks the lease commands so a worker-side wrapper fills in the worker and its fencing token', () => {
    for (const name of ['task_heartbeat', 'task_progress', 'task_complete', 'task_fail', 'task_release']) {
      assert.deepEqual(findCommand(name)?.fills, { worker: 'worker_id', fencingToken: 'fencing_token', task: 'task_id' }, name);
    }
    assert.equal(findCommand('run_output')?.kind, 'notification');
    assert.deepEqual(
      CATALOG.filter((c) => c.kind === 'notification').map((c) => c.name),
      ['run_output'],
    );
  });
});

describe('the event catalog', () => {
  it('derives the quiet events (that change no view) from the descriptors', () => {
    assert.deepEqual([...QUIET_EVENTS].sort(), EVENT_NAMES.filter((n) => EVENTS[n].affects.length === 0).sort());
    for (const quiet of ['task:heartbeat', 'lock:renewed', 'run:output', 'events:dropped']) assert.ok(QUIET_EVENTS.has(quiet), quiet);
    for (const loud of ['task:completed', 'lock:acquired', 'run:started', 'instance:stale']) assert.ok(!QUIET_EVENTS.has(loud), loud);
  });

  it('has a JSON Schema for every event', () => {
    for (const name of EVENT_NAMES) assert.ok(ajv.validateSchema(z.toJSONSchema(EVENTS[name].data, { io: 'output', unrepresentable: 'any' })), name);
  });
});

// The MCP tools as generated from the catalog: which commands become tools, what their schemas
// leave out, and how --tools selects them.
import { strict as assert } from 'node:assert';
import { CATALOG } from '../../src/protocol/catalog';
import { allTools, DEFAULT_TOOLS, selectTools, toolSchema } from '../../src/mcp/tools';
import { TaskComplete } from '../../src/protocol/tasks';
import { MessageSend } from '../../src/protocol/mailbox';

describe('MCP tools from the catalog', () => {
  it('one tool per command an agent may call, named and described as the command, plus exec', () => {
    const tools = allTools();
    for (const t of tools.filter((t) => t.command)) {
      assert.equal(t.name, t.command!.name);
      assert.equal(t.description, t.command!.summary);
    }
    const commands = new Set(tools.map((t) => t.command?.name).filter(Boolean));
    const left = CATALOG.filter((d) => !commands.has(d.name)).map((d) => d.name).sort();
    assert.deepEqual(left, ['instance_deregister', 'instance_heartbeat', 'instance_register', 'plan_stage', 'run_finish', 'run_output', 'run_start', 'subscribe', 'task_heartbeat']);
    assert.equal(tools.at(-1)!.name, 'exec');
  });

  it('leaves out what the MCP process fills (worker id, fencing token), and task_add\'s nested form', () => {
    const complete = toolSchema(TaskComplete.params, ['worker_id', 'fencing_token']);
    assert.deepEqual(Object.keys(complete.properties!).sort(), ['next', 'result', 'task_id']);
    const completeTool = allTools().find((t) => t.name === 'task_complete')!;
    assert.deepEqual(Object.keys(completeTool.inputSchema.properties!).sort(), ['result', 'task_id'], 'the tool leaves out next: the agent claims when it is ready');
    assert.deepEqual(complete.required, ['task_id']);
    assert.deepEqual(complete.properties!.result, { description: 'Any JSON result, kept with the task' }, 'any JSON: an empty schema, no $defs');
    assert.equal(complete.$defs, undefined);
    const add = allTools().find((t) => t.name === 'task_add')!;
    for (const hidden of ['task', 'source', 'retry_backoff']) assert.ok(!(hidden in add.inputSchema.properties!), `task_add hides ${hidden}`);
    assert.ok('task_id' in add.inputSchema.properties! && 'dependencies' in add.inputSchema.properties!);
    const send = allTools().find((t) => t.name === 'message_send')!;
    assert.deepEqual(send.filled, ['from'], 'message_send: the sender is this worker');
    assert.equal(MessageSend.fills?.worker, 'from');
    assert.ok(!JSON.stringify(allTools().map((t) => t.inputSchema)).includes('9007199254740991'));
  });

  it('--tools: default, all, a list (with default in it); an unknown name lists the names there are', () => {
    assert.deepEqual(selectTools(undefined).map((t) => t.name), allTools().filter((t) => (DEFAULT_TOOLS as readonly string[]).includes(t.name)).map((t) => t.name));
    assert.equal(selectTools('all').length, allTools().length);
    assert.deepEqual(selectTools('task_get, status').map((t) => t.name), ['task_get', 'status']);
    assert.ok(selectTools('default,state_get').some((t) => t.name === 'state_get'));
    assert.throws(() => selectTools('task_get,nope'), /--tools: no tool named "nope"; there are: default, all, .*task_claim/);
    assert.throws(() => selectTools('task_heartbeat'), /no tool named "task_heartbeat"/, 'the MCP process heartbeats itself');
  });
});

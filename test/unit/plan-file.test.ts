// The one plan module (CLI and extension): read, checked strictly at every level, staged when big.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Coordinator, DEFAULT_CONFIG } from '../../src/core/coordinator';
import { MemoryStore } from '../../src/core/memory-store';
import { importPlan, ONE_REQUEST_PLAN_BYTES, parsePlan, readPlanFile } from '../../src/client/plan';
import type { Caller } from '../../src/protocol/api';
import { dataOf } from '../../src/protocol/messages';
import { dispatcher } from '../support/dispatch';
import { rejects } from '../support/primitives';
import { tempDir } from '../support/stores';

describe('plan files', () => {
  const refused = (text: string, name: string, field: string) =>
    rejects(() => parsePlan(text, name), 'INVALID_ARGUMENT', `invalid plan file ${name}: ${field}`);

  it('an unknown field at any level is an error naming it: top level, a task, a task resource', async () => {
    // The defect: {"resource": ...} was dropped, the cap lost, and two GPU tasks ran at once.
    await refused('{"resource": {"cap:gpu": 1}, "tasks": [{"id": "a"}]}', 'plan.json', 'resource: unknown field');
    await refused('{"tasks": [{"id": "a"}, {"id": "b", "prority": 2}]}', 'plan.json', 'tasks[1].prority: unknown field');
    await refused('{"tasks": [{"id": "a", "resources": {"gpu": "one"}}]}', 'plan.json', 'tasks[0].resources.gpu');
    await refused('{"tasks": [], "resources": {"bad name": 1}}', 'plan.json', 'resources.bad name');
    await refused('tasks:\n  - id: a\n    dependson: [b]\n', 'plan.yaml', 'tasks[0].dependson: unknown field');
  });

  it('takes JSON or YAML, {"tasks": [...]} or a bare list; a broken file names itself', async () => {
    assert.deepEqual(parsePlan('[{"id": "a"}]', 'p.json'), { tasks: [{ id: 'a' }] });
    assert.deepEqual(parsePlan('resources:\n  gpu: 1\ntasks:\n  - id: a\n    resources: {gpu: 1}\n', 'p.yml'), {
      tasks: [{ id: 'a', resources: { gpu: 1 } }],
      resources: { gpu: 1 },
    });
    await rejects(() => parsePlan('{"tasks": [', 'p.json'), 'INVALID_ARGUMENT', 'plan file p.json is not valid JSON');
    await rejects(() => parsePlan('{"tasks": {}}', 'p.json'), 'INVALID_ARGUMENT', 'tasks: Invalid input: expected array');
    await rejects(() => readPlanFile(path.join(tempDir(), 'missing.json')), 'INVALID_ARGUMENT', 'no such file');
  });

  it('imports a small plan in one request, a big one staged in pieces, all or nothing either way', async () => {
    const coordinator = new Coordinator(new MemoryStore(), DEFAULT_CONFIG);
    const d = dispatcher(coordinator);
    const sent: string[] = [];
    const api: Caller = {
      call: async (command, params?: unknown) => {
        sent.push(command.name);
        return dataOf(await d.send(command.name, params as Record<string, unknown>)) as never;
      },
    };
    assert.equal((await importPlan(api, { tasks: [{ id: 'small' }] })).count, 1);
    assert.deepEqual(sent.splice(0), ['plan_import']);

    const file = path.join(tempDir(), 'big.json');
    const tasks = Array.from({ length: 8000 }, (_, i) => ({ id: `big-${i}`, description: 'a description long enough to add up '.repeat(4) }));
    fs.writeFileSync(file, JSON.stringify({ tasks }));
    assert.ok(fs.statSync(file).size > 1.1 * ONE_REQUEST_PLAN_BYTES);
    const result = await importPlan(api, readPlanFile(file));
    assert.equal(result.count, 8000);
    assert.ok(sent.filter((c) => c === 'plan_stage').length >= 2, sent.join(' '));
    assert.equal(sent.at(-1), 'plan_import');

    sent.length = 0;
    const cyclic = { tasks: [...tasks.map((t) => ({ ...t, id: `again-${t.id}` })), { id: 'x', dependencies: ['y'] }, { id: 'y', dependencies: ['x'] }] };
    await rejects(importPlan(api, cyclic), 'CYCLE');
    assert.equal(coordinator.countTasks().pending, 8001, 'nothing of the refused plan was stored');
  });
});

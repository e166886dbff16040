import * as assert from 'node:assert/strict';
import { PlanStaging } from '../../src/server/plan-staging';

describe('plan staging', () => {
  it('joins the pieces of a stage once, then forgets it', () => {
    const s = new PlanStaging();
    const { stage_id } = s.append(undefined, '{"tasks":');
    assert.equal(s.append(stage_id, '[]}').bytes, 12);
    assert.equal(s.take(stage_id), '{"tasks":[]}');
    assert.throws(() => s.take(stage_id), /does not exist/);
  });

  it('bounds the size, the number of stages and their age', () => {
    const s = new PlanStaging(10, 2, 1000);
    const a = s.append(undefined, 'x', 0).stage_id;
    s.append(undefined, 'y', 0);
    assert.throws(() => s.append(undefined, 'z', 0), /too many plans/);
    assert.throws(() => s.append(a, 'x'.repeat(10), 0), /larger than/);
    assert.throws(() => s.take(a), /does not exist/, 'an oversized stage is dropped');
    const c = s.append(undefined, 'c', 0).stage_id;
    assert.throws(() => s.append(c, 'd', 5000), /does not exist/, 'an old stage expires');
  });
});

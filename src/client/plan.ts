// A plan file, read, validated and imported by one module: the CLI's `plan import` and the
// extension's Import Plan both use it, so both take YAML and JSON, refuse the same mistakes with
// the same words, and stage a plan too big for one request line.
import * as fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Caller } from '../protocol/api';
import type { ResultOf } from '../protocol/command';
import { describeFileError, ErrorCode, HarnessError } from '../protocol/errors';
import { MAX_PIECE_UNITS, splitText } from '../protocol/output';
import { Plan, PlanImport, PlanStage } from '../protocol/tasks';
import { parse } from '../protocol/validate';

export type { Plan };

/** Plans whose JSON is at most this many bytes go in one request; bigger ones are staged in pieces. */
export const ONE_REQUEST_PLAN_BYTES = 900 * 1024;

const isYaml = (name: string) => /\.ya?ml$/i.test(name);

/**
 * A plan from its text: JSON, or YAML when `name` ends in .yaml/.yml; `{"tasks": [...],
 * "resources"?: {...}}` or a bare list of tasks. Unknown fields at any level are errors naming
 * the field (a misspelt `resource` must not silently drop a pool's cap).
 */
export function parsePlan(text: string, name: string): Plan {
  let json: unknown;
  try {
    json = isYaml(name) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new HarnessError(ErrorCode.InvalidArgument, `plan file ${name} is not valid ${isYaml(name) ? 'YAML' : 'JSON'}: ${(e as Error).message}`, {
      file: name,
    });
  }
  return parse(Plan, Array.isArray(json) ? { tasks: json } : json, `plan file ${name}`);
}

export function readPlanFile(file: string): Plan {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new HarnessError(ErrorCode.InvalidArgument, `cannot read plan file ${file}: ${describeFileError(e)}`, {
      file,
    });
  }
  return parsePlan(text, file);
}

/** Imports a plan, all or nothing: in one request, or staged in pieces (plan_stage) and imported whole. */
export async function importPlan(api: Caller, plan: Plan): Promise<ResultOf<typeof PlanImport>> {
  const text = JSON.stringify(plan);
  if (Buffer.byteLength(text) <= ONE_REQUEST_PLAN_BYTES) return api.call(PlanImport, plan);
  let stageId: string | undefined;
  for (const data of splitText(text, MAX_PIECE_UNITS)) {
    ({ stage_id: stageId } = await api.call(PlanStage, { data, ...(stageId ? { stage_id: stageId } : {}) }));
  }
  return api.call(PlanImport, { stage_id: stageId! });
}

// `harness recover`, server side: what of a state directory is intact, and starting over from it
// (src/core/state-repair.ts), on the real files. No coordinator may hold the directory meanwhile.
import { nodeFileOps } from '../core/files';
import { inspectState, repairState, type RepairResult, type StateReport } from '../core/state-repair';

export type { RepairResult, StateReport };

export function inspectStateDirectory(dir: string): Promise<StateReport> {
  return inspectState(dir, nodeFileOps);
}

export function repairStateDirectory(dir: string): Promise<RepairResult> {
  return repairState(dir, nodeFileOps);
}

// Commands on the Workers tree's target rows (and the palette): Scale Target, Restart Worker,
// Reset Target. Each takes a tree row, a name given by a caller, or asks.
import * as vscode from 'vscode';
import type { HarnessApi } from '../protocol/api';
import { TargetList, TargetReset, TargetScale, WorkerRestart, type TargetView } from '../protocol/targets';
import { parseScale } from '../ui/fleet-view-models';
import { CommandId } from '../ui/ids';
import { register } from './commands';
import type { WorkerNode } from './trees';

async function pickTarget(api: HarnessApi, arg: unknown, title: string, only?: (t: TargetView) => boolean): Promise<TargetView | undefined> {
  const node = arg as WorkerNode | undefined;
  const { targets } = await api.call(TargetList);
  const name = node?.kind === 'target' ? node.target.name : node?.kind === 'slot' ? node.target : typeof arg === 'string' ? arg : undefined;
  if (name !== undefined) {
    const named = targets.find((t) => t.name === name);
    if (!named) throw new Error(`target ${name} does not exist`);
    return named;
  }
  const candidates = targets.filter(only ?? (() => true));
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage(targets.length ? 'No target needs that now.' : 'No worker targets: add one in .harness/config.json ("targets") or with `harness target add`.');
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    candidates.map((t) => ({ label: t.name, description: `${t.state} · ${t.workers.length} of ${t.min}–${t.max}`, target: t })),
    { title },
  );
  return pick?.target;
}

export function registerFleetCommands(log: vscode.LogOutputChannel, api: () => Promise<HarnessApi>): vscode.Disposable[] {
  return [
    register(CommandId.scaleTarget, log, async (arg?: unknown, counts?: { min: number; max: number }) => {
      const a = await api();
      const target = await pickTarget(a, arg, 'Scale Target');
      if (!target) return undefined;
      let scale = counts;
      if (!scale) {
        const answer = await vscode.window.showInputBox({
          title: `Scale ${target.name}`,
          prompt: 'Workers: a count (3) or min-max (1-6); it scales up toward max while ready tasks wait',
          value: target.min === target.max ? String(target.min) : `${target.min}-${target.max}`,
          validateInput: (v) => (parseScale(v) ? undefined : 'A count like 3, or a range like 1-6 (at most 100)'),
        });
        if (answer === undefined) return undefined;
        scale = parseScale(answer)!;
      }
      return (await a.call(TargetScale, { name: target.name, ...scale })).target;
    }),
    register(CommandId.restartWorker, log, async (arg?: unknown) => {
      const a = await api();
      const node = arg as WorkerNode | undefined;
      let worker = node?.kind === 'slot' ? node.slot.worker_id : typeof arg === 'string' ? arg : undefined;
      if (worker === undefined) {
        const { targets } = await a.call(TargetList);
        const items = targets.flatMap((t) => t.workers.map((w) => ({ label: w.worker_id, description: `${t.name} · ${w.state}${w.current_task ? ` · on ${w.current_task}` : ''}` })));
        if (items.length === 0) {
          void vscode.window.showInformationMessage('No worker of a target is running.');
          return undefined;
        }
        worker = (await vscode.window.showQuickPick(items, { title: 'Restart Worker (its task is released)' }))?.label;
        if (!worker) return undefined;
      }
      return (await a.call(WorkerRestart, { worker_id: worker })).target;
    }),
    register(CommandId.resetTarget, log, async (arg?: unknown) => {
      const a = await api();
      const target = await pickTarget(a, arg, 'Reset Target', (t) => t.state === 'failing');
      return target && (await a.call(TargetReset, { name: target.name })).target;
    }),
  ];
}

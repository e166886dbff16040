// Commands on the Coordination tree's rows (and the palette): drop a message nobody will read,
// record a checkpoint of a task group, wait for a group to converge.
import * as vscode from 'vscode';
import { listAllTasks } from '../client/paging';
import type { HarnessApi } from '../protocol/api';
import { affectsAny } from '../protocol/events';
import type { GroupStatus } from '../protocol/groups';
import { MessageDrop, MessageList } from '../protocol/mailbox';
import { CheckpointRecord, GroupStatusCommand } from '../protocol/tasks';
import { groupNames, type CoordNode } from '../ui/coordination-view-models';
import { CommandId } from '../ui/ids';
import { register } from './commands';

/** Events after which a group's status may have changed: those that change tasks. */
const changesGroups = (event: string) => affectsAny(event, ['tasks']);
/** Events may be missed when the connection is replaced mid-wait: look again at least this often. */
const POLL_MS = 2000;

/** A group from a tree row, a name given by a caller, or picked from the groups tasks name. */
async function pickGroup(api: HarnessApi, arg: unknown, title: string): Promise<string | undefined> {
  const node = arg as CoordNode | undefined;
  if (node?.kind === 'group') return node.entry.status.group;
  if (node?.kind === 'checkpoint' || node?.kind === 'stream') return node.group;
  if (typeof arg === 'string') return arg;
  const names = groupNames(await listAllTasks(api));
  if (names.length === 0) {
    void vscode.window.showInformationMessage('No task belongs to a group yet (a task\'s "group" field).');
    return undefined;
  }
  const items = await Promise.all(
    names.map(async (group) => {
      const s = await api.call(GroupStatusCommand, { group });
      return { label: group, description: `${s.completed}/${s.total} completed${s.done ? ' · done' : ''}` };
    }),
  );
  return (await vscode.window.showQuickPick(items, { title }))?.label;
}

/** A delivery from a row, `{message_id, recipient?}`, or a message id; else picked from the pending ones. */
async function pickMessage(api: HarnessApi, arg: unknown): Promise<{ message_id: string; recipient?: string; label: string } | undefined> {
  const node = arg as CoordNode | { message_id?: string; recipient?: string } | undefined;
  if (node && 'kind' in node && node.kind === 'message') {
    return { message_id: node.message.id, recipient: node.message.recipient, label: `${node.message.id} to ${node.message.recipient}` };
  }
  if (typeof arg === 'string') return { message_id: arg, label: arg };
  if (node && 'message_id' in node && typeof node.message_id === 'string') {
    return { message_id: node.message_id, ...(node.recipient ? { recipient: node.recipient } : {}), label: node.message_id };
  }
  const { messages } = await api.call(MessageList);
  if (messages.length === 0) {
    void vscode.window.showInformationMessage('No message is pending.');
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    messages.map((m) => ({ label: m.id, description: `to ${m.recipient} · ${m.sent_at}`, detail: JSON.stringify(m.body).slice(0, 200), m })),
    { title: 'Drop Message' },
  );
  return pick && { message_id: pick.m.id, recipient: pick.m.recipient, label: `${pick.m.id} to ${pick.m.recipient}` };
}

export function registerCoordinationCommands(log: vscode.LogOutputChannel, api: () => Promise<HarnessApi>): vscode.Disposable[] {
  return [
    // `options.confirm: false` is for callers that already asked (tests, other extensions); a
    // context menu passes the selection as the second argument, which is no such object.
    register(CommandId.dropMessage, log, async (arg?: unknown, options?: { confirm?: boolean }) => {
      const a = await api();
      const target = await pickMessage(a, arg);
      if (!target) return undefined;
      if (options?.confirm !== false) {
        const answer = await vscode.window.showWarningMessage(
          `Drop message ${target.label}? It will not be delivered.`,
          { modal: true },
          'Drop',
        );
        if (answer !== 'Drop') return undefined;
      }
      const { label: _label, ...params } = target;
      return a.call(MessageDrop, params);
    }),

    register(CommandId.recordCheckpoint, log, async (arg?: unknown) => {
      const a = await api();
      const group = await pickGroup(a, arg, 'Record Checkpoint of Group');
      if (!group) return undefined;
      const { checkpoint } = await a.call(CheckpointRecord, { group });
      void vscode.window.showInformationMessage(`Recorded a checkpoint of ${group}: ${checkpoint.streams.length} streams.`);
      return checkpoint;
    }),

    register(CommandId.waitForGroup, log, async (arg?: unknown) => {
      const a = await api();
      const group = await pickGroup(a, arg, 'Wait for Group');
      if (!group) return undefined;
      const final = await waitWithProgress(a, group);
      if (!final.done) return final; // cancelled: the person knows
      const failed = final.streams.filter((s) => s.status !== 'completed');
      if (failed.length === 0) void vscode.window.showInformationMessage(`Group ${group} is done: all ${final.total} tasks completed.`);
      else {
        const names = failed.map((s) => `${s.task_id} (${s.status}${s.error ? `: ${s.error}` : ''})`).join(', ');
        void vscode.window.showWarningMessage(`Group ${group} is done, ${failed.length} of ${final.total} did not complete: ${names}`);
      }
      return final;
    }),
  ];
}

/** A cancellable notification showing completed/total until the group is done; the last status seen. */
function waitWithProgress(api: HarnessApi, group: string): Promise<GroupStatus> {
  return Promise.resolve(
    vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Waiting for group ${group}`, cancellable: true },
      (progress, token) =>
        new Promise<GroupStatus>((resolve, reject) => {
          let shownPercent = 0;
          let last: GroupStatus | undefined;
          let checking = false;
          let again = false;
          let settled = false;
          const finish = (result: GroupStatus | Error) => {
            if (settled) return;
            settled = true;
            clearInterval(timer);
            sub.dispose();
            cancel.dispose();
            if (result instanceof Error) reject(result);
            else resolve(result);
          };
          // Events only say "look again"; the status is always read whole, so nothing is missed.
          const check = async (): Promise<void> => {
            if (settled) return;
            if (checking) {
              again = true;
              return;
            }
            checking = true;
            try {
              const s = await api.call(GroupStatusCommand, { group });
              last = s;
              const percent = s.total > 0 ? (100 * s.finished) / s.total : 0;
              progress.report({ message: `${s.completed}/${s.total} completed${s.failed ? `, ${s.failed} failed` : ''}`, increment: percent - shownPercent });
              shownPercent = percent;
              if (s.done) return finish(s);
            } catch (e) {
              return finish(e instanceof Error ? e : new Error(String(e)));
            } finally {
              checking = false;
            }
            if (again) {
              again = false;
              void check();
            }
          };
          const sub = api.onEvent((e) => changesGroups(e.event) && void check());
          const timer = setInterval(() => void check(), POLL_MS);
          const cancel = token.onCancellationRequested(() => finish(last ?? { group, total: 0, finished: 0, completed: 0, failed: 0, done: false, streams: [] }));
          void check();
        }),
    ),
  );
}

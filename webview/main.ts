/**
 * The coordination panel's webview: validates every message from the host, renders the task
 * graph, the workers, the runs and the selected run's output, and tells the host what the user
 * picked. Says `ready` once loaded (and after every reload, with the run it remembers), so the
 * host sends nothing before the page can take it.
 */
import * as z from 'zod/mini';
import {
  type HostMessage,
  type RunView,
  type TaskView,
  type WebviewMessage,
  parseHostMessage,
} from '../src/protocol/webview';
import { DagView } from './dag-view';
import { InstancesView, RunsView } from './lists';
import { type DisplayStatus, STATUS_LABELS, countByStatus, displayStatuses, newestRun, runLabel } from './model';
import { OutputView } from './output-view';
import { TaskDetail } from './task-detail';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** What survives a reload of the webview (VS Code keeps it per panel). */
const Persisted = z.object({
  selectedRunId: z.catch(z.nullable(z.string()), null),
  /** While true the output follows the newest run; picking a run turns it off. */
  follow: z.catch(z.boolean(), true),
  selectedTaskId: z.catch(z.nullable(z.string()), null),
});
type Persisted = z.infer<typeof Persisted>;

const vscode = acquireVsCodeApi();
const post = (message: WebviewMessage) => vscode.postMessage(message);
const report = (level: 'info' | 'warn' | 'error', message: string) => post({ type: 'log', level, message: message.slice(0, 10_000) });

const saved = Persisted.safeParse(vscode.getState() ?? {});
const ui: Persisted = saved.success ? saved.data : { selectedRunId: null, follow: true, selectedTaskId: null };
const save = () => vscode.setState(ui);

let tasks: TaskView[] = [];
let runs: RunView[] = [];
let statuses = new Map<string, DisplayStatus>();
let restored = false;

const $ = (id: string) => document.getElementById(id)!;
const banner = $('banner');
const followButton = $('follow');
const outputNote = $('output-note');
const output = new OutputView($('output'));
const instances = new InstancesView($('instances'));
const detail = new TaskDetail($('task-detail'), {
  taskAction: (action, task_id) => post({ type: 'taskAction', action, task_id }),
  selectRun: (runId) => selectRun(runId, { follow: false, tellHost: true }),
});
const dag = new DagView($('dag'), (taskId) => {
  ui.selectedTaskId = taskId;
  save();
  showDetail();
});
const runList = new RunsView($('runs'), (runId) => selectRun(runId, { follow: false, tellHost: true }));

function showDetail(): void {
  const task = tasks.find((t) => t.id === ui.selectedTaskId);
  detail.show(task, task && statuses.get(task.id), runs);
}

/** Shows a run's output: cleared now, filled by the host's `runLog` and then live `output`. */
function selectRun(runId: string | null, how: { follow: boolean; tellHost: boolean }): void {
  ui.follow = how.follow;
  followButton.setAttribute('aria-pressed', String(ui.follow));
  const changed = runId !== ui.selectedRunId;
  ui.selectedRunId = runId;
  save();
  runList.setSelected(runId);
  showRunHeader();
  // Picking the shown run again re-fetches it: a way to resync, and harmless.
  if (changed || how.tellHost) output.clear(runId ? 'Loading output…' : 'No run selected.');
  outputNote.hidden = true;
  if (how.tellHost) post({ type: 'selectRun', run_id: runId });
}

function showRunHeader(): void {
  const run = runs.find((r) => r.run_id === ui.selectedRunId);
  $('output-run').textContent = run ? runLabel(run) : (ui.selectedRunId ?? '');
}

function followNewest(): void {
  if (!ui.follow) return;
  const newest = newestRun(runs);
  if (newest && newest.run_id !== ui.selectedRunId) selectRun(newest.run_id, { follow: true, tellHost: true });
}

function showState(message: Extract<HostMessage, { type: 'state' }>): void {
  tasks = message.tasks;
  runs = message.runs;
  statuses = displayStatuses(tasks);
  dag.update(tasks, statuses);
  if (!restored) {
    restored = true; // the task selected before a reload, once its node exists
    dag.select(ui.selectedTaskId);
  }
  const counts = countByStatus(statuses);
  const parts = (Object.keys(counts) as DisplayStatus[]).filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${STATUS_LABELS[s]}`);
  $('dag-summary').textContent = tasks.length ? `${tasks.length} tasks: ${parts.join(' · ')}` : 'No tasks yet: import a plan.';
  instances.update(message.instances, Date.now());
  runList.update(runs);
  runList.setSelected(ui.selectedRunId);
  showRunHeader();
  showDetail();
  followNewest();
}

function showError(text: string): void {
  const dismiss = document.createElement('button');
  dismiss.type = 'button';
  dismiss.className = 'action';
  dismiss.textContent = 'Dismiss';
  dismiss.addEventListener('click', () => (banner.hidden = true));
  const span = document.createElement('span');
  span.textContent = text;
  banner.replaceChildren(span, dismiss);
  banner.hidden = false;
}

function handle(message: HostMessage): void {
  switch (message.type) {
    case 'state':
      showState(message);
      break;
    case 'output':
      for (const chunk of message.chunks) if (chunk.run_id === ui.selectedRunId) output.append(chunk.stream, chunk.data);
      break;
    case 'runLog':
      if (message.run_id !== ui.selectedRunId) break; // a reply to a selection since replaced
      output.clear(message.output.length ? '' : 'No output yet.');
      outputNote.hidden = message.dropped_bytes === 0;
      outputNote.textContent = `${message.dropped_bytes.toLocaleString()} bytes of output were not kept (the log is bounded); the rest follows.`;
      for (const chunk of message.output) output.append(chunk.stream, chunk.data);
      break;
    case 'select':
      selectRun(message.run_id, { follow: false, tellHost: false });
      break;
    case 'error':
      showError(message.message);
      break;
    default: {
      const never: never = message;
      report('warn', `unhandled message ${JSON.stringify(never).slice(0, 200)}`);
    }
  }
}

window.addEventListener('message', (event: MessageEvent) => {
  const parsed = parseHostMessage(event.data);
  if (!parsed.ok) {
    report('warn', parsed.error); // ignored, not fatal: the next valid message renders as usual
    return;
  }
  try {
    handle(parsed.message);
  } catch (e) {
    report('error', `rendering ${parsed.message.type} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
});
window.addEventListener('error', (e) => report('error', `webview: ${e.message} at ${e.filename}:${e.lineno}`));
window.addEventListener('unhandledrejection', (e) => report('error', `webview: unhandled rejection ${String(e.reason)}`));

document.querySelector('.zoom')!.addEventListener('click', (e) => {
  const zoom = (e.target as HTMLElement).closest<HTMLElement>('button[data-zoom]')?.dataset.zoom;
  if (zoom === 'in' || zoom === 'out' || zoom === 'fit' || zoom === 'auto') dag.setZoom(zoom);
});
followButton.addEventListener('click', () => {
  ui.follow = !ui.follow;
  followButton.setAttribute('aria-pressed', String(ui.follow));
  save();
  followNewest();
});
setInterval(() => instances.tick(Date.now()), 1000);

followButton.setAttribute('aria-pressed', String(ui.follow));
runList.setSelected(ui.selectedRunId);
output.clear(ui.selectedRunId ? 'Loading output…' : 'No run selected.');
detail.show(undefined, undefined, []);
post({ type: 'ready', selected_run_id: ui.selectedRunId });

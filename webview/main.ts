/**
 * The task graph panel's webview: validates every message from the host, renders the graph (or
 * the summary of a plan too big to draw), the selected task's details, the workers, the runs and
 * the selected run's output, and tells the host what the user picked. Says `ready` once loaded
 * (and after every reload, with the run it remembers), so the host sends nothing before the page
 * can take it, and `rendered` after each state, so the host sends the next one only then.
 */
import * as z from 'zod/mini';
import {
  DISPLAY_STATUSES,
  type HostMessage,
  type RunView,
  type Scope,
  type Summary,
  type TaskView,
  type WebviewMessage,
  parseHostMessage,
} from '../src/protocol/webview';
import type { GraphNode } from './graph-model';
import { GraphView } from './graph-view';
import { LayoutEngine, startElkWorker } from './layout-engine';
import { InstancesView, RunsView } from './lists';
import { type DisplayStatus, countByStatus, displayStatuses, newestRun, runLabel } from './model';
import { OutputView } from './output-view';
import { SummaryView } from './summary-view';
import { TaskDetail } from './task-detail';
import { Toolbar, type ToolbarState } from './toolbar';

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
  search: z.catch(z.string(), ''),
  statuses: z.catch(z.array(z.enum(DISPLAY_STATUSES)), []),
  group: z.catch(z.nullable(z.string()), null),
  holder: z.catch(z.nullable(z.string()), null),
  /** On at first: mid-run, what is done matters less than what is left, and the graph shrinks. */
  collapseCompleted: z.catch(z.boolean(), true),
});
type Persisted = z.infer<typeof Persisted>;

const vscode = acquireVsCodeApi();
const post = (message: WebviewMessage) => vscode.postMessage(message);
const report = (level: 'info' | 'warn' | 'error', message: string) => post({ type: 'log', level, message: message.slice(0, 10_000) });

const saved = Persisted.safeParse(vscode.getState() ?? {});
const ui: Persisted = saved.success ? saved.data : Persisted.parse({});
const save = () => vscode.setState(ui);

let tasks: TaskView[] = [];
let tasksById = new Map<string, TaskView>();
let dependents = new Map<string, string[]>();
let runs: RunView[] = [];
let statuses = new Map<string, DisplayStatus>();
let summary: Summary | null = null;
/** A task picked in the summary's lists (no graph node to select there). */
let summaryPick: TaskView | null = null;
let hostSkewMs = 0;
let restored = false;
let sentScope = '';

const $ = (id: string) => document.getElementById(id)!;
const banner = $('banner');
const followButton = $('follow');
const outputNote = $('output-note');
const output = new OutputView($('output'));
const instances = new InstancesView($('instances'));
const detail = new TaskDetail($('task-detail'), {
  taskAction: (action, task_id) => post({ type: 'taskAction', action, task_id }),
  selectRun: (runId) => selectRun(runId, { follow: false, tellHost: true }),
  selectTask: (taskId) => {
    graph.selectTask(taskId);
    const t = tasksById.get(taskId);
    if (!graph.selectedNode && t) showPick(t);
  },
  expandCompleted: () => toolbar.setCollapse(false),
});
const engine = new LayoutEngine(startElkWorker(document.body.dataset.layoutWorker ?? ''));
const graph = new GraphView($('dag'), $('minimap'), engine, {
  onSelect: (node) => {
    summaryPick = null;
    ui.selectedTaskId = node?.kind === 'task' ? node.task.id : null;
    save();
    showDetail();
  },
  onProblem: (message) => report('error', message),
});
const summaryView = new SummaryView($('summary'), {
  showGroup: (group) => toolbar.chooseGroup(group),
  selectTask: (task) => showPick(task),
});
const toolbar = new Toolbar(
  document.querySelector('.pane-dag')!,
  {
    search: ui.search,
    statuses: new Set(ui.statuses),
    group: ui.group,
    holder: ui.holder,
    collapseCompleted: ui.collapseCompleted,
  },
  {
    onChange: (state, what) => {
      ui.search = state.search;
      ui.statuses = [...state.statuses];
      ui.group = state.group;
      ui.holder = state.holder;
      ui.collapseCompleted = state.collapseCompleted;
      save();
      if (summary) sendScope(state);
      else if (what === 'search') showSearchCount(graph.setSearch(state.search));
      else graph.setOptions(graphOptions(state));
      if (summary && what === 'collapse') graph.setOptions(graphOptions(state));
    },
    onSearchStep: (step) => {
      graph.goToMatch(step);
      showSearchCount(graph.matchPosition.count);
    },
  },
);
const runList = new RunsView($('runs'), (runId) => selectRun(runId, { follow: false, tellHost: true }));

function graphOptions(state: ToolbarState) {
  // With a summary the host has filtered already; the graph filters only a whole plan itself.
  const filter = summary ? { statuses: new Set<DisplayStatus>(), group: null, holder: null } : { statuses: state.statuses, group: state.group, holder: state.holder };
  return { filter, collapseCompleted: state.collapseCompleted };
}

function scopeOf(state: ToolbarState): Scope | null {
  const scope = { statuses: [...state.statuses], group: state.group, holder: state.holder, text: state.search.trim() };
  return scope.statuses.length || scope.group !== null || scope.holder !== null || scope.text ? scope : null;
}

/** Asks the host for the part of a big plan the filters describe (once per change). */
function sendScope(state: ToolbarState): void {
  const scope = scopeOf(state);
  const key = JSON.stringify(scope);
  if (key === sentScope) return;
  sentScope = key;
  post({ type: 'scope', scope });
}

function showSearchCount(count: number): void {
  const { index } = graph.matchPosition;
  const matches = count === 1 ? '1 match' : `${count} matches`;
  toolbar.setSearchCount(toolbar.state.search.trim() === '' ? '' : count === 0 ? 'no match' : index < 0 ? matches : `${index + 1} of ${count}`);
}

function showPick(task: TaskView): void {
  summaryPick = task;
  showDetail();
}

function showDetail(): void {
  const node: GraphNode | null = graph.selectedNode ?? (summaryPick ? { key: `t:${summaryPick.id}`, kind: 'task', task: summaryPick, cluster: summaryPick.group } : null);
  const known = summaryPick && !tasksById.has(summaryPick.id) ? new Map([...tasksById, [summaryPick.id, summaryPick]]) : tasksById;
  const knownStatuses = summaryPick?.display_status ? new Map([...statuses, [summaryPick.id, summaryPick.display_status]]) : statuses;
  detail.show(node, { tasks: known, statuses: knownStatuses, runs, dependents, hostSkewMs });
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

function describeScope(scope: Scope): string {
  const parts: string[] = [];
  if (scope.group !== null) parts.push(`group ${scope.group}`);
  if (scope.statuses.length) parts.push(scope.statuses.join(' or '));
  if (scope.holder !== null) parts.push(`held by ${scope.holder}`);
  if (scope.text) parts.push(`matching “${scope.text}”`);
  return parts.join(', ');
}

function showState(message: Extract<HostMessage, { type: 'state' }>, arrived: number): void {
  tasks = message.tasks;
  tasksById = new Map(tasks.map((t) => [t.id, t]));
  dependents = new Map();
  for (const t of tasks) for (const d of t.dependencies) (dependents.get(d) ?? dependents.set(d, []).get(d)!).push(t.id);
  runs = message.runs;
  hostSkewMs = message.host_now ? message.host_now - Date.now() : 0;
  const wasSummary = summary !== null;
  summary = message.summary;
  statuses = displayStatuses(tasks);

  const holders = [...new Set(message.instances.map((i) => i.worker_id))].sort();
  if (summary) {
    const scoped = summary.scope !== null && tasks.length > 0;
    if (!wasSummary) sendScope(toolbar.state); // filters chosen before the plan grew apply to it
    toolbar.setCounts(summary.counts);
    toolbar.setChoices(summary.groups.map((g) => g.group), holders);
    $('dag').hidden = !scoped;
    $('summary').hidden = scoped;
    $('scope-bar').hidden = !scoped;
    if (scoped) $('scope-text').textContent = `Graph of ${tasks.length.toLocaleString('en-US')} tasks: ${describeScope(summary.scope!)}`;
    else summaryView.show(summary, Date.now() + hostSkewMs);
    $('dag-summary').textContent = `${summary.total.toLocaleString('en-US')} tasks`;
  } else {
    const groups = [...new Set(tasks.flatMap((t) => (t.group ? [t.group] : [])))].sort();
    toolbar.setCounts(countByStatus(statuses));
    toolbar.setChoices(groups, [...new Set([...holders, ...tasks.flatMap((t) => (t.claimed_by ? [t.claimed_by] : []))])].sort());
    $('dag').hidden = false;
    $('summary').hidden = true;
    $('scope-bar').hidden = true;
    $('dag-summary').textContent = tasks.length ? `${tasks.length.toLocaleString('en-US')} tasks` : 'No tasks yet: import a plan.';
  }
  if (wasSummary !== (summary !== null)) graph.setOptions(graphOptions(toolbar.state));
  graph.update(tasks, statuses, hostSkewMs);
  if (!restored) {
    restored = true; // the task selected before a reload, once its node exists
    graph.selectTask(ui.selectedTaskId);
    if (!summary && toolbar.state.search) showSearchCount(graph.setSearch(toolbar.state.search));
  }
  if (summaryPick) summaryPick = tasksById.get(summaryPick.id) ?? summary?.running.find((t) => t.id === summaryPick!.id) ?? summary?.frontier.find((t) => t.id === summaryPick!.id) ?? summaryPick;
  instances.update(message.instances, Date.now());
  runList.update(runs);
  runList.setSelected(ui.selectedRunId);
  showRunHeader();
  showDetail();
  followNewest();
  post({ type: 'rendered', seq: message.seq, render_ms: performance.now() - arrived });
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

function handle(message: HostMessage, arrived: number): void {
  switch (message.type) {
    case 'state':
      showState(message, arrived);
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
  const arrived = performance.now();
  const parsed = parseHostMessage(event.data);
  if (!parsed.ok) {
    report('warn', parsed.error); // ignored, not fatal: the next valid message renders as usual
    return;
  }
  try {
    handle(parsed.message, arrived);
  } catch (e) {
    report('error', `rendering ${parsed.message.type} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
});
window.addEventListener('error', (e) => report('error', `webview: ${e.message} at ${e.filename}:${e.lineno}`));
window.addEventListener('unhandledrejection', (e) => report('error', `webview: unhandled rejection ${String(e.reason)}`));
window.addEventListener('keydown', (e) => {
  // Ctrl/Cmd+F searches the graph, as in an editor.
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'f') {
    e.preventDefault();
    toolbar.focusSearch();
  }
});

document.querySelector('.zoom')!.addEventListener('click', (e) => {
  const zoom = (e.target as HTMLElement).closest<HTMLElement>('button[data-zoom]')?.dataset.zoom;
  if (zoom === 'in' || zoom === 'out' || zoom === 'fit' || zoom === 'actual') graph.zoom(zoom);
});
$('scope-back').addEventListener('click', () => {
  toolbar.clearFilters();
});
followButton.addEventListener('click', () => {
  ui.follow = !ui.follow;
  followButton.setAttribute('aria-pressed', String(ui.follow));
  save();
  followNewest();
});
setInterval(() => {
  instances.tick(Date.now());
  detail.tick();
}, 1000);

graph.setOptions(graphOptions(toolbar.state));
followButton.setAttribute('aria-pressed', String(ui.follow));
runList.setSelected(ui.selectedRunId);
output.clear(ui.selectedRunId ? 'Loading output…' : 'No run selected.');
showDetail();
post({ type: 'ready', selected_run_id: ui.selectedRunId });

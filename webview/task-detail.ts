/**
 * The selected node's details beside the graph: for a task what it is, who holds it and for how
 * much longer, how it went (attempts, progress, result or error), its runs' output, and the
 * actions its status allows; for a collapsed node, the tasks folded into it.
 */
import { formatAgo, formatDuration, formatExact } from '../src/protocol/human-time';
import type { RunView, TaskAction, TaskView } from '../src/protocol/webview';
import type { GraphNode } from './graph-model';
import { type DisplayStatus, STATUS_LABELS, runOutcome, truncate } from './model';

export interface TaskDetailActions {
  taskAction(action: TaskAction, taskId: string): void;
  selectRun(runId: string): void;
  /** Selects another task in the graph (a dependency or a dependent). */
  selectTask(taskId: string): void;
  /** Shows the completed tasks a collapsed node folds. */
  expandCompleted(): void;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = className;
  if (text) e.textContent = text;
  return e;
}

function button(label: string, aria: string, onClick: () => void, className = 'action'): HTMLButtonElement {
  const b = el('button', className, label);
  b.type = 'button';
  b.setAttribute('aria-label', aria);
  b.addEventListener('click', onClick); // a <button> turns Enter and Space into click itself
  return b;
}

/** What each status allows, in the order the buttons show. */
const ACTIONS: Record<TaskAction, { label: string; when: ReadonlySet<TaskView['status']>; secondary?: boolean }> = {
  complete: { label: 'Complete', when: new Set(['running']) },
  fail: { label: 'Fail…', when: new Set(['running']), secondary: true },
  release: { label: 'Release', when: new Set(['running']), secondary: true },
  retry: { label: 'Retry', when: new Set(['dead_letter']) },
  cancel: { label: 'Cancel', when: new Set(['pending', 'running', 'dead_letter']), secondary: true },
};

export class TaskDetail {
  /** What is shown, so an unchanged task is not re-rendered (and a focused button stays). */
  private signature = '';
  private lease: { el: HTMLElement; expires: number } | null = null;
  private skewMs = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly actions: TaskDetailActions,
  ) {}

  show(
    node: GraphNode | null,
    context: { tasks: ReadonlyMap<string, TaskView>; statuses: ReadonlyMap<string, DisplayStatus>; runs: readonly RunView[]; dependents: ReadonlyMap<string, string[]>; hostSkewMs: number },
  ): void {
    this.skewMs = context.hostSkewMs;
    if (!node) {
      this.lease = null;
      if (this.signature === 'hint') return;
      this.signature = 'hint';
      this.root.replaceChildren(
        el('p', 'hint', 'Select a task to see its details and act on it. Click a node, or Tab to the graph, move with the arrows and press Enter.'),
      );
      return;
    }
    if (node.kind === 'collapsed') return this.showCollapsed(node.taskIds, context.tasks);
    const task = context.tasks.get(node.task.id) ?? node.task;
    const status = context.statuses.get(task.id) ?? 'blocked';
    const taskRuns = context.runs.filter((r) => r.task_id === task.id);
    const dependents = context.dependents.get(task.id) ?? [];
    const signature = JSON.stringify([task, status, dependents.length, taskRuns.map((r) => [r.run_id, runOutcome(r)])]);
    if (signature === this.signature) return;
    this.signature = signature;
    const now = Date.now() + this.skewMs;

    const head = el('div', 'detail-head');
    head.append(el('span', `badge status-${status}`, STATUS_LABELS[status]), el('strong', 'detail-id', task.id));
    if (status === 'ready' && task.error) head.append(el('span', 'detail-note', `failed ${task.attempts} of ${task.max_attempts}: will be retried`));
    const facts = el('dl', 'facts');
    const fact = (name: string, value: Node | string, title?: string) => {
      const dd = el('dd', '');
      dd.append(value);
      if (title) dd.title = title;
      facts.append(el('dt', '', name), dd);
      return dd;
    };
    this.lease = null;
    if (task.claimed_by) {
      const holder = el('span', '', task.claimed_by);
      const dd = fact(status === 'running' ? 'holder' : 'last holder', holder);
      if (status === 'running' && task.lease_expires_at) {
        const lease = el('span', 'lease');
        dd.append(' · ', lease);
        this.lease = { el: lease, expires: Date.parse(task.lease_expires_at) };
        dd.title = `Lease expires ${formatExact(task.lease_expires_at)}`;
      }
    }
    if (task.progress) {
      const p = task.progress;
      fact(status === 'running' ? 'progress' : 'last progress', `${Math.round(p.percent)}%${p.message ? ` · ${p.message}` : ''} (${formatAgo(now - Date.parse(p.at))})`, formatExact(p.at));
    }
    fact('attempts', `${task.attempts} of ${task.max_attempts}`);
    if (task.group) fact('group', task.group);
    if (task.started_at) fact(status === 'running' ? 'started' : 'last started', formatAgo(now - Date.parse(task.started_at)), formatExact(task.started_at));
    if (task.completed_at) fact('finished', formatAgo(now - Date.parse(task.completed_at)), formatExact(task.completed_at));
    fact('depends on', this.links(task.dependencies, context.statuses));
    fact('needed by', this.links(dependents, context.statuses));
    if (task.capabilities.length) fact('needs', task.capabilities.join(', '));
    if (task.source) {
      // A link to where the task came from (an issue); VS Code opens http(s) links outside.
      const label = truncate(task.source.title ?? task.source.kind, 200);
      const from = el('dd', '');
      if (task.source.url) {
        const link = el('a', 'source-link', label);
        link.href = task.source.url;
        link.title = task.source.url;
        from.append(link);
      } else from.textContent = label;
      facts.append(el('dt', '', 'from'), from);
    }

    const bar = el('div', 'actions');
    for (const [action, spec] of Object.entries(ACTIONS) as [TaskAction, (typeof ACTIONS)[TaskAction]][]) {
      if (!spec.when.has(task.status)) continue;
      bar.append(button(spec.label, `${spec.label.replace('…', '')} task ${task.id}`, () => this.actions.taskAction(action, task.id), spec.secondary ? 'action secondary' : 'action'));
    }
    for (const run of taskRuns.slice(-5)) {
      bar.append(button(`Output: ${runOutcome(run)}`, `Show output of run ${run.run_id}`, () => this.actions.selectRun(run.run_id), 'action secondary'));
    }
    const parts: Node[] = [head];
    if (task.description) parts.push(el('p', 'description', truncate(task.description, 2000)));
    parts.push(facts);
    if (task.error) parts.push(el('div', 'detail-label', status === 'completed' ? 'last error' : 'error'), el('pre', 'detail-error', truncate(task.error, 4000)));
    if (task.result_preview !== null) parts.push(el('div', 'detail-label', 'result'), el('pre', 'detail-result', task.result_preview));
    if (bar.childElementCount) parts.push(bar);
    this.root.replaceChildren(...parts);
    this.tick();
  }

  /** Counts the lease down between state updates. */
  tick(): void {
    if (!this.lease) return;
    const left = this.lease.expires - (Date.now() + this.skewMs);
    this.lease.el.textContent = left > 0 ? `lease ${formatDuration(left)} left` : 'lease expired';
    this.lease.el.classList.toggle('expiring', left < 30_000);
  }

  private showCollapsed(taskIds: readonly string[], tasks: ReadonlyMap<string, TaskView>): void {
    const signature = `collapsed:${taskIds.join(',')}`;
    if (signature === this.signature) return;
    this.signature = signature;
    this.lease = null;
    const head = el('div', 'detail-head');
    head.append(el('span', 'badge status-completed', 'completed'), el('strong', 'detail-id', `${taskIds.length} completed tasks`));
    const list = el('ul', 'detail-list');
    for (const id of taskIds.slice(0, 200)) {
      const li = el('li', '');
      li.append(el('span', 'detail-list-id', id), ` ${truncate(tasks.get(id)?.description ?? '', 80)}`);
      list.append(li);
    }
    if (taskIds.length > 200) list.append(el('li', 'hint', `and ${taskIds.length - 200} more`));
    const bar = el('div', 'actions');
    bar.append(button('Show completed tasks', 'Show the completed tasks one by one', () => this.actions.expandCompleted()));
    this.root.replaceChildren(head, bar, list);
  }

  /** Task ids as buttons that select them, with their status; '—' for none. */
  private links(ids: readonly string[], statuses: ReadonlyMap<string, DisplayStatus>): Node {
    if (ids.length === 0) return document.createTextNode('—');
    const span = el('span', 'links');
    for (const id of ids.slice(0, 50)) {
      const status = statuses.get(id);
      const b = button(id, `Select task ${id}${status ? ` (${STATUS_LABELS[status]})` : ''}`, () => this.actions.selectTask(id), `link status-${status ?? 'blocked'}`);
      span.append(b);
    }
    if (ids.length > 50) span.append(el('span', 'hint', ` +${ids.length - 50} more`));
    return span;
  }
}

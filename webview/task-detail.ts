/** The selected task under the graph: what it is, who holds it, and what can be done to it. */
import type { RunView, TaskView } from '../src/protocol/webview';
import { type DisplayStatus, STATUS_LABELS, runOutcome, truncate } from './model';

export interface TaskDetailActions {
  taskAction(action: 'retry' | 'cancel', taskId: string): void;
  selectRun(runId: string): void;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = className;
  if (text) e.textContent = text;
  return e;
}

function button(label: string, aria: string, onClick: () => void): HTMLButtonElement {
  const b = el('button', 'action', label);
  b.type = 'button';
  b.setAttribute('aria-label', aria);
  b.addEventListener('click', onClick); // a <button> turns Enter and Space into click itself
  return b;
}

export class TaskDetail {
  /** What is shown, so an unchanged task is not re-rendered (and a focused button stays). */
  private signature = '';

  constructor(
    private readonly root: HTMLElement,
    private readonly actions: TaskDetailActions,
  ) {}

  show(task: TaskView | undefined, status: DisplayStatus | undefined, runs: readonly RunView[]): void {
    if (!task || !status) {
      this.signature = '';
      this.root.replaceChildren(el('p', 'hint', 'Select a task in the graph (Tab to it, arrows to move, Enter to select).'));
      return;
    }
    const taskRuns = runs.filter((r) => r.task_id === task.id);
    const signature = JSON.stringify([task, status, taskRuns.map((r) => [r.run_id, runOutcome(r)])]);
    if (signature === this.signature) return;
    this.signature = signature;

    const head = el('div', 'detail-head');
    head.append(el('span', `badge status-${status}`, STATUS_LABELS[status]), el('strong', 'detail-id', task.id));
    const facts = el('dl', 'facts');
    const fact = (name: string, value: string) => facts.append(el('dt', '', name), el('dd', '', value));
    fact('holder', task.claimed_by ?? '—');
    fact('attempts', `${task.attempts} of ${task.max_attempts}`);
    fact('depends on', task.dependencies.length ? task.dependencies.join(', ') : '—');
    if (task.error) fact('error', truncate(task.error, 2000));
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
    if (task.status === 'dead_letter') bar.append(button('Retry', `Retry task ${task.id}`, () => this.actions.taskAction('retry', task.id)));
    if (task.status === 'pending' || task.status === 'running' || task.status === 'dead_letter') {
      bar.append(button('Cancel', `Cancel task ${task.id}`, () => this.actions.taskAction('cancel', task.id)));
    }
    for (const run of taskRuns.slice(-5)) {
      bar.append(button(`Output: ${runOutcome(run)}`, `Show output of run ${run.run_id}`, () => this.actions.selectRun(run.run_id)));
    }
    const parts: Node[] = [head];
    if (task.description) parts.push(el('p', 'description', truncate(task.description, 2000)));
    parts.push(facts, bar);
    this.root.replaceChildren(...parts);
  }
}

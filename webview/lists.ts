/** The workers list and the runs listbox beside the graph. */
import type { InstanceView, RunView } from '../src/protocol/webview';
import { formatAge, runLabel, runOutcome } from './model';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = className;
  if (text) e.textContent = text;
  return e;
}

/**
 * Workers with the age of their last heartbeat. The age ticks here between state updates (the
 * host sends the age at read time; the webview adds the time since it arrived).
 */
export class InstancesView {
  private instances: readonly InstanceView[] = [];
  private receivedAt = 0;
  private ages: { age: HTMLElement; base: number }[] = [];

  constructor(private readonly list: HTMLElement) {}

  update(instances: readonly InstanceView[], now: number): void {
    this.instances = instances;
    this.receivedAt = now;
    this.ages = [];
    if (instances.length === 0) {
      this.list.replaceChildren(el('li', 'empty', 'No workers registered.'));
      return;
    }
    this.list.replaceChildren(
      ...instances.map((i) => {
        const li = el('li', `instance status-${i.status}`);
        const age = el('span', 'age');
        this.ages.push({ age, base: i.last_seen_age_ms });
        const task = i.current_task ? `on ${i.current_task}` : 'idle';
        li.append(el('span', `badge badge-${i.status}`, i.status), el('span', 'name', i.name), age, el('span', 'meta', `${i.worker_id} · ${task}`));
        li.setAttribute('aria-label', `Worker ${i.name} (${i.worker_id}), ${i.status}, ${task}`);
        return li;
      }),
    );
    this.tick(now);
  }

  tick(now: number): void {
    for (const { age, base } of this.ages) age.textContent = formatAge(base + (now - this.receivedAt));
  }

  get count(): number {
    return this.instances.length;
  }
}

/** The runs as a listbox: one tab stop, arrows move, Enter/Space/click select. */
export class RunsView {
  private items = new Map<string, HTMLLIElement>();
  private selected: string | null = null;
  private focusId: string | null = null;

  constructor(
    private readonly list: HTMLElement,
    private readonly onSelect: (runId: string) => void,
  ) {
    list.addEventListener('click', (e) => {
      const id = this.idOf(e.target);
      if (id) this.onSelect(id);
    });
    list.addEventListener('keydown', (e) => this.onKey(e));
    list.addEventListener('focusin', (e) => {
      const id = this.idOf(e.target);
      if (id) this.setFocusable(id);
    });
  }

  /** Newest first. Existing items are updated in place, so the focused one keeps focus. */
  update(runs: readonly RunView[]): void {
    const ordered = [...runs].sort((a, b) => b.started_at.localeCompare(a.started_at));
    const keep = new Set(ordered.map((r) => r.run_id));
    for (const [id, li] of this.items) {
      if (!keep.has(id)) {
        li.remove();
        this.items.delete(id);
      }
    }
    this.list.querySelector(':scope > li.empty')?.remove();
    let cursor = this.list.firstElementChild;
    for (const run of ordered) {
      let li = this.items.get(run.run_id);
      if (!li) {
        li = el('li', 'run');
        li.setAttribute('role', 'option');
        li.tabIndex = -1;
        li.dataset.runId = run.run_id;
        this.items.set(run.run_id, li);
      }
      this.fill(li, run);
      if (li === cursor) cursor = cursor.nextElementSibling;
      else this.list.insertBefore(li, cursor);
    }
    if (ordered.length === 0) this.list.replaceChildren(el('li', 'empty', 'No runs yet.'));
    if (!this.focusId || !this.items.has(this.focusId)) this.focusId = null;
    const first = this.selected && this.items.has(this.selected) ? this.selected : ordered[0]?.run_id;
    if (!this.focusId && first) this.setFocusable(first);
  }

  setSelected(runId: string | null): void {
    this.selected = runId;
    for (const [id, li] of this.items) {
      li.setAttribute('aria-selected', String(id === runId));
      li.classList.toggle('selected', id === runId);
    }
  }

  private fill(li: HTMLLIElement, run: RunView): void {
    const outcome = runOutcome(run);
    const signature = `${run.status}|${outcome}|${run.task_id}`;
    li.classList.toggle('running', run.status === 'running');
    li.setAttribute('aria-selected', String(run.run_id === this.selected));
    li.classList.toggle('selected', run.run_id === this.selected);
    if (li.dataset.signature === signature) return;
    li.dataset.signature = signature;
    const failed = run.status === 'finished' && outcome !== 'exit 0';
    li.replaceChildren(
      el('span', `run-status ${run.status === 'running' ? 'is-running' : failed ? 'is-failed' : 'is-ok'}`, outcome),
      el('span', 'run-command', runLabel(run)),
      el('span', 'run-meta', [run.task_id && `task ${run.task_id}`, run.worker_id, run.run_id].filter(Boolean).join(' · ')),
    );
    li.setAttribute('aria-label', `Run ${run.run_id}: ${runLabel(run)}, ${outcome}${run.task_id ? `, task ${run.task_id}` : ''}`);
  }

  private setFocusable(id: string): void {
    if (this.focusId && this.focusId !== id) this.items.get(this.focusId)?.setAttribute('tabindex', '-1');
    this.focusId = id;
    this.items.get(id)?.setAttribute('tabindex', '0');
  }

  private idOf(target: EventTarget | null): string | null {
    const li = target instanceof Element ? target.closest<HTMLLIElement>('li.run') : null;
    return li?.dataset.runId ?? null;
  }

  private onKey(e: KeyboardEvent): void {
    const id = this.idOf(e.target);
    if (!id) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      this.onSelect(id);
      return;
    }
    const lis = [...this.list.querySelectorAll<HTMLLIElement>(':scope > li.run')];
    const at = lis.findIndex((li) => li.dataset.runId === id);
    const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: lis.length - 1 }[e.key];
    const next = to === undefined ? undefined : lis[Math.max(0, Math.min(lis.length - 1, to))];
    if (!next) return;
    e.preventDefault();
    this.setFocusable(next.dataset.runId!);
    next.focus();
  }
}

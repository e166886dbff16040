/**
 * A plan too big to draw (more than SUMMARY_ABOVE tasks): how many tasks stand where, the
 * groups with their progress, the ready frontier and the running tasks. A group's "Graph" button,
 * or any filter, asks the host for that part, which the graph then draws.
 */
import { formatDuration } from '../src/protocol/human-time';
import { DISPLAY_STATUSES, SUMMARY_ABOVE, type Summary, type TaskView } from '../src/protocol/webview';
import { STATUS_LABELS, truncate } from './model';

export interface SummaryEvents {
  showGroup(group: string): void;
  selectTask(task: TaskView): void;
}

const GROUPS_SHOWN = 100;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = className;
  if (text) e.textContent = text;
  return e;
}

const n = (x: number) => x.toLocaleString('en-US');

export class SummaryView {
  private groupsShown = GROUPS_SHOWN;

  constructor(
    private readonly root: HTMLElement,
    private readonly events: SummaryEvents,
  ) {}

  show(summary: Summary, now: number): void {
    const head = el('p', 'summary-head');
    const matched = summary.scope && summary.matched > SUMMARY_ABOVE;
    head.textContent = matched
      ? `${n(summary.matched)} tasks match the filter: more than the ${n(SUMMARY_ABOVE)} the graph draws at once. Narrow it down (a group, a status, a holder or a search).`
      : `${n(summary.total)} tasks: too many to draw at once (the graph draws up to ${n(SUMMARY_ABOVE)}). Pick a group, or filter by status, holder or text, to see its graph.`;

    const bar = el('div', 'summary-bar');
    bar.setAttribute('role', 'img');
    bar.setAttribute('aria-label', DISPLAY_STATUSES.map((s) => `${n(summary.counts[s])} ${STATUS_LABELS[s]}`).join(', '));
    for (const s of DISPLAY_STATUSES) {
      if (!summary.counts[s]) continue;
      const seg = el('span', `summary-seg status-${s}`);
      seg.style.flexGrow = String(summary.counts[s]);
      seg.title = `${n(summary.counts[s])} ${STATUS_LABELS[s]}`;
      bar.append(seg);
    }

    const columns = el('div', 'summary-columns');
    columns.append(
      this.taskList('Running', summary.running, summary.counts.running, (t) => {
        const lease = t.lease_expires_at ? Date.parse(t.lease_expires_at) - now : NaN;
        const progress = t.progress ? `${Math.round(t.progress.percent)}%` : Number.isNaN(lease) ? '' : lease > 0 ? `lease ${formatDuration(lease)}` : 'lease expired';
        return [`⚙ ${t.claimed_by ?? '?'}`, progress].filter(Boolean).join(' · ');
      }),
      this.taskList('Ready next', summary.frontier, summary.counts.ready, (t) => (t.priority ? `priority ${t.priority}` : t.group ? `group ${t.group}` : '')),
    );

    const groups = el('section', 'summary-groups');
    const listed = summary.group_count > summary.groups.length ? `, the ${n(summary.groups.length)} with most work left listed` : '';
    groups.append(el('h3', '', `Groups (${n(summary.group_count)}${listed})`));
    if (summary.groups.length === 0) groups.append(el('p', 'hint', 'No task belongs to a group. Filter by status, holder or text to see part of the graph.'));
    const table = el('table', 'summary-table');
    for (const g of summary.groups.slice(0, this.groupsShown)) {
      const row = el('tr', '');
      const name = el('td', 'summary-group', truncate(g.group, 40));
      name.title = g.group;
      const progress = el('td', 'summary-progress');
      const mini = el('div', 'summary-bar mini');
      for (const s of DISPLAY_STATUSES) {
        if (!g.counts[s]) continue;
        const seg = el('span', `summary-seg status-${s}`);
        seg.style.flexGrow = String(g.counts[s]);
        mini.append(seg);
      }
      progress.append(mini);
      const counts = el('td', 'summary-counts', `${n(g.counts.completed)}/${n(g.total)} done${g.counts.running ? ` · ${n(g.counts.running)} running` : ''}${g.counts.dead_letter ? ` · ${n(g.counts.dead_letter)} dead` : ''}`);
      const action = el('td', '');
      const show = el('button', 'action secondary', 'Graph');
      show.type = 'button';
      show.setAttribute('aria-label', `Show the graph of group ${g.group}`);
      show.disabled = g.total > SUMMARY_ABOVE;
      if (show.disabled) show.title = `More than ${n(SUMMARY_ABOVE)} tasks: filter within it`;
      show.addEventListener('click', () => this.events.showGroup(g.group));
      action.append(show);
      row.append(name, progress, counts, action);
      table.append(row);
    }
    groups.append(table);
    if (summary.groups.length > this.groupsShown) {
      const more = el('button', 'action secondary', `Show ${n(Math.min(GROUPS_SHOWN, summary.groups.length - this.groupsShown))} more groups`);
      more.type = 'button';
      more.addEventListener('click', () => {
        this.groupsShown += GROUPS_SHOWN;
        this.show(summary, now);
      });
      groups.append(more);
    }
    this.root.replaceChildren(head, bar, columns, groups);
  }

  private taskList(title: string, tasks: readonly TaskView[], total: number, meta: (t: TaskView) => string): HTMLElement {
    const section = el('section', 'summary-list');
    section.append(el('h3', '', `${title} (${n(total)})`));
    if (tasks.length === 0) section.append(el('p', 'hint', 'None.'));
    const list = el('ul', 'list');
    for (const t of tasks) {
      const li = el('li', 'summary-task');
      const b = el('button', 'link', t.id);
      b.type = 'button';
      b.setAttribute('aria-label', `Select task ${t.id}`);
      b.addEventListener('click', () => this.events.selectTask(t));
      li.append(b, el('span', 'meta', meta(t)));
      list.append(li);
    }
    if (total > tasks.length) list.append(el('li', 'hint', `and ${n(total - tasks.length)} more`));
    section.append(list);
    return section;
  }
}

/**
 * The controls above the graph: search, the status chips (which are also the legend and the
 * counts), the group and holder filters and "collapse completed". It keeps their state and
 * says when it changes; what to do with it is main.ts's business.
 */
import { DISPLAY_STATUSES, type DisplayStatus, type StatusCounts } from '../src/protocol/webview';
import { STATUS_LABELS } from './model';

/** Short: the chips share one row with the search and the filters. */
const CHIP_LABELS: Record<DisplayStatus, string> = {
  ready: 'ready',
  blocked: 'blocked',
  running: 'running',
  completed: 'done',
  dead_letter: 'dead',
  cancelled: 'cancelled',
};

export interface ToolbarState {
  search: string;
  statuses: Set<DisplayStatus>;
  group: string | null;
  holder: string | null;
  collapseCompleted: boolean;
}

export interface ToolbarEvents {
  onChange(state: ToolbarState, what: 'search' | 'filter' | 'collapse'): void;
  /** Enter (1) or Shift+Enter (-1) in the search box. */
  onSearchStep(step: 1 | -1): void;
}

function option(value: string, label: string): HTMLOptionElement {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = label;
  return o;
}

export class Toolbar {
  readonly state: ToolbarState;
  private readonly search: HTMLInputElement;
  private readonly searchCount: HTMLElement;
  private readonly chips = new Map<DisplayStatus, HTMLButtonElement>();
  private readonly group: HTMLSelectElement;
  private readonly holder: HTMLSelectElement;
  private readonly collapse: HTMLButtonElement;
  private optionsKey = '';

  constructor(
    root: HTMLElement,
    initial: ToolbarState,
    private readonly events: ToolbarEvents,
  ) {
    this.state = initial;
    const $ = <T extends HTMLElement>(selector: string) => root.querySelector<T>(selector)!;
    this.search = $<HTMLInputElement>('#search');
    this.searchCount = $('#search-count');
    this.group = $<HTMLSelectElement>('#filter-group');
    this.holder = $<HTMLSelectElement>('#filter-holder');
    this.collapse = $<HTMLButtonElement>('#collapse');
    const chipBox = $('#status-chips');
    for (const status of DISPLAY_STATUSES) {
      const chip = document.createElement('button');
      chip.type = 'button';
      chip.className = `chip status-${status}`;
      chip.dataset.status = status;
      chip.setAttribute('aria-pressed', String(initial.statuses.has(status)));
      chip.title = `Show only ${STATUS_LABELS[status]} tasks (click more to add; click again to drop)`;
      chipBox.append(chip);
      this.chips.set(status, chip);
      chip.addEventListener('click', () => {
        if (this.state.statuses.has(status)) this.state.statuses.delete(status);
        else this.state.statuses.add(status);
        chip.setAttribute('aria-pressed', String(this.state.statuses.has(status)));
        events.onChange(this.state, 'filter');
      });
    }
    this.search.value = initial.search;
    this.search.addEventListener('input', () => {
      this.state.search = this.search.value;
      events.onChange(this.state, 'search');
    });
    this.search.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        events.onSearchStep(e.shiftKey ? -1 : 1);
      } else if (e.key === 'Escape' && this.search.value) {
        e.preventDefault();
        this.search.value = '';
        this.state.search = '';
        events.onChange(this.state, 'search');
      }
    });
    const onSelect = (select: HTMLSelectElement, key: 'group' | 'holder') => {
      select.addEventListener('change', () => {
        this.state[key] = select.value === '' ? null : select.value;
        events.onChange(this.state, 'filter');
      });
    };
    onSelect(this.group, 'group');
    onSelect(this.holder, 'holder');
    this.collapse.setAttribute('aria-pressed', String(initial.collapseCompleted));
    this.collapse.addEventListener('click', () => this.setCollapse(!this.state.collapseCompleted));
  }

  setCollapse(on: boolean): void {
    this.state.collapseCompleted = on;
    this.collapse.setAttribute('aria-pressed', String(on));
    this.events.onChange(this.state, 'collapse');
  }

  /** Drops the search and every filter. */
  clearFilters(): void {
    this.state.search = '';
    this.search.value = '';
    this.state.statuses.clear();
    for (const chip of this.chips.values()) chip.setAttribute('aria-pressed', 'false');
    this.state.group = null;
    this.state.holder = null;
    this.group.value = '';
    this.holder.value = '';
    this.events.onChange(this.state, 'filter');
  }

  /** The counts on the chips (the whole plan's, whatever the filter). */
  setCounts(counts: StatusCounts): void {
    for (const [status, chip] of this.chips) {
      const n = counts[status];
      const text = `${n.toLocaleString('en-US')} ${CHIP_LABELS[status]}`;
      if (chip.textContent !== text) chip.textContent = text;
      chip.setAttribute('aria-label', `${n.toLocaleString('en-US')} ${STATUS_LABELS[status]}: show only these`);
      chip.hidden = n === 0 && !this.state.statuses.has(status); // a status no task has is no filter
    }
  }

  /** The groups and holders to filter by; a chosen one that is gone stays listed. */
  setChoices(groups: readonly string[], holders: readonly string[]): void {
    const key = `${groups.join('\n')}\u0000${holders.join('\n')}`;
    if (key === this.optionsKey) return;
    this.optionsKey = key;
    const fill = (select: HTMLSelectElement, all: string, values: readonly string[], chosen: string | null) => {
      const list = chosen !== null && !values.includes(chosen) ? [chosen, ...values] : values;
      select.replaceChildren(option('', all), ...list.slice(0, 2000).map((v) => option(v, v)));
      select.value = chosen ?? '';
      select.disabled = values.length === 0 && chosen === null;
    };
    fill(this.group, 'All groups', groups, this.state.group);
    fill(this.holder, 'Any holder', holders, this.state.holder);
  }

  setSearchCount(text: string): void {
    this.searchCount.textContent = text;
  }

  /** Shows a group chosen elsewhere (the summary's "show graph"). */
  chooseGroup(group: string | null): void {
    this.state.group = group;
    if (group !== null && ![...this.group.options].some((o) => o.value === group)) this.group.append(option(group, group));
    this.group.value = group ?? '';
    this.events.onChange(this.state, 'filter');
  }

  focusSearch(): void {
    this.search.focus();
    this.search.select();
  }
}

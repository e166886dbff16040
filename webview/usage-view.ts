/** The usage view beside the graph: what the work cost, per target and per group, and the budgets. */
import type { UsagePanel } from '../src/protocol/webview';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = className;
  if (text) e.textContent = text;
  return e;
}

/** "$0.42", "$0.0031", "$12.50". */
export function formatUsd(n: number): string {
  return `$${n.toFixed(n !== 0 && Math.abs(n) < 0.01 ? 4 : 2)}`;
}

const tokens = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n));

/** A budget as a meter: spent of limit, red once spent. */
function meter(label: string, b: { limit_usd: number; spent_usd: number; spent: boolean }): HTMLElement {
  const row = el('li', `budget${b.spent ? ' is-spent' : ''}`);
  const bar = el('span', 'budget-bar');
  const fill = el('span', 'budget-fill');
  fill.style.width = `${Math.min(100, b.limit_usd > 0 ? (b.spent_usd / b.limit_usd) * 100 : 100)}%`;
  bar.append(fill);
  const text = `${formatUsd(b.spent_usd)} of ${formatUsd(b.limit_usd)}${b.spent ? ' · spent: no new claims' : ''}`;
  row.append(el('span', 'budget-label', label), bar, el('span', 'budget-text', text));
  row.setAttribute('aria-label', `Budget of ${label}: ${text}`);
  return row;
}

export class UsageView {
  private signature = '';

  constructor(
    private readonly root: HTMLElement,
    private readonly total: HTMLElement,
  ) {}

  update(usage: UsagePanel | null): void {
    const signature = JSON.stringify(usage);
    if (signature === this.signature) return;
    this.signature = signature;
    if (!usage) {
      this.total.textContent = '';
      this.root.replaceChildren(el('p', 'empty', 'The coordinator reports no usage (an older version).'));
      return;
    }
    const t = usage.total;
    this.total.textContent = `${formatUsd(t.cost_usd)} · ${t.attempts} attempt${t.attempts === 1 ? '' : 's'}`;
    const parts: HTMLElement[] = [];
    if (t.attempts === 0 && usage.targets.length === 0 && usage.budgets.length === 0) {
      parts.push(el('p', 'empty', 'No usage reported yet: workers report it with `harness work --usage claude|codex` or `harness task complete --usage`.'));
    } else {
      parts.push(
        el(
          'p',
          'usage-tokens',
          `${tokens(t.input_tokens)} tokens in, ${tokens(t.output_tokens)} out${t.unpriced ? ` · ${t.unpriced} attempt${t.unpriced === 1 ? '' : 's'} without a price` : ''}`,
        ),
      );
    }
    if (usage.budgets.length) {
      parts.push(el('h3', 'usage-heading', 'Budgets'));
      const list = el('ul', 'list budgets');
      list.append(...usage.budgets.map((b) => meter(b.label, b)));
      parts.push(list);
    }
    if (usage.targets.length) {
      parts.push(el('h3', 'usage-heading', 'Targets'));
      const list = el('ul', 'list usage-targets');
      for (const target of usage.targets) {
        const li = el('li', `usage-row${target.state === 'failing' ? ' is-failing' : ''}`);
        const range = target.min === target.max ? `${target.min}` : `${target.min}–${target.max}`;
        li.append(
          el('span', 'name', target.name),
          el('span', 'meta', `${target.state === 'failing' ? 'failing · ' : ''}${target.running} of ${range}`),
          el('span', 'cost', formatUsd(target.cost_usd)),
        );
        li.setAttribute('aria-label', `Target ${target.name}: ${target.state}, ${target.running} of ${range} running, ${formatUsd(target.cost_usd)}`);
        list.append(li);
      }
      parts.push(list);
    }
    if (usage.groups.length) {
      parts.push(el('h3', 'usage-heading', 'Groups'));
      const list = el('ul', 'list usage-groups');
      for (const g of usage.groups) {
        const li = el('li', 'usage-row');
        li.append(el('span', 'name', g.name), el('span', 'meta', `${g.attempts} attempt${g.attempts === 1 ? '' : 's'}`), el('span', 'cost', formatUsd(g.cost_usd)));
        list.append(li);
      }
      parts.push(list);
    }
    this.root.replaceChildren(...parts);
  }
}

import * as vscode from 'vscode';
import type { HarnessApi } from '../protocol/api';
import { InstanceList } from '../protocol/instances';
import type { InstanceView, Task } from '../protocol/model';
import { CommandId } from '../ui/ids';
import type { TaskCache } from '../ui/task-cache';
import { groupItem, instanceItem, markdownLink, moreItem, taskItem, TASK_GROUPS, type ItemModel, type TaskGroup } from '../ui/view-models';

export type TaskNode =
  | { kind: 'group'; group: TaskGroup }
  | { kind: 'task'; task: Task; group: TaskGroup; parent: string }
  | { kind: 'more'; group: TaskGroup }
  /** Shown while the first listing is read, instead of the "No tasks yet" welcome. */
  | { kind: 'loading' };

/** Rows a group lists at first, and how many more each "Show more" adds. */
export const GROUP_PAGE = 200;

export function toTreeItem(m: ItemModel): vscode.TreeItem {
  const item = new vscode.TreeItem(
    m.label,
    m.expanded
      ? vscode.TreeItemCollapsibleState.Expanded
      : m.collapsible
        ? vscode.TreeItemCollapsibleState.Collapsed
        : vscode.TreeItemCollapsibleState.None,
  );
  item.id = m.id;
  item.description = m.description;
  item.tooltip = m.link ? linkTooltip(m.tooltip, m.link) : m.tooltip;
  item.contextValue = m.contextValue;
  item.iconPath = new vscode.ThemeIcon(m.icon, m.iconColor ? new vscode.ThemeColor(m.iconColor) : undefined);
  if (m.command) item.command = { command: m.command.id, title: m.command.title, arguments: m.command.args };
  return item;
}

/** The tooltip as Markdown with the link last; the text is appended as text, so a title renders as written. */
function linkTooltip(text: string, link: { label: string; url: string }): vscode.MarkdownString {
  return new vscode.MarkdownString().appendText(text).appendMarkdown(`\n\n${markdownLink(link.label, link.url)}`);
}

/**
 * The tasks, attention first, from the TaskCache (which coordinator events keep current). A
 * refresh re-renders rows; it never refetches. Group nodes are the same objects across refreshes
 * (VS Code knows elements by identity) and rows keep stable ids, so nothing a person expanded
 * collapses. A big group lists its first GROUP_PAGE tasks and a "Show more" row.
 */
export class TasksTree implements vscode.TreeDataProvider<TaskNode> {
  private readonly groupNodes = new Map<TaskGroup, TaskNode>(TASK_GROUPS.map((group) => [group, { kind: 'group', group }]));
  private readonly limits = new Map<TaskGroup, number>();
  private readonly changed = new vscode.EventEmitter<TaskNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly refreshed = new vscode.EventEmitter<void>();
  /** Fires after the tree was told to redraw: for tests and timing. */
  readonly onDidRefresh = this.refreshed.event;
  private hadTasks: boolean | undefined;

  constructor(readonly cache: TaskCache) {}

  /** The tasks as the tree has them (all of them: for tests). */
  get snapshot(): readonly Task[] {
    return [...this.cache.all()];
  }

  /** Redraws after the cache changed. */
  refresh(): void {
    const has = this.cache.size > 0;
    if (has !== this.hadTasks) {
      this.hadTasks = has;
      void vscode.commands.executeCommand('setContext', 'agentHarness.hasTasks', has);
    }
    this.changed.fire(undefined);
    this.refreshed.fire();
  }

  /** Lists GROUP_PAGE more of a group. */
  showMore(group: TaskGroup): void {
    this.limits.set(group, (this.limits.get(group) ?? GROUP_PAGE) + GROUP_PAGE);
    this.changed.fire(this.groupNodes.get(group));
  }

  getTreeItem(node: TaskNode): vscode.TreeItem {
    if (node.kind === 'loading') {
      const item = new vscode.TreeItem('Reading the tasks…');
      item.iconPath = new vscode.ThemeIcon('loading~spin');
      return item;
    }
    if (node.kind === 'group') return toTreeItem(groupItem(node.group, this.cache.count(node.group)));
    if (node.kind === 'more') {
      const limit = this.limits.get(node.group) ?? GROUP_PAGE;
      return toTreeItem(moreItem(node.group, limit, this.cache.count(node.group), GROUP_PAGE, CommandId.showMore));
    }
    return toTreeItem(taskItem(node.task, node.group, Date.now(), node.parent, node.group === 'blocked' ? this.waitingFor(node.task) : []));
  }

  getChildren(node?: TaskNode): TaskNode[] {
    if (!node) {
      if (this.cache.size === 0) return this.cache.loading ? [{ kind: 'loading' }] : []; // else the welcome view shows
      return TASK_GROUPS.filter((g) => this.cache.count(g) > 0).map((g) => this.groupNodes.get(g)!);
    }
    if (node.kind === 'more' || node.kind === 'loading') return [];
    if (node.kind === 'group') {
      const limit = this.limits.get(node.group) ?? GROUP_PAGE;
      const rows: TaskNode[] = this.cache.list(node.group, limit).map((task) => ({ kind: 'task', task, group: node.group, parent: '' }));
      if (this.cache.count(node.group) > limit) rows.push({ kind: 'more', group: node.group });
      return rows;
    }
    // A task's children are its dependencies, so a blocked task shows what it waits for.
    return node.task.dependencies.flatMap((id) => {
      const dep = this.cache.get(id);
      const group = dep && this.cache.attentionGroup(id);
      return dep && group ? [{ kind: 'task' as const, task: dep, group, parent: `${node.parent}${node.task.id}/` }] : [];
    });
  }

  private waitingFor(task: Task): string[] {
    return task.dependencies.filter((d) => this.cache.get(d)?.status !== 'completed');
  }
}

export class InstancesTree implements vscode.TreeDataProvider<InstanceView> {
  private instances: InstanceView[] = [];
  private readonly changed = new vscode.EventEmitter<InstanceView | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  get snapshot(): readonly InstanceView[] {
    return this.instances;
  }

  async refresh(api: HarnessApi | undefined): Promise<void> {
    this.instances = api ? (await api.call(InstanceList)).instances : [];
    this.changed.fire(undefined);
  }

  getTreeItem(i: InstanceView): vscode.TreeItem {
    return toTreeItem(instanceItem(i));
  }

  getChildren(i?: InstanceView): InstanceView[] {
    // Live workers first, then by name: the stale ones are history.
    return i ? [] : [...this.instances].sort((a, b) => (a.status === b.status ? 0 : a.status === 'live' ? -1 : 1) || a.worker_id.localeCompare(b.worker_id));
  }
}

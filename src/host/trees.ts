import * as vscode from 'vscode';
import type { HarnessApi } from '../client/api';
import type { InstanceView, Task } from '../core/model';
import { groupItem, groupOf, groupTasks, instanceItem, markdownLink, taskItem, TASK_GROUPS, type ItemModel, type TaskGroup } from '../ui/view-models';

export type TaskNode =
  | { kind: 'group'; group: TaskGroup }
  | { kind: 'task'; task: Task; group: TaskGroup; parent: string };

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
  return item;
}

/** The tooltip as Markdown with the link last; the text is appended as text, so a title renders as written. */
function linkTooltip(text: string, link: { label: string; url: string }): vscode.MarkdownString {
  return new vscode.MarkdownString().appendText(text).appendMarkdown(`\n\n${markdownLink(link.label, link.url)}`);
}

/**
 * Renders a model it is given; fetching happens in `refresh`, driven by coordinator events.
 * Rows keep stable ids, so a refresh updates them in place without collapsing anything.
 */
export class TasksTree implements vscode.TreeDataProvider<TaskNode> {
  private tasks: Task[] = [];
  private groups = groupTasks([]);
  private readonly changed = new vscode.EventEmitter<TaskNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly refreshed = new vscode.EventEmitter<Task[]>();
  /** Fires after the model changed and the tree was told: for tests and timing. */
  readonly onDidRefresh = this.refreshed.event;

  get snapshot(): readonly Task[] {
    return this.tasks;
  }

  async refresh(api: HarnessApi | undefined): Promise<void> {
    this.tasks = api ? (await api.request<{ tasks: Task[] }>('task_list')).tasks : [];
    this.groups = groupTasks(this.tasks);
    void vscode.commands.executeCommand('setContext', 'agentHarness.hasTasks', this.tasks.length > 0);
    this.changed.fire(undefined);
    this.refreshed.fire(this.tasks);
  }

  getTreeItem(node: TaskNode): vscode.TreeItem {
    if (node.kind === 'group') return toTreeItem(groupItem(node.group, this.groups.get(node.group)!.length));
    return toTreeItem(taskItem(node.task, node.group, Date.now(), node.parent));
  }

  getChildren(node?: TaskNode): TaskNode[] {
    if (!node) {
      if (this.tasks.length === 0) return []; // the welcome view shows instead
      return TASK_GROUPS.filter((g) => this.groups.get(g)!.length > 0).map((group) => ({ kind: 'group', group }));
    }
    if (node.kind === 'group') {
      return this.groups.get(node.group)!.map((task) => ({ kind: 'task', task, group: node.group, parent: '' }));
    }
    // A task's children are its dependencies, so a blocked task shows what it waits for.
    const byId = new Map(this.tasks.map((t) => [t.id, t]));
    return node.task.dependencies.flatMap((id) => {
      const dep = byId.get(id);
      return dep ? [{ kind: 'task' as const, task: dep, group: groupOf(dep, byId), parent: `${node.parent}${node.task.id}/` }] : [];
    });
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
    this.instances = api ? (await api.request<{ instances: InstanceView[] }>('instance_list')).instances : [];
    this.changed.fire(undefined);
  }

  getTreeItem(i: InstanceView): vscode.TreeItem {
    return toTreeItem(instanceItem(i));
  }

  getChildren(i?: InstanceView): InstanceView[] {
    return i ? [] : this.instances;
  }
}

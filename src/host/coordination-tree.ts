import * as vscode from 'vscode';
import type { HarnessApi } from '../protocol/api';
import type { Task } from '../protocol/model';
import {
  coordinationChildren,
  coordinationItem,
  EMPTY_COORDINATION,
  fetchCoordination,
  type CoordinationModel,
  type CoordNode,
} from '../ui/coordination-view-models';
import { toTreeItem } from './trees';

/**
 * Locks, resource pools, pending messages and task groups. Like the other trees it renders a model
 * fetched in `refresh` (driven by coordinator events); rows have stable ids so a refresh keeps
 * what a person expanded.
 */
export class CoordinationTree implements vscode.TreeDataProvider<CoordNode> {
  private model: CoordinationModel = EMPTY_COORDINATION;
  private readonly changed = new vscode.EventEmitter<CoordNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly refreshed = new vscode.EventEmitter<CoordinationModel>();
  /** Fires after the model changed and the tree was told: for tests. */
  readonly onDidRefresh = this.refreshed.event;

  get snapshot(): CoordinationModel {
    return this.model;
  }

  /** `groups`: the groups to list with their tasks, from the TaskCache (no extra request); `groupCount`: how many in all. */
  async refresh(api: HarnessApi | undefined, groups: ReadonlyMap<string, readonly Task[]>, groupCount = groups.size): Promise<void> {
    this.model = api ? await fetchCoordination(api, groups, groupCount) : EMPTY_COORDINATION;
    this.changed.fire(undefined);
    this.refreshed.fire(this.model);
  }

  getTreeItem(node: CoordNode): vscode.TreeItem {
    return toTreeItem(coordinationItem(this.model, node, Date.now()));
  }

  getChildren(node?: CoordNode): CoordNode[] {
    return coordinationChildren(this.model, node); // empty at the top: the welcome view shows
  }
}

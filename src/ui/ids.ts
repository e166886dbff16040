/** Every command, view and context key the extension contributes; a test checks them against package.json. */
export const CommandId = {
  addTask: 'agentHarness.addTask',
  importPlan: 'agentHarness.importPlan',
  claimNext: 'agentHarness.claimNextTask',
  completeTask: 'agentHarness.completeTask',
  failTask: 'agentHarness.failTask',
  releaseTask: 'agentHarness.releaseTask',
  retryTask: 'agentHarness.retryTask',
  cancelTask: 'agentHarness.cancelTask',
  spawnWorkers: 'agentHarness.spawnWorkers',
  runExec: 'agentHarness.runExecWithTimeout',
  openPanel: 'agentHarness.openPanel',
  showLog: 'agentHarness.showLog',
  refresh: 'agentHarness.refresh',
  dropMessage: 'agentHarness.dropMessage',
  recordCheckpoint: 'agentHarness.recordCheckpoint',
  waitForGroup: 'agentHarness.waitForGroup',
  showMore: 'agentHarness.showMoreTasks',
} as const;
export type CommandId = (typeof CommandId)[keyof typeof CommandId];

export const ViewId = {
  container: 'agentHarness',
  tasks: 'agentHarness.tasks',
  instances: 'agentHarness.instances',
  coordination: 'agentHarness.coordination',
} as const;

export const ContextKey = {
  /** Set once the coordinator is reachable (in-process or as a client). */
  connected: 'agentHarness.connected',
  /** 'in-process' | 'client' */
  mode: 'agentHarness.mode',
  hasTasks: 'agentHarness.hasTasks',
} as const;

export const CONFIG_SECTION = 'agentHarness';

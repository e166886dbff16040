import { describeError, HarnessError, type AnyErrorCode } from './errors';

/**
 * What each error code means to a person (or a model) and what to do about it: one table for
 * every edge, so the CLI, VS Code and the MCP server say the same thing for the same failure.
 * The reply's `message` carries the specifics (which task, which field); these words carry the
 * meaning and the way out, which the message does not repeat.
 */
export interface ErrorWords {
  /** A few words naming the kind of failure, e.g. "lease taken over". */
  title: string;
  /** What to do next, when there is something to do. */
  action?: string;
  /**
   * Only errors whose details carry this key (`key`), or this value of it (`key=value`), get the
   * action: it speaks of what the key names.
   */
  onlyWith?: string;
}

export const ERROR_WORDS: Record<AnyErrorCode, ErrorWords> = {
  INVALID_ARGUMENT: { title: 'invalid argument', action: 'fix the named field and send it again', onlyWith: 'field' },
  NOT_FOUND: { title: 'not found' },
  ALREADY_EXISTS: { title: 'already exists', action: 'use another id, or leave out the id to get a generated one' },
  UNKNOWN_DEPENDENCY: { title: 'unknown dependency', action: 'add the task it depends on first, or in the same plan' },
  CYCLE: { title: 'dependency cycle', action: 'remove one of the dependencies named' },
  INVALID_TRANSITION: { title: 'not possible in this state' },
  NOT_CLAIMED_BY: { title: 'task not held by this worker', action: 'only the worker holding a task can complete, fail, heartbeat or release it' },
  STALE_FENCING_TOKEN: {
    title: 'lease taken over',
    action: 'another worker holds the task now; stop working on it and claim the next task',
  },
  INSTANCE_LIMIT: { title: 'too many workers', action: 'stop a worker, or raise the instance limit' },
  INSTANCE_STALE: { title: 'worker marked stale', action: 'register again (harness work does it for you)' },
  STATE_LOCKED: { title: 'state in use by another coordinator', action: 'connect to that coordinator instead of starting one' },
  STATE_CORRUPT: { title: 'damaged state', action: 'the files were kept as they are; `harness recover` shows what is intact' },
  STATE_UNSAFE: { title: 'state directory refused', action: 'use a directory of your own that is not a symbolic link (--state-dir)' },
  STORAGE_ERROR: { title: 'could not write the state', action: 'check free disk space and permissions; the change was not made' },
  CLOSED: { title: 'coordinator not reachable', action: 'start one with `harness serve`, or open the workspace in VS Code' },
  TIMEOUT: { title: 'timed out' },
  CONFLICT: { title: 'changed meanwhile', action: 'read it again and retry' },
  PATH_OUTSIDE_WORKSPACE: { title: 'path outside the workspace', action: 'lock paths inside the workspace only' },
  LEASE_EXPIRED: { title: 'lease expired', action: 'acquire it again' },
  UNKNOWN_POOL: { title: 'unknown resource pool', action: 'declare the pool in the plan\'s "resources" or with `harness pool set`' },
  OVER_CAPACITY: { title: 'more than the pool holds' },
  INVALID_CONFIG: { title: 'invalid .harness/config.json', action: 'fix the named field' },
  NOT_LEADER: { title: 'not the cluster leader', action: 'nothing was applied; send it again (forwarding does, until a leader answers)' },
  UNAVAILABLE: {
    title: 'cluster could not answer',
    action: 'it may have been applied: look (e.g. `harness task show`) before sending a change again',
    onlyWith: 'outcome=unknown',
  },
  INTERNAL: { title: 'internal error', action: 'this is a bug in harness; the coordinator log has the details' },
  NOT_A_GIT_REPO: { title: 'not a git repository' },
  DIRTY_WORKTREE: { title: 'uncommitted changes', action: 'commit or stash them first' },
  MERGE_CONFLICT: { title: 'merge conflict', action: 'nothing was changed; resolve the conflict on the worker branch and merge again' },
  MERGE_FAILED: { title: 'merge failed', action: 'nothing was changed' },
  UNMERGED_WORK: { title: 'unmerged work', action: 'merge it first, or pass --force to throw it away' },
  BRANCH_EXISTS: { title: 'branch in the way' },
  DETACHED_HEAD: { title: 'detached HEAD', action: 'pass --into BRANCH' },
  SETUP_FAILED: { title: 'setup command failed' },
  PORTS_EXHAUSTED: { title: 'no free port range', action: 'clean up finished workers, or widen isolation.ports' },
  BUSY: { title: 'busy', action: 'try again when the other process is done' },
  GIT_ERROR: { title: 'git failed' },
  USAGE: { title: 'usage', action: 'run `harness --help`' },
  GROUP_FAILED: { title: 'group did not complete' },
  SPAWN_FAILED: { title: 'could not start the command' },
  INVALID_OPTIONS: { title: 'invalid options' },
};

/** The words for a code; a code this build does not know (a newer coordinator) gets none. */
export function wordsFor(code: string): ErrorWords | undefined {
  return Object.hasOwn(ERROR_WORDS, code) ? ERROR_WORDS[code as AnyErrorCode] : undefined;
}

/** Lower case, without backquotes, quotes and punctuation: to compare advice however it is written. */
const plain = (text: string) => text.toLowerCase().replace(/[`'".,;:()]/g, '').replace(/\s+/g, ' ');

/**
 * Whether the message already says what the action says: the action itself, or the command (in
 * backquotes) the action points to (`harness serve --workspace <dir>` covers `harness serve`).
 */
function alreadySays(message: string, action: string): boolean {
  const said = plain(message);
  if (said.includes(plain(action))) return true;
  return [...action.matchAll(/`([^`]+)`/g)].some((m) => said.includes(plain(m[1]!)));
}

/**
 * One line for a person: the message, then what to do (when the table says, the action fits this
 * error and the message does not say it already). The code itself is for programs and is left to
 * the JSON output.
 */
export function explainError(error: { code: string; message: string; details?: Record<string, unknown> | undefined }): string {
  const words = wordsFor(error.code);
  const action = words?.action;
  if (!action || alreadySays(error.message, action)) return error.message;
  if (words.onlyWith !== undefined) {
    const [key, value] = words.onlyWith.split('=') as [string, string | undefined];
    const has = error.details?.[key];
    if (has === undefined || (value !== undefined && String(has) !== value)) return error.message;
  }
  return `${error.message} (${action})`;
}

/** Words for anything an edge caught: a HarnessError explained by its code, anything else as it is. */
export function explainThrown(e: unknown): string {
  return e instanceof HarnessError ? explainError(e) : describeError(e);
}

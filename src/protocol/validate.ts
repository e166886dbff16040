import type { z } from 'zod';
import { ErrorCode, HarnessError } from './errors';

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

function where(path: Path, root: string): string {
  return path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    root,
  );
}

/** One issue as `field: what is wrong`; an unknown field is named itself, as the field at fault. */
function describeIssue(issue: Issue, root: string): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${where([...issue.path, key], root)}: unknown field`);
  }
  const at = where(issue.path, root);
  const message = `${issue.message}${given(issue.input)}`;
  return [at ? `${at}: ${message}` : message];
}

/** `, got 1000000000`: the value at fault, when it is short enough to repeat (and only then). */
function given(input: unknown): string {
  if (typeof input === 'number' || typeof input === 'boolean') return `, got ${String(input)}`;
  if (typeof input === 'string' && input.length <= 100) return `, got ${JSON.stringify(input)}`;
  return '';
}

/** Renders a zod failure as one sentence that names each bad field, e.g. `tasks[2].priority: ...`. */
export function formatIssues(error: z.ZodError, root = ''): string {
  return error.issues
    .flatMap((issue) => describeIssue(issue, root))
    .slice(0, 5)
    .join('; ');
}

/** The first bad field of a zod failure, as a path (`tasks[2].priority`), for `details.field`. */
export function firstField(error: z.ZodError, root = ''): string {
  const issue = error.issues[0];
  if (!issue) return root;
  return where(issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path, root);
}

/** Parses `value` or throws INVALID_ARGUMENT naming what is wrong (`invalid <what>: field: ...`). */
export function parse<S extends z.ZodType>(schema: S, value: unknown, what: string, root = ''): z.output<S> {
  // reportInput: the message repeats the value at fault (see `given`).
  const result = schema.safeParse(value, { reportInput: true });
  if (!result.success) {
    throw new HarnessError(ErrorCode.InvalidArgument, `invalid ${what}: ${formatIssues(result.error, root)}`, {
      field: firstField(result.error, root),
    });
  }
  return result.data;
}

import { z } from 'zod';
import { ErrorCode, HarnessError } from './errors';

/** Renders a zod failure as one sentence that names each bad field, e.g. `tasks[2].priority: ...`. */
export function formatIssues(error: z.ZodError, root = ''): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const where = issue.path.reduce<string>(
        (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
        root,
      );
      return where ? `${where}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/** Parses `value` or throws INVALID_ARGUMENT naming what is wrong. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, what: string, root = ''): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new HarnessError(ErrorCode.InvalidArgument, `invalid ${what}: ${formatIssues(result.error, root)}`);
  }
  return result.data;
}

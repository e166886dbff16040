import { z } from 'zod';
import type { Json } from './model';

interface Node {
  value: unknown;
  key: string | number | undefined;
  parent: Node | undefined;
}

/**
 * The path to where `value` stops being JSON, or undefined when all of it is: plain objects and
 * arrays, strings, finite numbers, booleans, null. Iterative, so any depth is safe. What
 * JSON.stringify would silently drop or change (undefined, NaN, a Date, a function) is not JSON.
 * One pass over the value and no copy: z.json() rebuilt every object it checked, the largest
 * single cost of importing a plan.
 */
export function notJsonAt(value: unknown): Array<string | number> | undefined {
  const stack: Node[] = [{ value, key: undefined, parent: undefined }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const v = node.value;
    if (typeof v === 'string' || typeof v === 'boolean' || v === null) continue;
    if (typeof v === 'number' && Number.isFinite(v)) continue;
    if (typeof v === 'object') {
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) stack.push({ value: v[i], key: i, parent: node });
        continue;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto === Object.prototype || proto === null) {
        for (const k in v) stack.push({ value: (v as Record<string, unknown>)[k], key: k, parent: node });
        continue;
      }
    }
    const path: Array<string | number> = [];
    for (let n: Node | undefined = node; n?.key !== undefined; n = n.parent) path.unshift(n.key);
    return path;
  }
  return undefined;
}

/**
 * Any JSON value, checked in one pass (notJsonAt) and passed through as it is. Built on unknown so
 * that its JSON Schema is "any value" (a custom type has none).
 */
export const JsonValue = z.unknown().superRefine((value, ctx) => {
  const path = notJsonAt(value);
  if (path) ctx.addIssue({ code: 'custom', message: 'must be JSON (strings, finite numbers, booleans, null, arrays, plain objects)', path });
}) as unknown as z.ZodType<Json>;

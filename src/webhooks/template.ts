// Task templates: `{name}` placeholders filled with an event's values as plain text. Nothing in
// a value is ever evaluated; in a task id each value is reduced to id-safe characters.
import { ErrorCode, HarnessError } from '../core/errors';
import type { Json } from '../core/model';

export type Vars = Readonly<Record<string, string | number | undefined>>;

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_.]*)\}/g;

/** Letters, digits and `._-`; anything else becomes `-`. Safe in ids, file and branch names. */
export function slug(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/-{2,}/g, '-').replace(/^-+|-+$/g, '');
}

/** The placeholders a template names that `known` does not have. */
export function unknownPlaceholders(template: string, known: (name: string) => boolean): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!).filter((name) => !known(name));
}

/** Fills `{name}` from `vars`; a name with no value becomes the empty string. */
export function fill(template: string, vars: Vars, transform: (value: string) => string = (v) => v): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    if (!Object.hasOwn(vars, name)) return whole;
    const value = vars[name];
    return value === undefined ? '' : transform(String(value));
  });
}

/** A task id from a template; INVALID_ARGUMENT when it comes out empty. */
export function fillId(template: string, vars: Vars): string {
  const id = slug(fill(template, vars, slug)).slice(0, 200);
  if (!id) throw new HarnessError(ErrorCode.InvalidArgument, `task id template ${JSON.stringify(template)} gives an empty id`);
  return id;
}

/** Fills every string leaf of a JSON value. */
export function fillJson(value: Json, vars: Vars): Json {
  if (typeof value === 'string') return fill(value, vars);
  if (Array.isArray(value)) return value.map((v) => fillJson(v, vars));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillJson(v, vars)]));
  return value;
}

/** Cut to `max` characters, saying so. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

import type { z } from 'zod';

/**
 * - `query`: reads, changes nothing (safe to repeat, to page, to retry).
 * - `mutation`: changes coordinator state; "ok" means it is durable.
 * - `stream`: turns the connection into a stream of event lines after its reply.
 * - `notification`: no reply at all (a failure comes back as a `notification:failed` event line),
 *   so a sender never waits and never holds a reply slot.
 */
export type CommandKind = 'query' | 'mutation' | 'stream' | 'notification';

/** Parameter names a worker-side wrapper (e.g. `harness mcp`) supplies itself. */
export interface WorkerFields<P> {
  /** The worker's own id: the wrapper's registered id, never the caller's choice. */
  worker?: keyof P & string;
  /** The fencing token of the lease the wrapper holds for the task named by `task`. */
  fencingToken?: keyof P & string;
  /** The parameter naming the task whose lease (and token) is meant. */
  task?: keyof P & string;
}

export interface CommandDescriptor<
  Name extends string = string,
  Params extends z.ZodType<Record<string, unknown>> = z.ZodType<Record<string, unknown>>,
  Result extends z.ZodType = z.ZodType,
> {
  /** The wire name: `{"command": name, ...params}`. */
  readonly name: Name;
  /** One line for people and for models: what it does, and what it needs to know to use it well. */
  readonly summary: string;
  readonly kind: CommandKind;
  /** An object schema; every field `.describe()`d, so its JSON Schema documents itself. */
  readonly params: Params;
  /** The reply's `data`. Replies are checked against it by the conformance test, not at run time. */
  readonly result: Result;
  readonly fills?: WorkerFields<z.input<Params>>;
  /** The parameter (milliseconds) that lets the command wait on the server, if it can. */
  readonly waits?: keyof z.input<Params> & string;
}

/** Declares a command; keeps its literal name and schema types for typed calls and handlers. */
export function command<const Name extends string, Params extends z.ZodType<Record<string, unknown>>, Result extends z.ZodType>(
  descriptor: CommandDescriptor<Name, Params, Result>,
): CommandDescriptor<Name, Params, Result> {
  return Object.freeze(descriptor);
}

export type AnyCommand = CommandDescriptor<string, z.ZodType<Record<string, unknown>>, z.ZodType>;

/** What a caller passes: the schema's input (defaults and optional fields may be left out). */
export type ParamsOf<D extends AnyCommand> = z.input<D['params']>;
/** What a handler receives: parsed, checked, typed. */
export type ParsedParamsOf<D extends AnyCommand> = z.output<D['params']>;
/** The reply's `data`. */
export type ResultOf<D extends AnyCommand> = z.output<D['result']>;

/** Carries out one command: gets its parsed parameters, returns its result (or throws a HarnessError). */
export type Handler<D extends AnyCommand, Ctx> = (params: ParsedParamsOf<D>, ctx: Ctx) => ResultOf<D> | Promise<ResultOf<D>>;

/** One handler per command of `Commands`, by name: the compiler checks none is missing or mistyped. */
export type HandlersOf<Commands extends readonly AnyCommand[], Ctx> = {
  [D in Commands[number] as D['name']]: Handler<D, Ctx>;
};

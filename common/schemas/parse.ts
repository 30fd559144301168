// The one "parse or throw" of fastmig: the CLI, the HTTP API, the workflows and the workers all
// check input through it, each throwing its own kind of error with the same readable message.
import type { z } from 'zod';
import { describeZodError } from '../plain-schemas';

/** Makes the error to throw from what was parsed and the problem ("field: what was expected"). */
export type ParseFailure = (what: string, problem: string) => Error;

const invalid: ParseFailure = (what, problem) => new Error(`invalid ${what}: ${problem}`);

/** Parses `value` or throws `fail`'s error, whose message names the field; never a stack of zod internals. */
export function parseOrThrow<T extends z.ZodTypeAny>(schema: T, value: unknown, what: string, fail: ParseFailure = invalid): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw fail(what, describeZodError(r.error));
  return r.data;
}

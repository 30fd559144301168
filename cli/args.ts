// Command-line parsing on node's util.parseArgs, strict: an unknown option, a missing value or a
// value given to a switch is an error that names the option, never a guess. Everything after "--"
// is a service's command, taken as it is (even words that start with "--").
import { parseArgs, type ParseArgsConfig } from 'util';
import type { z } from 'zod';
import { UserError } from '../client';
import { parseOrThrow } from '../common/schemas';

export type Options = NonNullable<ParseArgsConfig['options']>;

export const text = { type: 'string' } as const;
export const texts = { type: 'string', multiple: true } as const;
export const flag = { type: 'boolean' } as const;

export interface Parsed {
  positional: string[];
  /** Everything after "--" (a service's command). */
  rest: string[];
  /** A string option's value (the last one given), or undefined. */
  str(name: string): string | undefined;
  bool(name: string): boolean;
  /** A repeatable option's values, in order. */
  list(name: string): string[];
  /** A whole number option, or undefined when it is not given. */
  number(name: string): number | undefined;
}

/** One command: the options it takes and what it does; it returns the exit code. */
export interface Command {
  options: Options;
  run(p: Parsed): Promise<number>;
}

export function parseCommandLine(args: string[], options: Options): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true, tokens: true });
  } catch (err) {
    throw new UserError(explain(err, options));
  }
  const end = parsed.tokens.find((t) => t.kind === 'option-terminator')?.index ?? args.length;
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
  const str = (name: string) => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };
  return {
    positional: parsed.tokens.flatMap((t) => (t.kind === 'positional' && t.index < end ? [t.value] : [])),
    rest: args.slice(end + 1),
    str,
    bool: (name) => values[name] === true,
    list: (name) => (Array.isArray(values[name]) ? (values[name] as string[]) : []),
    number(name) {
      const v = str(name);
      if (v === undefined) return undefined;
      if (!/^\d+$/.test(v)) throw new UserError(`--${name} takes a whole number, got "${v}"`);
      return Number(v);
    },
  };
}

/** parseArgs' refusal as one line naming the option and what the command expects. */
function explain(err: unknown, options: Options): string {
  const e = err as { code?: string; message?: string };
  const option = /'(-[^' ]+)/.exec(e.message ?? '')?.[1] ?? '';
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const names = Object.keys(options).map((f) => `--${f}`);
    return `unknown option ${option}${names.length ? ` (this command takes ${names.join(', ')})` : ''}`;
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/does not take an argument/.test(e.message ?? '')) return `${option} takes no value`;
    if (/ambiguous/.test(e.message ?? '')) return `${option} needs a value (one that starts with "-" is written ${option}=<value>)`;
    return `${option} needs a value`;
  }
  return e.message ?? String(err);
}

/** The CLI's input check: the shared parseOrThrow, failing as bad input (exit code 2). */
export function valid<T extends z.ZodTypeAny>(schema: T, value: unknown, what: string): z.infer<T> {
  return parseOrThrow(schema, value, what, (w, problem) => new UserError(`${w}: ${problem}`));
}

export function one(p: Parsed, what: string): string {
  if (p.positional.length !== 1) throw new UserError(`expected exactly one ${what}, got ${p.positional.length ? p.positional.join(' ') : 'none'}`);
  return p.positional[0];
}

export function jsonOption(p: Parsed, name: string): unknown {
  try {
    return JSON.parse(p.str(name) ?? '');
  } catch {
    throw new UserError(`--${name} takes JSON, e.g. --restart '{"rules":[{"exitCodes":[1],"action":"scratch"}],"maxRestarts":3}'`);
  }
}

// A small, strict argument parser: unknown flags and missing values are errors, not guesses.
import { UserError } from './temporal';

const BOOLEAN = new Set(['json', 'encrypt']);

export interface Parsed {
  positional: string[];
  flags: Record<string, string | true>;
  /** Everything after "--" (a service's command). */
  rest: string[];
  list(name: string): string[];
  number(name: string): number;
}

export function parseArgs(argv: string[], allowed: string[]): Parsed {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  const lists: Record<string, string[]> = {};
  let rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      rest = argv.slice(i + 1);
      break;
    }
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq > 0 ? eq : undefined);
    if (!allowed.includes(name)) {
      throw new UserError(`unknown option --${name}${allowed.length ? ` (this command takes ${allowed.map((f) => `--${f}`).join(', ')})` : ''}`);
    }
    let value: string | true;
    if (BOOLEAN.has(name)) value = true;
    else if (eq > 0) value = a.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new UserError(`--${name} needs a value`);
      value = next;
      i++;
    }
    flags[name] = value;
    (lists[name] ??= []).push(String(value));
  }
  return {
    positional,
    flags,
    rest,
    list: (name) => lists[name] ?? [],
    number(name) {
      const v = String(flags[name]);
      if (!/^\d+$/.test(v)) throw new UserError(`--${name} takes a whole number, got "${v}"`);
      return Number(v);
    },
  };
}

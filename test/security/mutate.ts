// Mutations of valid requests for the fuzzers: every body stays well-formed JSON (so it gets past
// routing and parsing to the route's own checks) and breaks the route's rules by construction —
// an unknown field, a field of the wrong type or out of its range, a required field left out, or a
// body that is not an object — so a server that acts on one has accepted a bad input.

/** A seeded generator: rnd(n) is a whole number from 0 to n-1. */
export type Rng = (n: number) => number;
export function rng(seed: number): Rng {
  let s = seed >>> 0;
  return (n) => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}
export const pick = <T>(r: Rng, list: readonly T[]): T => list[r(list.length)];

/** Characters outside every name alphabet: separators, traversal, control and look-alike characters. */
const FOREIGN = ['/', '.', '..', '\\', '\0', ' ', '\n', '\t', '%2f', '%', '_', ':', '@', '~', 'é', 'Ａ', '$(id)', ';', '`', '*', '?', '"', "'", '\u202e', '\ud83d\ude00', '&', '#', '+', '='];

/** A name's rule: its alphabet (as a class of characters), its longest length, and how it may begin and end. */
export interface NameRule {
  chars: RegExp;
  max: number;
  /** A first (or last) character it may not have, e.g. "-". */
  badFirst?: string;
  badLast?: string;
}
export const SERVICE_NAME: NameRule = { chars: /^[a-z0-9-]$/, max: 40, badFirst: '-', badLast: '-' };
export const HOST_NAME: NameRule = { chars: /^[A-Za-z0-9-]$/, max: 32, badFirst: '-', badLast: '-' };
export const CHECKPOINT_ID: NameRule = { chars: /^[A-Za-z0-9-]$/, max: 64, badFirst: '-' };
export const WORKFLOW_ID: NameRule = { chars: /^[A-Za-z0-9-]$/, max: 128 };

function word(r: Rng, len: number): string {
  const a = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from({ length: len }, () => a[r(a.length)]).join('');
}

/** A string the rule never accepts: a foreign character inside, too long, empty, or a bad first or last character. */
export function badName(r: Rng, rule: NameRule): string {
  const base = word(r, 1 + r(10));
  const foreign = FOREIGN.filter((c) => [...c].some((ch) => !rule.chars.test(ch)));
  const upper = rule.chars.test('A') ? [] : [base.toUpperCase() + 'X'];
  const ways = [
    () => base.slice(0, r(base.length)) + pick(r, foreign) + base.slice(r(base.length)),
    () => `../${base}`,
    () => `${base}/../../${word(r, 4)}`,
    () => 'a'.repeat(rule.max + 1 + r(200)),
    () => '',
    ...(rule.badFirst ? [() => rule.badFirst + base] : []),
    ...(rule.badLast ? [() => base + rule.badLast] : []),
    ...upper.map((u) => () => u),
  ];
  return pick(r, ways)();
}

/** Any JSON value (bounded in size, so no body reaches the 16 KiB limit). */
export function randomJson(r: Rng, depth = 2): unknown {
  const kinds = depth > 0 ? 8 : 6;
  switch (r(kinds)) {
    case 0: return null;
    case 1: return r(2) === 0;
    case 2: return pick(r, [0, -1, 1.5, 2 ** 53, -(2 ** 31), 1e308, -1e-300, 65536]);
    case 3: return word(r, r(30));
    case 4: return pick(r, FOREIGN) + word(r, 3);
    case 5: return 'x'.repeat(r(800));
    case 6: return Array.from({ length: r(4) }, () => randomJson(r, depth - 1));
    default: return Object.fromEntries(Array.from({ length: r(4) }, () => [word(r, 1 + r(6)), randomJson(r, depth - 1)]));
  }
}

type Kind = 'string' | 'boolean' | 'number';
/** A JSON value of any type but `kind`. */
export function wrongType(r: Rng, kind: Kind): unknown {
  for (;;) {
    const v = randomJson(r, 1);
    if (typeof v !== kind) return v;
  }
}

/** One field of a body: whether it is required, and a value it never accepts. */
export interface Field {
  required: boolean;
  invalid: (r: Rng) => unknown;
}
export const nameField = (rule: NameRule, required = true): Field => ({ required, invalid: (r) => (r(3) ? badName(r, rule) : wrongType(r, 'string')) });
export const flagField: Field = { required: false, invalid: (r) => wrongType(r, 'boolean') };
export const enumField = (values: readonly string[], required = true): Field => ({
  required,
  invalid: (r) => {
    if (!r(3)) return wrongType(r, 'string');
    const v = pick(r, [...values.map((x) => x.toUpperCase()), ...values.map((x) => ` ${x}`), ...values.map((x) => `${x}\0`), '', word(r, 1 + r(8))]);
    return values.includes(v) ? `${v}-not` : v;
  },
});
export const intField = (lo: number, hi: number, required = true): Field => ({
  required,
  invalid: (r) => pick(r, [() => lo - 1 - r(1000), () => hi + 1 + r(100_000), () => lo + 0.5, () => 1e308, () => wrongType(r, 'number')])(),
});
export const textField = (max: number): Field => ({ required: true, invalid: (r) => (r(2) ? 'r'.repeat(max + 1 + r(2000)) : wrongType(r, 'string')) });

/** A route's body: a valid example and its fields. */
export interface BodyRule {
  valid: Record<string, unknown>;
  fields: Record<string, Field>;
}

const UNKNOWN_KEYS = ['force', 'admin', 'cmd', 'command', 'privileged', '__proto__', 'constructor', 'prototype', 'toString', '', ' ', 'x'.repeat(200)];

/** Sets a key as an own property, even "__proto__" (JSON.stringify then writes it like any other). */
function set(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** A body that breaks `rule` by construction, and what was done to it. */
export function invalidBody(r: Rng, rule: BodyRule): { body: unknown; how: string } {
  if (r(8) === 0) {
    const body = pick(r, [[rule.valid], 'x', 7, null, true, [], [[[]]], `${JSON.stringify(rule.valid)}`]);
    return { body, how: `a ${Array.isArray(body) ? 'array' : body === null ? 'null' : typeof body} instead of an object` };
  }
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rule.valid)) set(body, k, v);
  const hows: string[] = [];
  const names = Object.keys(rule.fields);
  const required = names.filter((n) => rule.fields[n].required);
  for (let i = 0, n = 1 + r(3); i < n; i++) {
    const way = r(required.length ? 3 : 2);
    if (way === 0 || !names.length) {
      let k = r(3) ? pick(r, UNKNOWN_KEYS) : `${word(r, 1 + r(6))}${pick(r, ['', '_', '.', '$', '-'])}`;
      while (names.includes(k)) k += '_';
      set(body, k, randomJson(r));
      hows.push(`unknown field ${JSON.stringify(k)}`);
    } else if (way === 1) {
      const f = pick(r, names);
      set(body, f, rule.fields[f].invalid(r));
      hows.push(`bad ${f}`);
    } else {
      const f = pick(r, required);
      delete body[f];
      hows.push(`no ${f}`);
    }
  }
  return { body, how: hows.join(', ') };
}

/** A query string of parameters the route does not take (plus, sometimes, its own valid ones). */
export function unknownQuery(r: Rng, keep: Record<string, string> = {}): string {
  const q = new URLSearchParams(keep);
  let key = pick(r, ['token', 'debug', 'admin', 'force', 'x', '__proto__', 'lines[]', word(r, 1 + r(8))]);
  if (Object.hasOwn(keep, key)) key = `${key}2`;
  q.append(key, pick(r, ['1', 'true', '', '../..', word(r, 5)]));
  return `?${q}`;
}

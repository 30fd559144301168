// Small helpers shared by the benchmark: statistics over repeated runs, waiting, HTTP checks.
import { httpText } from '../demo/probe';

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(xs: number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const median = n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return { median: round(median), min: round(s[0] ?? NaN), max: round(s[n - 1] ?? NaN), n };
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until fn() is true, every `everyMs`, for at most `timeoutMs`. */
export async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number, everyMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return;
    await sleep(everyMs);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

export async function answers(port: number, path = '/health'): Promise<boolean> {
  try {
    return (await httpText(port, 'GET', path)).status === 200;
  } catch {
    return false;
  }
}

/** The digest the service computed when it filled its data, and one it recomputes now. */
export async function digests(port: number): Promise<{ filled: string; now: string }> {
  const info = JSON.parse((await httpText(port, 'GET', '/info')).text) as { digest: string };
  const now = (await httpText(port, 'GET', '/digest')).text;
  return { filled: info.digest, now };
}

export async function checkState(port: number, what: string): Promise<void> {
  const d = await digests(port);
  if (d.filled !== d.now) throw new Error(`${what}: the service's data changed (${d.filled.slice(0, 8)} != ${d.now.slice(0, 8)})`);
}

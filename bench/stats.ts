// Small helpers shared by the benchmark: statistics over repeated runs, waiting, HTTP checks.
import http from 'http';
import { httpText, splitEndpoint } from '../demo/probe';

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

export async function answers(endpoint: string, path = '/health'): Promise<boolean> {
  try {
    return (await httpText(endpoint, 'GET', path)).status === 200;
  } catch {
    return false;
  }
}

/** GET with a long limit: recomputing the digest of 1 GiB (pulling pages lazily, too) takes seconds. */
function slowGet(endpoint: string, path: string, timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ ...splitEndpoint(endpoint), path, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error(`${path}: HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${endpoint}${path} within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Fails unless the data the service filled at start is still byte for byte the same. */
export async function checkState(endpoint: string, what: string): Promise<void> {
  const filled = (JSON.parse(await slowGet(endpoint, '/info')) as { digest: string }).digest;
  const now = await slowGet(endpoint, '/digest');
  if (filled !== now) throw new Error(`${what}: the service's data changed (${filled.slice(0, 8)} != ${now.slice(0, 8)})`);
}

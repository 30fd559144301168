// A client that polls a service every few milliseconds and records the longest gap between
// successful answers: downtime as a client sees it. Used by the demo, the tests and the benchmark.
import http from 'http';

/** Where a service answers: `address:port` (a service's `endpoint` in `fastmig status`). */
export type Endpoint = string;

export function splitEndpoint(e: Endpoint): { host: string; port: number } {
  const i = e.lastIndexOf(':');
  const port = Number(e.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0) throw new Error(`bad endpoint "${e}": expected address:port`);
  return { host: e.slice(0, i), port };
}

export interface ProbeResult {
  requests: number;
  ok: number;
  maxGapMs: number;
}

function getOnce(endpoint: Endpoint, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ ...splitEndpoint(endpoint), path, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/**
 * `endpoint` may be a function giving the endpoints to try in order: a service answers at its
 * target host's address after a migration, so the demo adds the target's once it is known.
 */
export function startProbe(endpoint: Endpoint | (() => Endpoint[]), intervalMs = 5, path = '/health') {
  const endpoints = typeof endpoint === 'string' ? () => [endpoint] : endpoint;
  const anyAnswers = async () => {
    for (const e of endpoints()) if (await getOnce(e, path, 1000)) return true;
    return false;
  };
  let stop = false;
  const result: ProbeResult = { requests: 0, ok: 0, maxGapMs: 0 };
  const done = (async () => {
    let lastOk = Date.now();
    while (!stop) {
      const t = Date.now();
      result.requests++;
      if (await anyAnswers()) {
        const now = Date.now();
        result.ok++;
        result.maxGapMs = Math.max(result.maxGapMs, now - lastOk);
        lastOk = now;
      }
      const wait = intervalMs - (Date.now() - t);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    return result;
  })();
  return {
    stop: async () => {
      stop = true;
      return done;
    },
  };
}

export async function httpText(endpoint: Endpoint, method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ ...splitEndpoint(endpoint), method, path, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode || 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${endpoint}${path}`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** A free TCP port on the loopback address. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = require('net').createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

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
  /** Requests that failed (refused, reset, an error answer); one that is only slow is not counted. */
  errors: number;
}

type Outcome = 'ok' | 'error' | 'slow';

/**
 * The probe gives up on a request after this long and sends a new one: during a move new
 * connections are held (their SYN dropped, not refused), and TCP would send it again only after
 * 1 s, then 3 s; a client that retries sooner sees the service back sooner.
 */
const PROBE_TIMEOUT_MS = 250;

function getOnce(endpoint: Endpoint, path: string, timeoutMs: number, agent: http.Agent | false = false): Promise<Outcome> {
  return new Promise((resolve) => {
    let slow = false;
    const req = http.get({ ...splitEndpoint(endpoint), path, agent, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? 'ok' : 'error'));
    });
    req.on('timeout', () => {
      slow = true;
      req.destroy();
    });
    req.on('error', () => resolve(slow ? 'slow' : 'error'));
  });
}

/**
 * `endpoint` may be a function giving the endpoints to try in order: a service answers at its
 * target host's address after a migration, so the demo adds the target's once it is known.
 */
export function startProbe(endpoint: Endpoint | (() => Endpoint[]), intervalMs = 5, path = '/health') {
  const endpoints = typeof endpoint === 'string' ? () => [endpoint] : endpoint;
  const list = () => [...new Set(endpoints())];
  // Tries each endpoint in turn; an error only counts when no endpoint answered.
  const anyAnswers = async () => {
    let failed = false;
    for (const e of list()) {
      const o = await getOnce(e, path, PROBE_TIMEOUT_MS);
      if (o === 'ok') return true;
      failed ||= o === 'error';
    }
    if (failed) result.errors++;
    return false;
  };
  let stop = false;
  const result: ProbeResult = { requests: 0, ok: 0, maxGapMs: 0, errors: 0 };
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

export interface HeldConnectionResult {
  requests: number;
  ok: number;
  errors: number;
  /** Connections the client had to open: 1 when its first one carried every request. */
  connections: number;
  /** Answers that came after `markMoved` was called (the migration had ended). */
  okAfterMove: number;
}

/**
 * A client holding one keep-alive connection and sending a request over it every intervalMs (each
 * may wait up to 30 s, as TCP retransmits): whether an established connection survives a move.
 */
export function startHeldConnection(endpoint: Endpoint, intervalMs = 20, path = '/health') {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set<unknown>();
  agent.on('free', (s) => sockets.add(s));
  const result: HeldConnectionResult = { requests: 0, ok: 0, errors: 0, connections: 0, okAfterMove: 0 };
  let moved = false;
  let stop = false;
  const done = (async () => {
    while (!stop) {
      result.requests++;
      const o = await getOnce(endpoint, path, 30_000, agent);
      if (o === 'ok') {
        result.ok++;
        if (moved) result.okAfterMove++;
      } else result.errors++;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    agent.destroy();
    result.connections = sockets.size;
    return result;
  })();
  return {
    markMoved: () => void (moved = true),
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

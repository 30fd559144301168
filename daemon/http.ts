// The daemon's small HTTP server on its unix socket: token check in constant time, bounded JSON
// bodies, errors with a status, and a JSON answer to unparseable requests. Hand-written rather than
// a framework: the daemon loads no package (one daemon per service; see daemon/run.ts).
import http from 'http';
import crypto from 'crypto';
import type { Duplex } from 'stream';

export const MAX_BODY = 16 * 1024;

export function tokenMatches(expected: string, header: string | undefined): boolean {
  const given = header?.startsWith('Bearer ') ? header.slice(7) : '';
  const a = crypto.createHash('sha256').update(expected).digest();
  const b = crypto.createHash('sha256').update(given).digest();
  return given.length > 0 && crypto.timingSafeEqual(a, b);
}

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Reads a JSON body; an oversized one is drained (up to a bound) so the 413 reaches the client. */
export function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY * 64) req.destroy();
      else if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY) return reject(new HttpError(413, `request body over ${MAX_BODY} bytes`));
      if (!chunks.length) return resolve({});
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new HttpError(400, 'request body is not valid JSON'));
      }
    });
    req.on('error', reject);
  });
}

/** Runs a zod-free check of common/plain-schemas.ts on a body: whatever it throws becomes a 400. */
export function checkBody<T>(check: (body: unknown) => T, body: unknown): T {
  try {
    return check(body);
  } catch (err) {
    throw new HttpError(400, err instanceof Error ? err.message : String(err));
  }
}

/** A route's answer with a status other than 200 (e.g. 202 Accepted). */
export class HttpAnswer {
  constructor(readonly status: number, readonly body: unknown) {}
}

/** Requests the HTTP parser itself rejects still get a JSON answer. */
export function answerMalformed(_err: Error, socket: Duplex): void {
  const body = JSON.stringify({ error: 'malformed HTTP request' });
  if (socket.writable) socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
  else socket.destroy();
}

export type Routes = Record<string, (body: unknown, url: URL, params: Record<string, string>) => Promise<unknown>>;

export interface JsonServerOptions {
  token: string;
  routes: Routes;
  log: { warn: (obj: object, msg: string) => void };
  /** Routes ("METHOD /path") answered without a token. */
  open?: string[];
  /** Raw answers (e.g. Prometheus text) for these routes. */
  text?: Record<string, () => string>;
  onRequest?: (route: string, status: number) => void;
}

/**
 * A JSON-over-HTTP server: every request's body is read (bounded) first, the token is checked
 * unless the route is open, the path is parsed strictly, and every error is a JSON {error}.
 * Errors that are not HttpErrors are refusals of the operation (409).
 */
export function createJsonServer(o: JsonServerOptions): http.Server {
  const server = http.createServer(async (req, res) => {
    let routeKey = 'unknown';
    const send = (status: number, body: unknown) => {
      o.onRequest?.(routeKey, status);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      const bodyRead = readBody(req);
      bodyRead.catch(() => undefined);
      let url: URL;
      try {
        url = new URL(req.url || '/', 'http://fastmig');
        if (url.host !== 'fastmig') throw new Error();
      } catch {
        await bodyRead.catch(() => undefined);
        throw new HttpError(400, 'malformed request path');
      }
      const key = `${req.method} ${url.pathname}`;
      const exact = o.routes[key];
      const route = exact ? { name: key, run: exact, params: {} } : matchRoute(o.routes, req.method || '', url.pathname);
      if (!o.open?.includes(key) && !tokenMatches(o.token, req.headers.authorization)) {
        await bodyRead.catch(() => undefined);
        throw new HttpError(401, 'missing or wrong token');
      }
      const body = await bodyRead;
      if (o.text?.[key]) {
        routeKey = key;
        o.onRequest?.(key, 200);
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        return void res.end(o.text[key]());
      }
      if (!route) throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
      routeKey = route.name;
      const out = await route.run(req.method === 'POST' ? body : {}, url, route.params);
      if (out instanceof HttpAnswer) send(out.status, out.body);
      else send(200, out);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 409;
      const message = err instanceof Error ? err.message : String(err);
      if (status >= 500 || status === 409) o.log.warn({ url: req.url, err: message }, 'request failed');
      send(status, { error: message });
    }
  });
  server.on('clientError', answerMalformed);
  return server;
}

/** Routes may hold one `:name` segment (e.g. "GET /v1/services/:service"). */
function matchRoute(routes: Routes, method: string, pathname: string) {
  for (const [key, run] of Object.entries(routes)) {
    const [m, pattern] = key.split(' ');
    if (m !== method || !pattern.includes(':')) continue;
    const want = pattern.split('/');
    const got = pathname.split('/');
    if (want.length !== got.length) continue;
    const params: Record<string, string> = {};
    if (want.every((w, i) => (w.startsWith(':') ? ((params[w.slice(1)] = decodeURIComponent(got[i])), got[i].length > 0) : w === got[i]))) {
      return { name: key, run, params };
    }
  }
  return undefined;
}

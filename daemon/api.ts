// The daemon's API: HTTP on a unix socket in the host's state directory (never TCP), every request
// authenticated with the service's token, bodies validated and size-limited.
import http from 'http';
import crypto from 'crypto';
import { z } from 'zod';
import { CheckpointRequest, RestoreRequest, StopRequest, describeZodError } from '../common/schemas';
import type { Supervisor } from './supervisor';
import type { Logger } from '../common/log';

const MAX_BODY = 16 * 1024;

export function tokenMatches(expected: string, header: string | undefined): boolean {
  const given = header?.startsWith('Bearer ') ? header.slice(7) : '';
  const a = crypto.createHash('sha256').update(expected).digest();
  const b = crypto.createHash('sha256').update(given).digest();
  return given.length > 0 && crypto.timingSafeEqual(a, b);
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Reads a JSON body; an oversized one is drained (up to a bound) so the 413 reaches the client. */
function readBody(req: http.IncomingMessage): Promise<unknown> {
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

function parse<T extends z.ZodTypeAny>(schema: T, body: unknown): z.infer<T> {
  const r = schema.safeParse(body);
  if (!r.success) throw new HttpError(400, describeZodError(r.error));
  return r.data;
}

export function createApi(sup: Supervisor, token: string, log: Logger, onShutdown: () => void): http.Server {
  const routes: Record<string, (body: unknown, url: URL) => Promise<unknown>> = {
    'GET /status': async () => sup.status(),
    'GET /logs': async (_b, url) => {
      const raw = url.searchParams.get('lines') ?? '200';
      if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > 2000) throw new HttpError(400, 'lines must be a whole number from 1 to 2000');
      return { lines: sup.logs(Number(raw)) };
    },
    'POST /start': async () => sup.start(),
    'POST /checkpoint': async (b) => {
      const r = parse(CheckpointRequest, b);
      return sup.checkpoint(r.checkpointId, r.leaveRunning);
    },
    'POST /restore': async (b) => sup.restore(parse(RestoreRequest, b).checkpointId),
    'POST /stop': async (b) => sup.stop(parse(StopRequest, b).graceMs),
    'POST /shutdown': async () => {
      await sup.shutdown();
      setImmediate(onShutdown);
      return { ok: true };
    },
  };
  const server = http.createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      // The body is always read (bounded) first, so every answer reaches a client still sending.
      const bodyRead = readBody(req);
      bodyRead.catch(() => undefined);
      if (!tokenMatches(token, req.headers.authorization)) {
        await bodyRead.catch(() => undefined);
        throw new HttpError(401, 'missing or wrong token');
      }
      const body = await bodyRead;
      let url: URL;
      try {
        url = new URL(req.url || '/', 'http://daemon');
        if (url.host !== 'daemon') throw new Error();
      } catch {
        throw new HttpError(400, 'malformed request path');
      }
      const route = routes[`${req.method} ${url.pathname}`];
      if (!route) throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
      send(200, await route(req.method === 'POST' ? body : {}, url));
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 409;
      const message = err instanceof Error ? err.message : String(err);
      if (status >= 500 || status === 409) log.warn({ url: req.url, err: message }, 'request failed');
      send(status, { error: message });
    }
  });
  // Requests the HTTP parser itself rejects still get a JSON answer.
  server.on('clientError', (_err, socket) => {
    const body = JSON.stringify({ error: 'malformed HTTP request' });
    if (socket.writable) socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    else socket.destroy();
  });
  return server;
}

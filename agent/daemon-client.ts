// Client of a daemon's unix-socket API, used by the host agent (its activities, restart policy
// and hooks) and by tests that drive a daemon directly.
import fs from 'fs';
import http from 'http';
import { serviceFolder } from '../common/service-folder';

export class DaemonError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function callDaemon<T>(socket: string, token: string, method: 'GET' | 'POST', route: string, body?: unknown, timeoutMs = 130_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        socketPath: socket,
        method,
        path: route,
        timeout: timeoutMs,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: any;
          try {
            json = JSON.parse(text);
          } catch {
            return reject(new DaemonError(res.statusCode || 500, `daemon answered non-JSON: ${text.slice(0, 200)}`));
          }
          if ((res.statusCode || 500) >= 300) return reject(new DaemonError(res.statusCode || 500, json.error || text));
          resolve(json as T);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`daemon did not answer ${route} within ${timeoutMs} ms`)));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

/** Calls the daemon of one service folder (its socket, with its token). */
export type DaemonCall = <T>(method: 'GET' | 'POST', route: string, body?: unknown, timeoutMs?: number) => Promise<T>;

export function daemonAt(dir: string): DaemonCall {
  const f = serviceFolder(dir);
  // Read at each call: the folder's token is written when the daemon is prepared.
  return async (method, route, body, timeoutMs) => callDaemon(f.socket, fs.readFileSync(f.token, 'utf8').trim(), method, route, body, timeoutMs);
}

// A running service's daemon as the attacks and the fuzzer reach it: over its unix socket, with
// or without its token, and what must stay as it was (the daemon, the service's process, its image
// folder, and the marker its hook would write).
import fs from 'fs';
import path from 'path';
import http from 'http';
import { paths } from '../../common/config';
import { serviceFolder } from '../../common/service-folder';
import { deployKv } from '../helpers';
import { target, type Target } from './afterwards';

export interface Answer {
  status: number;
  body: string;
  /** The JSON {error} of the answer, when it has one. */
  error?: string;
}

export function request(socket: string, method: string, route: string, headers: Record<string, string>, body?: string | Buffer, timeoutMs = 5000): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: socket, method, path: route, headers, timeout: timeoutMs }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        let error: string | undefined;
        try {
          const e = JSON.parse(text).error;
          if (typeof e === 'string') error = e;
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode || 0, body: text, error });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Errors the HTTP layer answers before a route runs: these never prove a route's own checks. */
export const BEFORE_ROUTES = /^(request body is not valid JSON|malformed request path|malformed HTTP request|no route |missing or wrong token|request body over )/;

/** A kv service deployed for the attacks, with a hook that would leave a marker if anything ran it. */
export async function deployTarget(service: string, host = 'hostA') {
  await deployKv(service, host, { hooks: { postCheckpoint: 'touch hook-ran', preRestore: 'touch hook-ran' } });
  const dir = paths.serviceDir(host, service);
  const f = serviceFolder(dir);
  const token = fs.readFileSync(f.token, 'utf8').trim();
  const t: Target = await target(service);
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const call = (method: string, route: string, body?: string | Buffer, headers: Record<string, string> = auth) => request(f.socket, method, route, headers, body);
  const status = async () => JSON.parse((await call('GET', '/status')).body) as { state: string; pid: number | null; daemonPid: number };
  const before = await status();
  const images = () => (fs.existsSync(f.images) ? fs.readdirSync(f.images).sort() : []);
  const imagesBefore = images();
  /** What changed in the daemon since the attacks began (another state, process or daemon, a new image folder, the hook's marker), or null. */
  const daemonProblem = async (): Promise<string | null> => {
    const now = await status().catch((err) => ({ state: `unreachable: ${err}`, pid: null, daemonPid: 0 }));
    if (now.state !== 'running' || now.pid !== before.pid || now.daemonPid !== before.daemonPid) return `daemon changed: ${JSON.stringify(now)} (was ${JSON.stringify(before)})`;
    if (images().join() !== imagesBefore.join()) return `image folder changed: ${images().join(', ')}`;
    if (fs.existsSync(path.join(dir, 'hook-ran'))) return 'a hook ran';
    return null;
  };
  return { dir, f, token, auth, target: t, call, status, daemonProblem };
}
export type DaemonTarget = Awaited<ReturnType<typeof deployTarget>>;

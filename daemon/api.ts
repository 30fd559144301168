// The daemon's API: HTTP on a unix socket in the host's state directory (never TCP), every request
// authenticated with the service's token, bodies validated and size-limited.
import http from 'http';
import { HttpError, Routes, createJsonServer, checkBody as parse } from '../common/http';
// Not through schemas.ts: that would load zod into every daemon.
import { parseCheckpointRequest, parseRestoreRequest, parseStopRequest } from '../common/plain-schemas';
import type { Supervisor } from './supervisor';
import type { LineLogger as Logger } from '../common/log-lite';

export function createApi(sup: Supervisor, token: string, log: Logger, onShutdown: () => void): http.Server {
  const routes: Routes = {
    'GET /status': async () => sup.status(),
    'GET /logs': async (_b, url) => {
      const raw = url.searchParams.get('lines') ?? '200';
      if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > 2000) throw new HttpError(400, 'lines must be a whole number from 1 to 2000');
      return { lines: sup.logs(Number(raw)) };
    },
    'POST /start': async () => sup.start(),
    'POST /checkpoint': async (b) => {
      const r = parse(parseCheckpointRequest, b);
      return sup.checkpoint(r.checkpointId, r.leaveRunning);
    },
    'POST /restore': async (b) => sup.restore(parse(parseRestoreRequest, b).checkpointId),
    'POST /stop': async (b) => sup.stop(parse(parseStopRequest, b).graceMs),
    'POST /shutdown': async () => {
      await sup.shutdown();
      setImmediate(onShutdown);
      return { ok: true };
    },
  };
  return createJsonServer({ token, routes, log });
}

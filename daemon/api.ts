// The daemon's API: HTTP on a unix socket in the host's state directory (never TCP), every request
// authenticated with the service's token, bodies validated and size-limited.
import http from 'http';
import { HttpError, Routes, createJsonServer, checkBody as parse } from './http';
// Not through schemas.ts: that would load zod into every daemon.
import {
  parseCheckpointRequest,
  parseDecisionRequest,
  parseHookRequest,
  parseRestoreRequest,
  parseStartRequest,
  parseStopRequest,
} from '../common/plain-schemas';
import type { Supervisor } from './supervisor';
import type { LineLogger as Logger } from '../common/log-lite';

/** How long GET /wait-exit holds a request without news; the agent asks again at once. */
const WAIT_EXIT_MS = 25_000;

export function createApi(sup: Supervisor, token: string, log: Logger, onShutdown: () => void): http.Server {
  const routes: Routes = {
    'GET /status': async () => sup.status(),
    'GET /wait-exit': async () => sup.waitExit(WAIT_EXIT_MS),
    'GET /logs': async (_b, url) => {
      const raw = url.searchParams.get('lines') ?? '200';
      if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > 2000) throw new HttpError(400, 'lines must be a whole number from 1 to 2000');
      return { lines: sup.logs(Number(raw)) };
    },
    'POST /start': async (b) => sup.start(parse(parseStartRequest, b).restart),
    'POST /checkpoint': async (b) => {
      const r = parse(parseCheckpointRequest, b);
      return sup.checkpoint(r.checkpointId, r.leaveRunning);
    },
    'POST /restore': async (b) => {
      const r = parse(parseRestoreRequest, b);
      return sup.restore(r.checkpointId, r.restart);
    },
    'POST /hook': async (b) => sup.hook(parse(parseHookRequest, b)),
    'POST /decision': async (b) => sup.decide(parse(parseDecisionRequest, b)),
    'POST /stop': async (b) => sup.stop(parse(parseStopRequest, b).graceMs),
    'POST /shutdown': async () => {
      await sup.shutdown();
      setImmediate(onShutdown);
      return { ok: true };
    },
  };
  return createJsonServer({ token, routes, log });
}

// The daemon's API: HTTP on a unix socket in the host's state directory (never TCP), every request
// authenticated with the service's token, bodies validated and size-limited, and no query
// parameter taken but the ones a route names (unknown ones are refused like unknown body fields).
import http from 'http';
import { HttpError, Routes, createJsonServer, checkBody as parse } from './http';
// Not through schemas.ts: that would load zod into every daemon.
import {
  parseCheckpointRequest,
  parseDecisionRequest,
  parseHookRequest,
  parseRestoreRequest,
  parseEmptyRequest,
  parseStartRequest,
  parseStopRequest,
} from '../common/plain-schemas';
import type { Supervisor } from './supervisor';
import type { LineLogger as Logger } from '../common/log-lite';

/** How long GET /wait-exit holds a request without news; the agent asks again at once. */
const WAIT_EXIT_MS = 25_000;

/** Refuses query parameters other than `allowed`. */
function onlyQuery(url: URL, allowed: string[] = []): void {
  const extra = [...new Set(url.searchParams.keys())].filter((k) => !allowed.includes(k));
  if (extra.length) throw new HttpError(400, `query: unknown parameter(s) ${extra.map((k) => JSON.stringify(k)).join(', ')}`);
}

/** The routes ("METHOD /path") and what each does; every one checks all of its input first. */
export function daemonRoutes(sup: Supervisor, onShutdown: () => void): Routes {
  return {
    'GET /status': async (_b, url) => (onlyQuery(url), sup.status()),
    'GET /wait-exit': async (_b, url) => (onlyQuery(url), sup.waitExit(WAIT_EXIT_MS)),
    /** A post-copy target: answers once the last page is across (or the transfer failed), or after a while without news. */
    'GET /pages': async (_b, url) => (onlyQuery(url), sup.pages(WAIT_EXIT_MS)),
    'GET /logs': async (_b, url) => {
      onlyQuery(url, ['lines']);
      const raw = url.searchParams.get('lines') ?? '200';
      if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > 2000) throw new HttpError(400, 'lines must be a whole number from 1 to 2000');
      return { lines: sup.logs(Number(raw)) };
    },
    'POST /start': async (b, url) => (onlyQuery(url), sup.start(parse(parseStartRequest, b).restart)),
    'POST /checkpoint': async (b, url) => {
      onlyQuery(url);
      const r = parse(parseCheckpointRequest, b);
      return sup.checkpoint(r.checkpointId, r.leaveRunning, r.lazyAt ? { at: r.lazyAt, for: r.lazyFor! } : undefined);
    },
    'POST /restore': async (b, url) => {
      onlyQuery(url);
      const r = parse(parseRestoreRequest, b);
      return sup.restore(r.checkpointId, r.restart, r.held);
    },
    'POST /hook': async (b, url) => (onlyQuery(url), sup.hook(parse(parseHookRequest, b))),
    'POST /decision': async (b, url) => (onlyQuery(url), sup.decide(parse(parseDecisionRequest, b))),
    'POST /stop': async (b, url) => (onlyQuery(url), sup.stop(parse(parseStopRequest, b).graceMs)),
    'POST /open': async (b, url) => {
      onlyQuery(url);
      parse(parseEmptyRequest, b);
      return sup.open();
    },
    'POST /thaw': async (b, url) => {
      onlyQuery(url);
      parse(parseEmptyRequest, b);
      return sup.thaw();
    },
    'POST /shutdown': async (b, url) => {
      onlyQuery(url);
      parse(parseEmptyRequest, b);
      await sup.shutdown();
      setImmediate(onShutdown);
      return { ok: true };
    },
  };
}

export function createApi(sup: Supervisor, token: string, log: Logger, onShutdown: () => void): http.Server {
  return createJsonServer({ token, routes: daemonRoutes(sup, onShutdown), log });
}

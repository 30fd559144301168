// The restart policy, applied by the host agent. A daemon only reports that its service ended on
// its own (the exit record in its status); the agent decides (agent/restart-policy.ts: rules,
// backoff, limit, the decision hook), records the decision with the daemon (so `fastmig status`
// shows it and an agent restarted meanwhile does not decide twice) and carries it out with the
// daemon's start or restore.
//
// How the agent hears of an exit: one long-poll per daemon (GET /wait-exit), answered the moment
// the service ends, or after 25 s without news (then asked again). Chosen over polling every
// daemon's status: a restart begins within milliseconds of the exit, as when the daemon decided on
// its own, and an idle service costs one open unix-socket connection rather than waking its daemon
// at every poll. An exit that happened while no agent listened is answered at once.
import fs from 'fs';
import type { DaemonStatus } from '../common/schemas';
import type { HookResult } from '../common/plain-schemas';
import { imageFolder, listServiceFolders, serviceFolder, type DaemonConfig } from '../common/service-folder';
import { paths } from '../common/config';
import { daemonAt, type DaemonCall } from './daemon-client';
import { decide } from './restart-policy';
import { restoreWithHook } from './hooks';

/** Logs as pino does; tests pass something smaller. */
export interface RestartLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** After a failed request (no daemon yet, or any more; a refused decision), wait this long. */
const RETRY_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** true when the service ended on its own and no decision answers that exit yet. */
export function exitUndecided(st: DaemonStatus): boolean {
  return st.state === 'exited' && !!st.lastExit && st.decisions.at(-1)?.exit.at !== st.lastExit.at;
}

function newest(a: { id: string; at: string } | null, b: { id: string; at: string } | null): { id: string; at: string } | null {
  if (!a || !b) return a ?? b;
  return Date.parse(b.at) > Date.parse(a.at) ? b : a;
}

/** Decides about the last exit of the service in `dir` (status `st`) and carries the decision out. */
export async function applyRestartPolicy(dir: string, host: string, st: DaemonStatus, log: RestartLog, call: DaemonCall = daemonAt(dir)): Promise<void> {
  const folder = serviceFolder(dir);
  const { spec } = JSON.parse(fs.readFileSync(folder.config, 'utf8')) as DaemonConfig;
  // The newest consistent state on this host: its last checkpoint, or the image it was restored
  // from (a migrated service has no checkpoint of its own here yet).
  const ck = newest(st.lastCheckpoint, st.lastRestore);
  const hasCheckpoint = !!ck && fs.existsSync(imageFolder(folder.image(ck.id)).sidecar);
  const d = await decide(spec.restart, st.lastExit!, st.restarts, hasCheckpoint, () => call<HookResult>('POST', '/hook', { hook: 'restart' }));
  await call('POST', '/decision', d);
  log.info({ service: spec.name, decision: d.action, reason: d.reason, delayMs: d.delayMs, restarts: st.restarts }, 'restart policy decided');
  if (d.action === 'standby') return;
  await sleep(d.delayMs);
  // The daemon refuses unless the service is still 'exited' (not stopped, removed or restored meanwhile).
  if (d.action === 'restore') await restoreWithHook(call, spec, host, ck!.id, true);
  else await call('POST', '/start', { restart: true });
}

/** Applies the restart policy to one daemon's exits until its folder is gone or stop() is called. */
export function watchDaemon(dir: string, host: string, log: RestartLog): { stop(): void; ended: Promise<void> } {
  let stopped = false;
  const call = daemonAt(dir);
  const ended = (async () => {
    while (!stopped && fs.existsSync(serviceFolder(dir).config)) {
      const st = await call<DaemonStatus>('GET', '/wait-exit', undefined, 40_000).catch(() => null);
      if (stopped) break;
      if (!st) await sleep(RETRY_MS);
      else if (exitUndecided(st)) {
        await applyRestartPolicy(dir, host, st, log, call).catch(async (err: Error) => {
          log.warn({ service: st.service, err: err.message }, 'restart failed');
          await sleep(RETRY_MS);
        });
      }
    }
  })();
  return { stop: () => void (stopped = true), ended };
}

/** Watches every daemon of this host, each new one as its folder appears. */
export function watchRestarts(host: string, home: string, log: RestartLog): NodeJS.Timeout {
  const watched = new Set<string>();
  const scan = () => {
    for (const dir of listServiceFolders(paths.hostDir(host, home))) {
      if (watched.has(dir)) continue;
      watched.add(dir);
      void watchDaemon(dir, host, log).ended.finally(() => watched.delete(dir));
    }
  };
  scan();
  return setInterval(scan, 2000);
}

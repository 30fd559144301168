// The checkpoint and restore hooks, decided and ordered by the agent around its daemon's dump and
// restore: postCheckpoint after the checkpoint was written, preRestore before CRIU restores (its
// failure aborts the restore). Each runs in the service's environment, by the daemon (daemon/hook.ts).
import type { CheckpointResult, DaemonStatus, RestoreResult, ServiceSpec } from '../common/schemas';
import type { HookResult } from '../common/plain-schemas';
import { DaemonError, type DaemonCall } from './daemon-client';

/** Runs a hook of the spec, if it has one: its time in ms (0 without). A failure is the daemon refusing (409). */
export async function runServiceHook(call: DaemonCall, spec: ServiceSpec, host: string, which: 'postCheckpoint' | 'preRestore', checkpointId: string): Promise<number> {
  if (!spec.hooks[which]) return 0;
  const r = await call<HookResult>('POST', '/hook', { hook: which, checkpointId });
  if (r.exitCode !== 0) {
    const why = (r.stderr || r.stdout || '').trim().split('\n').slice(-2).join(' ');
    throw new DaemonError(409, `${which} hook failed on ${host} with exit code ${r.exitCode}${why ? `: ${why}` : ''}`);
  }
  return r.ms;
}

export async function checkpointWithHook(call: DaemonCall, spec: ServiceSpec, host: string, req: { checkpointId: string; leaveRunning: boolean; lazyAt?: string; lazyFor?: string }): Promise<CheckpointResult> {
  const r = await call<Omit<CheckpointResult, 'hookMs'>>('POST', '/checkpoint', req);
  return { ...r, hookMs: await runServiceHook(call, spec, host, 'postCheckpoint', req.checkpointId) };
}

/** `restart`: the restart policy's restore of a service that ended on its own (counted by the daemon). */
export async function restoreWithHook(call: DaemonCall, spec: ServiceSpec, host: string, checkpointId: string, restart = false, held = false): Promise<RestoreResult> {
  let hookMs = 0;
  if (spec.hooks.preRestore) {
    // A retried restore that already happened is answered by the daemon: its hook does not run twice.
    const st = restart ? null : await call<DaemonStatus>('GET', '/status');
    const done = st?.state === 'running' && st.lastRestore?.id === checkpointId;
    if (!done) hookMs = await runServiceHook(call, spec, host, 'preRestore', checkpointId);
  }
  const r = await call<Omit<RestoreResult, 'hookMs'>>('POST', '/restore', { checkpointId, ...(restart ? { restart } : {}), ...(held ? { held } : {}) });
  return { ...r, hookMs };
}

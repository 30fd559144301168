// The restart policy: after the service ends on its own, choose standby, a start from scratch or a
// restore from the last local checkpoint, by exit code or signal, with a restart limit, backoff and
// an optional decision hook. Pure but for the hook (run by the daemon, in the service's
// environment), so the rules are easy to read and test. Applied by agent/restarts.ts.
import type { ExitRecord, RestartAction, RestartPolicy } from '../common/schemas';
import { RESTART_ACTIONS, type HookResult } from '../common/plain-schemas';

export interface Decision {
  action: RestartAction;
  reason: string;
  delayMs: number;
}

export function decideByRules(policy: RestartPolicy, exit: ExitRecord, restarts: number, hasCheckpoint: boolean): Decision {
  const delayMs = Math.min(policy.backoffMs * 2 ** restarts, 30_000);
  if (restarts >= policy.maxRestarts) {
    return { action: 'standby', reason: `restart limit ${policy.maxRestarts} reached`, delayMs: 0 };
  }
  const i = policy.rules.findIndex(
    (r) =>
      (!r.exitCodes && !r.signals) ||
      (exit.code !== null && r.exitCodes?.includes(exit.code)) ||
      (exit.signal !== null && r.signals?.includes(exit.signal)),
  );
  let action = i >= 0 ? policy.rules[i].action : policy.otherwise;
  let reason = i >= 0 ? `rule ${i + 1} matched ${exit.reason}` : `no rule matched ${exit.reason}: the policy says ${action}`;
  if (action === 'restore' && !hasCheckpoint) {
    action = 'scratch';
    reason += '; no checkpoint on this host, starting from scratch instead';
  }
  return { action, reason, delayMs: action === 'standby' ? 0 : delayMs };
}

/**
 * Asks the policy's hook (`runHook` runs it with the exit in its environment: FASTMIG_EXIT_CODE,
 * FASTMIG_EXIT_SIGNAL, FASTMIG_RESTARTS); falls back to the rules when it fails or answers something else.
 */
export async function decide(policy: RestartPolicy, exit: ExitRecord, restarts: number, hasCheckpoint: boolean, runHook: () => Promise<HookResult>): Promise<Decision> {
  const byRules = decideByRules(policy, exit, restarts, hasCheckpoint);
  if (!policy.hook || byRules.reason.startsWith('restart limit')) return byRules;
  const r = await runHook().catch((err: Error): HookResult => ({ exitCode: null, stdout: '', stderr: err.message, ms: 0 }));
  const answer = RESTART_ACTIONS.find((a) => a === r.stdout.trim());
  if (r.exitCode !== 0 || !answer) {
    return { ...byRules, reason: `the restart hook answered ${JSON.stringify(r.stdout.trim().slice(0, 40))} (exit ${r.exitCode}), not standby/scratch/restore; ${byRules.reason}` };
  }
  if (answer === 'restore' && !hasCheckpoint) return { action: 'scratch', reason: 'the restart hook chose restore, but no checkpoint is on this host', delayMs: byRules.delayMs };
  return { action: answer, reason: `the restart hook chose ${answer} after ${exit.reason}`, delayMs: answer === 'standby' ? 0 : byRules.delayMs };
}

// How the service ended and what was decided about it, as the daemon's status shows them: the
// last exit record, the restart decisions (the agent's, and the daemon's own fencing) and the
// restart count. The agent waits here (a long-poll) for an exit that no decision answers yet.
import type { ExitRecord, RestartDecision } from '../common/schemas';
import { FENCED_DECISION, type DecisionRequest } from '../common/plain-schemas';

const DECISIONS_KEPT = 20;

export class Exits {
  last: ExitRecord | null = null;
  restarts = 0;
  readonly decisions: RestartDecision[] = [];
  private readonly waiters = new Set<() => void>();

  /** The service ended on its own: record it and wake whoever waits. */
  ended(exit: ExitRecord): void {
    this.last = exit;
    this.wakeAll();
  }

  /** true when the last exit has no decision yet (given that the service is still 'exited'). */
  undecided(): boolean {
    return !!this.last && this.decisions.at(-1)?.exit !== this.last;
  }

  /** Resolves on the next exit, or after timeoutMs. */
  next(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** Records a decision about the last exit. */
  decide(d: DecisionRequest): void {
    this.push({ at: new Date().toISOString(), exit: this.last!, ...d });
  }

  /** Fencing: the daemon stopped the service itself; recorded as a decision with its own exit. */
  fenced(ageS: number): void {
    const at = new Date().toISOString();
    const exit = { at, code: null, signal: 'SIGSTOP', reason: `fenced: the host's lease is ${Math.round(ageS)} s old (no grant of the cluster, no majority of peers)` };
    this.push({ at, exit, action: 'standby', reason: FENCED_DECISION, delayMs: 0 });
  }

  private push(d: RestartDecision): void {
    this.decisions.push(d);
    if (this.decisions.length > DECISIONS_KEPT) this.decisions.shift();
  }
}

function signalName(n: number): string {
  const names: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 15: 'SIGTERM' };
  return names[n] ?? `SIG${n}`;
}

/**
 * The exit record of a tree whose init printed `code` (null: it printed nothing, the tree was
 * killed). `memoryLimitMiB` is set when the kernel's OOM killer struck in the service's cgroup.
 */
export function exitRecord(code: number | null, memoryLimitMiB: number | null): ExitRecord {
  const sig = code !== null && code > 128 ? signalName(code - 128) : null;
  const why = code === null ? 'the process tree was killed' : sig ? `killed by ${sig}` : `exited with code ${code}`;
  return {
    at: new Date().toISOString(),
    code: sig ? null : code,
    signal: sig ?? (code === null ? 'SIGKILL' : null),
    reason: memoryLimitMiB ? `memory limit of ${memoryLimitMiB} MiB exceeded: the kernel's OOM killer ended it (${why})` : why,
  };
}

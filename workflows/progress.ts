// What a running migration shows (the `progress` query): the phase it is in and the time spent in
// each phase so far, which the final report carries too.
import { defineQuery } from '@temporalio/workflow';
import type { MigrationProgress, PhaseName } from '../common/schemas';
import type { FetchAndRestoreResult } from '../activities/transfer';

export const progressQuery = defineQuery<MigrationProgress>('progress');

export class Progress {
  readonly state: MigrationProgress;
  readonly started = Date.now();

  constructor(service: string, to: string) {
    this.state = { phase: 'preflight', phases: {}, service, to };
  }

  get phases(): MigrationProgress['phases'] {
    return this.state.phases;
  }

  /** Runs one phase; its time is added to that phase's total, whatever the outcome. */
  async phase<T>(name: PhaseName, step: () => Promise<T>): Promise<T> {
    this.state.phase = name;
    const t0 = Date.now();
    try {
      return await step();
    } finally {
      this.phases[name] = (this.phases[name] ?? 0) + (Date.now() - t0);
    }
  }

  /** Splits the target's one step into the phases it went through (fetch, restore, verify). */
  split(fetchPhase: 'transfer' | 'download', r: FetchAndRestoreResult): void {
    const inner = r.restoreMs + r.verifyMs;
    this.phases[fetchPhase] = Math.max(0, (this.phases[fetchPhase] ?? 0) - inner);
    this.phases.restore = (this.phases.restore ?? 0) + r.restoreMs;
    this.phases.verify = (this.phases.verify ?? 0) + r.verifyMs;
  }

  done(): void {
    this.state.phase = 'done';
  }
}

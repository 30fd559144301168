// A saga: a step that changes something registers how to undo it before it acts (a half-done step
// leaves something too); on a failure, compensate() undoes what was registered, newest first. A
// compensation that fails stops the rest: the caller reports it.
import { ApplicationFailure } from '@temporalio/workflow';
import { messageOf } from './errors';

export type Compensation = () => Promise<unknown>;

export class Saga {
  private readonly undo: Compensation[] = [];

  add(compensation: Compensation): void {
    this.undo.unshift(compensation);
  }

  async compensate(): Promise<void> {
    for (const c of this.undo.splice(0)) await c();
  }
}

/** Rethrows a step's failure in the words a report uses: `<what failed>: <its cause>`. */
export function failed(what: string): (err: unknown) => never {
  return (err) => {
    throw ApplicationFailure.nonRetryable(`${what}: ${messageOf(err)}`, 'MigrationStep');
  };
}

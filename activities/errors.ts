// Turns failures that a retry cannot fix into non-retryable Temporal failures with a clear message.
import { ApplicationFailure } from '@temporalio/activity';
import { DaemonError } from '../agent/daemon-client';

export function asActivityFailure(err: unknown): unknown {
  if (err instanceof DaemonError && err.status < 500) {
    return ApplicationFailure.nonRetryable(err.message, 'DaemonRefused');
  }
  return err;
}

export async function translate<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asActivityFailure(err);
  }
}

// Failure helpers for workflows: clear, non-retryable refusals and readable messages.
import { ApplicationFailure, ActivityFailure, ChildWorkflowFailure } from '@temporalio/workflow';
import type { z } from 'zod';
import { parseOrThrow } from '../common/schemas';

export function refuse(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'BadRequest');
}

/** Input checks in a workflow: the shared parseOrThrow, failing as a non-retryable refusal. */
export function validate<T extends z.ZodTypeAny>(schema: T, value: unknown, what: string): z.infer<T> {
  return parseOrThrow(schema, value, what, (w, problem) => refuse(`invalid ${w}: ${problem}`));
}

/** The innermost message of a failure chain (an activity failure wraps the real cause). */
export function messageOf(err: unknown): string {
  let e: any = err;
  while ((e instanceof ActivityFailure || e instanceof ChildWorkflowFailure) && e.cause) e = e.cause;
  return e?.message ?? String(err);
}

/** The type of the innermost application failure of a chain ('PeerTransfer', 'NoImage', …). */
export function failureType(err: unknown): string | undefined {
  let e: any = err;
  while ((e instanceof ActivityFailure || e instanceof ChildWorkflowFailure) && e.cause) e = e.cause;
  return e instanceof ApplicationFailure ? e.type ?? undefined : undefined;
}

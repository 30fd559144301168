// The parts of the shared schemas that the service daemon needs at run time, without zod: one
// daemon runs per service and must stay small, and zod made it hold about 1.4 MiB more private
// memory (11.7 → 10.4 MiB, 3 s after a restore). Defined here only; schemas/index.ts imports and
// re-exports them, so every other process reaches them there.
import type { ZodError } from 'zod';
import { CHECKPOINT_ID, CHECKPOINT_ID_RULE } from './names';

export const RESTART_ACTIONS = ['standby', 'scratch', 'restore'] as const;

/** The reason of the decision a daemon records when it stops its service because its lease ran out. */
export const FENCED_DECISION = 'lease expired: frozen so that only one instance can serve';

/** Formats a zod error as one line that names the field and what was expected. */
export function describeZodError(err: ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : 'input'}: ${i.message}`).join('; ');
}

// The bodies of the daemon's API. The host agent builds them from validated inputs; the daemon
// still checks each one strictly (unknown fields, types, ranges), as a zod schema would.

export interface CheckpointRequest {
  checkpointId: string;
  leaveRunning: boolean;
  /** Post-copy (a lazy migration): this host's address, where CRIU serves the pages once the rest is written... */
  lazyAt?: string;
  /** ...to the target host at this address, and no one else. */
  lazyFor?: string;
}
export interface RestoreRequest {
  checkpointId: string;
  /** Sent by the agent's restart policy: only a service that ended on its own is restored, and counted. */
  restart: boolean;
  /** A migration's target: its own address takes no traffic until POST /open (the cut-over). */
  held: boolean;
}
export interface StartRequest {
  restart: boolean;
}
export interface StopRequest {
  graceMs: number;
}
export const HOOKS = ['postCheckpoint', 'preRestore', 'restart'] as const;
export interface HookRequest {
  /** One of the spec's hooks (hooks.postCheckpoint, hooks.preRestore, restart.hook); never a command. */
  hook: (typeof HOOKS)[number];
  /** The image the hook is about (FASTMIG_IMAGE_DIR). */
  checkpointId?: string;
}
export interface HookResult {
  /** null when it did not start or was ended (its timeout). */
  exitCode: number | null;
  /** The ends of its output. */
  stdout: string;
  stderr: string;
  ms: number;
}
/** The agent's restart decision, recorded in the daemon's status with the exit it answers. */
export interface DecisionRequest {
  action: (typeof RESTART_ACTIONS)[number];
  reason: string;
  delayMs: number;
}

/** Thrown by the request checks; the message has describeZodError's form ("field: problem"). */
export class RequestError extends Error {}

function fields(body: unknown, allowed: string[]): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new RequestError('input: Expected object');
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  if (extra.length) throw new RequestError(`input: Unrecognized key(s) in object: ${extra.map((k) => `'${k}'`).join(', ')}`);
  return body as Record<string, unknown>;
}

function checkpointId(v: unknown): string {
  if (typeof v !== 'string' || !CHECKPOINT_ID.test(v)) throw new RequestError(`checkpointId: ${CHECKPOINT_ID_RULE}`);
  return v;
}

export function parseCheckpointRequest(body: unknown): CheckpointRequest {
  const b = fields(body, ['checkpointId', 'leaveRunning', 'lazyAt', 'lazyFor']);
  const r: CheckpointRequest = { checkpointId: checkpointId(b.checkpointId), leaveRunning: flag(b, 'leaveRunning') };
  if (b.lazyAt === undefined && b.lazyFor === undefined) return r;
  const address = (name: 'lazyAt' | 'lazyFor', whose: string) => {
    if (typeof b[name] !== 'string' || !IPV4.test(b[name] as string)) throw new RequestError(`${name}: Expected an IPv4 address (${whose})`);
    return b[name] as string;
  };
  const lazy = { lazyAt: address('lazyAt', "this host's"), lazyFor: address('lazyFor', "the target host's") };
  if (r.leaveRunning) throw new RequestError('lazyAt: a post-copy dump cannot leave the service running');
  return { ...r, ...lazy };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function flag(b: Record<string, unknown>, name: string): boolean {
  if (b[name] !== undefined && typeof b[name] !== 'boolean') throw new RequestError(`${name}: Expected boolean`);
  return (b[name] as boolean | undefined) ?? false;
}

export function parseRestoreRequest(body: unknown): RestoreRequest {
  const b = fields(body, ['checkpointId', 'restart', 'held']);
  return { checkpointId: checkpointId(b.checkpointId), restart: flag(b, 'restart'), held: flag(b, 'held') };
}

export function parseStartRequest(body: unknown): StartRequest {
  return { restart: flag(fields(body, ['restart']), 'restart') };
}

export function parseHookRequest(body: unknown): HookRequest {
  const b = fields(body, ['hook', 'checkpointId']);
  const hook = HOOKS.find((h) => h === b.hook);
  if (!hook) throw new RequestError(`hook: must be one of ${HOOKS.join(', ')}`);
  return { hook, ...(b.checkpointId !== undefined ? { checkpointId: checkpointId(b.checkpointId) } : {}) };
}

export function parseDecisionRequest(body: unknown): DecisionRequest {
  const b = fields(body, ['action', 'reason', 'delayMs']);
  const action = RESTART_ACTIONS.find((a) => a === b.action);
  if (!action) throw new RequestError(`action: must be one of ${RESTART_ACTIONS.join(', ')}`);
  if (typeof b.reason !== 'string' || b.reason.length > 1000) throw new RequestError('reason: must be a string of at most 1000 characters');
  if (typeof b.delayMs !== 'number' || !Number.isInteger(b.delayMs) || b.delayMs < 0 || b.delayMs > 60_000) throw new RequestError('delayMs: must be a whole number from 0 to 60000');
  return { action, reason: b.reason, delayMs: b.delayMs };
}

/** A request that takes no fields (POST /shutdown, /thaw, /open; the agent sends {}). */
export function parseEmptyRequest(body: unknown): Record<string, never> {
  fields(body, []);
  return {};
}

export function parseStopRequest(body: unknown): StopRequest {
  const given = fields(body, ['graceMs']).graceMs;
  const g = given === undefined ? 5000 : given;
  if (typeof g !== 'number' || !Number.isInteger(g) || g < 0 || g > 60_000) throw new RequestError('graceMs: must be a whole number of milliseconds from 0 to 60000');
  return { graceMs: g };
}

// Which checkpoints this host agent has finished (or failed) taking, so its image endpoint can hold
// a target's request that arrived before the dump ended and answer it the moment the image is
// complete: the target asks while the source is still dumping, and no Temporal round trip sits
// between the end of the dump and the start of the transfer. In-process only, one agent's memory.
import { EventEmitter } from 'events';

type Outcome = { ok: true } | { ok: false; why: string };

const done = new Map<string, Outcome & { at: number }>();
const events = new EventEmitter();
events.setMaxListeners(0);
const KEEP_MS = 10 * 60_000;

const keyOf = (service: string, checkpointId: string) => `${service}/${checkpointId}`;

/** Called by checkpointService when the dump (and its post-checkpoint hook) ended. */
export function markCheckpoint(service: string, checkpointId: string, outcome: Outcome): void {
  const now = Date.now();
  for (const [k, v] of done) if (now - v.at > KEEP_MS) done.delete(k);
  const k = keyOf(service, checkpointId);
  done.set(k, { ...outcome, at: now });
  events.emit(k, outcome);
}

/** Resolves once the checkpoint is marked, or with `timeout` after `ms`. */
export function checkpointOutcome(service: string, checkpointId: string, ms: number): Promise<Outcome | 'timeout'> {
  const k = keyOf(service, checkpointId);
  const known = done.get(k);
  if (known) return Promise.resolve(known.ok ? { ok: true } : { ok: false, why: known.why });
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      events.off(k, on);
      resolve('timeout');
    }, ms);
    const on = (o: Outcome) => {
      clearTimeout(t);
      resolve(o);
    };
    events.once(k, on);
  });
}

/** Runs a checkpoint and marks its outcome, whichever it is. */
export async function reportCheckpoint<T>(service: string, checkpointId: string, take: () => Promise<T>): Promise<T> {
  try {
    const r = await take();
    markCheckpoint(service, checkpointId, { ok: true });
    return r;
  } catch (err) {
    markCheckpoint(service, checkpointId, { ok: false, why: err instanceof Error ? err.message.split('\n')[0] : String(err) });
    throw err;
  }
}

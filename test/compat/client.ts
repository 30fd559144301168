// Running a server's own client tools from the tests: one command at a time, a bounded loop of
// operations through a move, and waiting until a client can use the server.
import execa from 'execa';
import type { Usage } from './entry';

/** One client command: its stdout, or an error with its stderr (a client that hangs is ended). */
export async function sh(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<string> {
  const r = await execa(cmd, args, { input: opts.input, timeout: opts.timeoutMs ?? 30_000, reject: false, env: opts.env });
  if (r.exitCode !== 0 || r.timedOut) {
    const why = r.timedOut ? 'timed out' : `exit ${r.exitCode}`;
    throw new Error(`${cmd} ${args.slice(0, 6).join(' ')}: ${why}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`);
  }
  return r.stdout;
}

export async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 60_000, every = 250): Promise<T> {
  const end = Date.now() + ms;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${ms / 1000} s${last ? ` (last: ${last})` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** A wrong answer: the client's use stops and the entry fails with it. */
export class Wrong extends Error {}

/** Bounds of every loop of client operations, whatever the move does. */
const MAX_OPS = 4000;
const MAX_MS = 240_000;

/**
 * Runs `op(i)` for i = 1, 2, … one after another until stopped: an operation that resolves is
 * acknowledged; one that fails (refused, timed out) is not, and the next goes on; a `Wrong`
 * answer ends the loop and fails the entry.
 */
export function opLoop(op: (i: number) => Promise<unknown>, pauseMs = 20): Usage & { done: number[] } {
  const acks: number[] = [];
  const done: number[] = [];
  let stopped = false;
  let wrong: Error | null = null;
  const began = Date.now();
  const loop = (async () => {
    for (let i = 1; !stopped && i <= MAX_OPS && Date.now() - began < MAX_MS; i++) {
      try {
        await op(i);
        acks.push(Date.now());
        done.push(i);
      } catch (err) {
        if (err instanceof Wrong) {
          wrong = err;
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  })();
  return {
    acks,
    done,
    async stop() {
      stopped = true;
      await loop;
      if (wrong) throw wrong;
    },
  };
}

/** The longest time the client went without an acknowledged operation around the move [from, to]. */
export function clientGap(acks: number[], from: number, to: number): number | null {
  const before = acks.filter((t) => t <= from);
  const after = acks.filter((t) => t >= to);
  if (!before.length || !after.length) return null;
  const around = acks.filter((t) => t >= before[before.length - 1] && t <= after[0]).sort((a, b) => a - b);
  let gap = 0;
  for (let i = 1; i < around.length; i++) gap = Math.max(gap, around[i] - around[i - 1]);
  return gap;
}

/**
 * A client that keeps one connection and prints a line per answer (`redis-cli -r`,
 * `mosquitto_sub`): `onLine` checks each line (throwing `Wrong` for a wrong one) and says whether
 * it acknowledges an operation. The process is ended by stop() or when it has printed `maxLines`.
 */
export function streamUse(cmd: string, args: string[], onLine: (line: string) => boolean): Usage & { lines: string[] } {
  const acks: number[] = [];
  const lines: string[] = [];
  let wrong: Error | null = null;
  const p = execa(cmd, args, { reject: false, timeout: MAX_MS, buffer: false });
  let rest = '';
  p.stdout!.on('data', (d: Buffer) => {
    rest += d.toString();
    const parts = rest.split('\n');
    rest = parts.pop()!;
    for (const l of parts) {
      if (wrong) return;
      lines.push(l);
      try {
        if (onLine(l)) acks.push(Date.now());
      } catch (err) {
        wrong = err as Error;
        p.kill();
      }
    }
  });
  let stderr = '';
  p.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  return {
    acks,
    lines,
    async stop() {
      p.kill();
      await p;
      if (wrong) throw wrong;
      if (!acks.length) throw new Error(`${cmd} acknowledged nothing: ${stderr.trim().slice(0, 300)}`);
    },
  };
}

// Every attack a security test tries is recorded here under its own name, and every fuzzer records
// its totals apart: `npm run test:security` sums them up (scripts/security-summary.js), counting
// distinct attacks on one line and the fuzzing on its own.
import fs from 'fs';
import path from 'path';
import { fastmigHome } from '../../common/config';
import { existing, targetProblem, workflowsStartedSince, type Target } from './afterwards';

export const ATTEMPTS_FILE = path.join(fastmigHome(), 'security-attempts.jsonl');

function append(row: object): void {
  fs.mkdirSync(path.dirname(ATTEMPTS_FILE), { recursive: true });
  fs.appendFileSync(ATTEMPTS_FILE, JSON.stringify(row) + '\n');
}

/** What an attack checks after it was refused, beyond the workflows every attack checks. */
export interface Afterwards {
  /** Services the attack aimed at: still on their host, same process, answering, no migration queued. */
  targets?: Target[];
  /** Paths the attack aimed at (traversal targets): absent before, and still absent after. */
  aimedAt?: string[];
  /** Ids of workflows the attack itself starts (a workflow given bad input, say); any other is a problem. */
  workflows?: RegExp;
  /** Further state to check: a problem, or null. */
  check?: () => Promise<string | null>;
}

/** Lets a workflow that a slipped request would start reach Temporal's visibility before it is listed. */
const SETTLE_MS = 300;
const named = new Set<string>();

/**
 * Runs one attack; `run` answers true when the attack was refused the way it should be (false, or
 * a string saying how not). Then the state is checked (Afterwards). Records the attack under its
 * name, which must be its own: the tally counts distinct attacks.
 */
export async function tryBadInput(name: string, run: () => Promise<boolean | string>, after: Afterwards = {}): Promise<boolean> {
  if (named.has(name)) throw new Error(`attack "${name}" is tried twice: each attack has its own name`);
  named.add(name);
  const already = existing(after.aimedAt ?? []);
  if (already.length) throw new Error(`attack "${name}" aims at ${already.join(', ')}, which exists already: the check would prove nothing`);
  const since = new Date();
  const problems: string[] = [];
  try {
    const refused = await run();
    if (refused !== true) problems.push(refused === false ? 'not refused as expected' : refused);
  } catch (err) {
    problems.push(`threw ${err instanceof Error ? err.message : String(err)}`);
  }
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const started = await workflowsStartedSince(since, after.workflows);
  if (started.length) problems.push(`workflows started: ${started.join(', ')}`);
  for (const t of after.targets ?? []) {
    const p = await targetProblem(t);
    if (p) problems.push(p);
  }
  const written = existing(after.aimedAt ?? []);
  if (written.length) problems.push(`written: ${written.join(', ')}`);
  const extra = await after.check?.();
  if (extra) problems.push(extra);
  append({ kind: 'attack', name, rejected: problems.length === 0, ...(problems.length ? { problems } : {}) });
  return problems.length === 0;
}

/** One fuzzer's totals: requests sent, the API's route×method pairs and those whose own checks answered. */
export interface FuzzTotals {
  surface: string;
  requests: number;
  /** Every route×method pair of the API ("GET /status"). */
  pairs: string[];
  /** Pairs that answered a fuzzed request with their handler's own validation error. */
  reached: string[];
  /** Requests answered with a 5xx, a non-JSON error, or not at all; or the server not answering after. */
  crashes: string[];
  /** Fuzzed (invalid) requests that were not refused. */
  accepted: string[];
  /** How many answers of each HTTP status. */
  statuses: Record<string, number>;
}

export function recordFuzz(t: FuzzTotals): void {
  append({ kind: 'fuzz', ...t });
}

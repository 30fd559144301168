// Fault injection for the fault-matrix tests (`npm run test:faults`). Off unless the environment
// variable FASTMIG_FAULTS_FILE names a file; only the tests set it when they start a host agent,
// and no CLI flag, API field or workflow input reaches it.
//
// The file maps fault points to what happens there:
//   { "upload": { "action": "pause", "match": "^g" }, "restore": { "action": "fail", "times": 2 } }
// pause: the step writes `<file>.<point>.reached` and waits until the test deletes it (at most
//        two minutes), so the test can kill, stop or corrupt something at exactly that moment;
// fail:  the step throws, `times` times (default: every time).
// match: a regular expression the step's subject must match (the checkpoint id for checkpoint,
//        pull (the image arriving from the source host), upload, download and restore: migrations' start with "g", periodic ones with "p"; the
//        service for prepare; the port for verify).
// An entry is used up when it fires (a pause once, a fail after `times`), so retries run normally.
import fs from 'fs';
import { heartbeat } from '@temporalio/activity';

export const FAULT_POINTS = ['prepare', 'checkpoint', 'pull', 'upload', 'download', 'restore', 'verify'] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

interface FaultEntry {
  action: 'pause' | 'fail';
  times?: number;
  match?: string;
}

const PAUSE_LIMIT_MS = 120_000;

export function faultsFile(): string | null {
  return process.env.FASTMIG_FAULTS_FILE || null;
}

export function reachedMarker(file: string, point: FaultPoint): string {
  return `${file}.${point}.reached`;
}

function readEntries(file: string): Record<string, FaultEntry> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, FaultEntry>;
  } catch {
    return {};
  }
}

function writeEntries(file: string, entries: Record<string, FaultEntry>): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(entries));
  fs.renameSync(tmp, file);
}

/** Called at the start of a host step; does nothing unless a test armed this point. */
export async function faultPoint(point: FaultPoint, subject: string): Promise<void> {
  const file = faultsFile();
  if (!file) return;
  const entries = readEntries(file);
  const entry = entries[point];
  if (!entry || (entry.match && !new RegExp(entry.match).test(subject))) return;
  if (entry.action === 'fail') {
    const left = (entry.times ?? Infinity) - 1;
    if (left <= 0) delete entries[point];
    else entries[point] = { ...entry, times: left };
    writeEntries(file, entries);
    throw new Error(`injected fault: ${point} fails`);
  }
  delete entries[point];
  writeEntries(file, entries);
  const marker = reachedMarker(file, point);
  fs.writeFileSync(marker, String(process.pid));
  const deadline = Date.now() + PAUSE_LIMIT_MS;
  while (fs.existsSync(marker) && Date.now() < deadline) {
    heartbeat();
    await new Promise((r) => setTimeout(r, 20));
  }
  fs.rmSync(marker, { force: true });
}

// The shape of a benchmark run's results, shared by the runner (main.ts) and the report.
import type { CompressionFigures } from './compression';
import type { CriuRun } from './criu-level';
import type { DaemonCost, MigRun } from './stack-runs';
import { spread, type Spread } from './stats';

export const MODES = ['floor', 'warm', 'cold', 'lazy', 'restart'] as const;
export type Mode = (typeof MODES)[number];
/** Warm and cold migrations of the same service run as a container (docker runtime). */
export const DOCKER_MODES = ['warmDocker', 'coldDocker'] as const;
/** lazyCriu: post-copy with CRIU alone on bare processes (the lazy row is fastmig's lazy mode). */
export type Row = Mode | 'direct' | 'warmKept' | 'lazyCriu' | (typeof DOCKER_MODES)[number];
export type Figures = {
  downtimeMs: Spread;
  freezeToResumeMs: Spread;
  totalMs: Spread;
  restoreMs?: Spread;
  pagesDoneMs?: Spread;
  /** fastmig lazy: how long the target served before its last page was across. */
  servedWindowMs?: Spread;
  /** Temporal runs: median milliseconds of each workflow phase. */
  phases?: Record<string, number>;
  /** Temporal runs: the image's bytes over its transfer phase (MB/s), and fastmig's CPU seconds per migration. */
  transferMBps?: Spread;
  cpuSeconds?: Spread;
};

/** Rows measured on a shaped link: the stack's hosts' links limited to one rate (`--link`). */
export type ShapedRow = 'warm' | 'lazy' | 'lazyCriu';
export interface Shaped {
  /** As tc writes it, e.g. 100mbit. */
  rate: string;
  sizeMiB: number;
  rows: Partial<Record<ShapedRow, Figures>>;
}

export interface Results {
  quick: boolean;
  runs: number;
  startedAt: string;
  cpus: number;
  sizes: Record<string, Partial<Record<Row, Figures>>>;
  procs: Record<string, { restoreMs: Spread; downtimeMs: Spread }>;
  daemon?: DaemonCost;
  throughput?: { bare: Spread; daemon: Spread; seconds: number };
  concurrency?: { one: Spread; allMs: number; count: number };
  /** Per size: the codecs measured on the service's CRIU image, and what the transfer's auto mode picks. */
  compression: Record<string, CompressionFigures>;
  /** With --link: migrations of one size with the hosts' links shaped. */
  shaped?: Shaped;
  ratios: Record<string, number | null>;
  notes: string[];
}

/** Medians and spreads of a series of runs of one row. */
export function figures(runs: (MigRun | CriuRun)[]): Figures {
  const pick = (k: string) => spread(runs.map((r) => (r as any)[k]).filter((x) => typeof x === 'number'));
  const f: Figures = { downtimeMs: pick('downtimeMs'), freezeToResumeMs: pick('freezeToResumeMs'), totalMs: pick('totalMs') };
  if (runs.some((r) => r.restoreMs !== undefined)) f.restoreMs = pick('restoreMs');
  if (runs.some((r) => (r as CriuRun).pagesDoneMs !== undefined)) f.pagesDoneMs = pick('pagesDoneMs');
  if (runs.some((r) => (r as MigRun).servedWindowMs !== undefined)) f.servedWindowMs = pick('servedWindowMs');
  const moved = (runs as MigRun[]).filter((r) => r.imageBytes && r.phases?.transfer);
  if (moved.length) f.transferMBps = spread(moved.map((r) => r.imageBytes! / 1e6 / (r.phases!.transfer / 1000)));
  if (runs.some((r) => (r as MigRun).cpuSeconds !== undefined)) f.cpuSeconds = pick('cpuSeconds');
  const phased = runs.map((r) => (r as MigRun).phases).filter((p): p is Record<string, number> => !!p);
  if (phased.length) {
    f.phases = Object.fromEntries(Object.keys(phased[0]).map((k) => [k, spread(phased.map((p) => p[k] ?? 0)).median]));
  }
  return f;
}

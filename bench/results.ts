// The shape of a benchmark run's results, shared by the runner (main.ts) and the report.
import type { CompressionFigures } from './compression';
import type { DaemonCost } from './stack-runs';
import type { Spread } from './stats';

export const MODES = ['floor', 'warm', 'cold', 'lazy', 'restart'] as const;
export type Mode = (typeof MODES)[number];
/** Warm and cold migrations of the same service run as a container (docker runtime). */
export const DOCKER_MODES = ['warmDocker', 'coldDocker'] as const;
export type Row = Mode | 'direct' | (typeof DOCKER_MODES)[number];
export type Figures = {
  downtimeMs: Spread;
  freezeToResumeMs: Spread;
  totalMs: Spread;
  restoreMs?: Spread;
  pagesDoneMs?: Spread;
  /** Temporal runs: median milliseconds of each workflow phase. */
  phases?: Record<string, number>;
};

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
  ratios: Record<string, number | null>;
  notes: string[];
}

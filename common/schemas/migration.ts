// A migration: what a caller asks for, its phases, its progress and its report.
import { z } from 'zod';
import { HostName, ServiceName } from './names';
import { ServiceSpec } from './service';

/** warm: the target prepared before the freeze; cold: after it; lazy: post-copy, the target runs before its memory pages are across. */
export const MigrationMode = z.enum(['warm', 'cold', 'lazy']);
export type MigrationMode = z.infer<typeof MigrationMode>;

/**
 * What a lazy migration does when the transfer fails after its target has served clients: resume
 * the source (what the target accepted since the freeze is lost) or stop (neither copy runs; the
 * source's copy is held, frozen as it was at the freeze, until `fastmig resume`).
 */
export const LazyFailure = z.enum(['resume-source', 'stop']);
export type LazyFailure = z.infer<typeof LazyFailure>;

/** The failure choice belongs to a lazy migration: every migration request is checked so (`.refine(lazyChoiceFits, LAZY_CHOICE_ISSUE)`). */
export const lazyChoiceFits = (i: { mode: MigrationMode; onLazyFailure?: LazyFailure }) => i.onLazyFailure === undefined || i.mode === 'lazy';
export const LAZY_CHOICE_ISSUE = { message: 'onLazyFailure applies to mode lazy only', path: ['onLazyFailure'] };

export const MigrateInput = z
  .object({
    service: ServiceName,
    to: HostName,
    mode: MigrationMode.default('warm'),
    onLazyFailure: LazyFailure.optional(),
  })
  .strict()
  .refine(lazyChoiceFits, LAZY_CHOICE_ISSUE);
export type MigrateInput = z.infer<typeof MigrateInput>;
/** As callers may give it (the mode defaults to warm). */
export type MigrateInputRaw = z.input<typeof MigrateInput>;

export const DeployInput = z.object({ spec: ServiceSpec, host: HostName }).strict();
export type DeployInput = z.infer<typeof DeployInput>;
/** What a caller passes: defaults may be left out. */
export type DeployRequest = z.input<typeof DeployInput>;

export const ServiceRef = z.object({ service: ServiceName }).strict();
export type ServiceRef = z.infer<typeof ServiceRef>;

export const PhaseName = z.enum([
  'preflight',
  'prepareTarget',
  'checkpoint',
  'transfer',
  'upload',
  'download',
  'restore',
  'verify',
  'cutover',
  'pages',
  'cleanup',
  'rollback',
]);
export type PhaseName = z.infer<typeof PhaseName>;

export interface MigrationReport {
  ok: boolean;
  /** refused: nothing was done (bad request); failed: the service kept running where it was. */
  outcome: 'migrated' | 'rolled-back' | 'failed' | 'refused';
  service: string;
  from: string;
  to: string;
  mode: MigrationMode;
  workflowId: string;
  checkpointId?: string;
  /** Freeze on the source until the target answered its health check. */
  downtimeMs: number;
  totalMs: number;
  imageBytes: number;
  phases: Partial<Record<PhaseName, number>>;
  error?: string;
  /** Things that went wrong without stopping the migration (e.g. the S3 copy of its image). */
  warnings?: string[];
  /** A lazy migration: how its pages went (absent for the other modes). */
  lazy?: LazyReport;
}

export interface LazyReport {
  onFailure: LazyFailure;
  /** From the freeze until the last page was on the target (absent when it never was). */
  pagesAcrossMs?: number;
  /** The target took its clients' traffic before the last page was across. */
  targetServed: boolean;
  /** How long it served so, with the source as the only full copy: what a failure then would have discarded, or did. */
  servedWindowMs?: number;
}

export interface MigrationProgress {
  phase: PhaseName | 'done';
  phases: Partial<Record<PhaseName, number>>;
  service: string;
  from?: string;
  to: string;
  /** Once the target is prepared: `address:port` where it will answer. */
  targetEndpoint?: string;
}

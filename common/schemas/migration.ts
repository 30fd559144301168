// A migration: what a caller asks for, its phases, its progress and its report.
import { z } from 'zod';
import { HostName, ServiceName } from './names';
import { ServiceSpec } from './service';

export const MigrationMode = z.enum(['warm', 'cold']);
export type MigrationMode = z.infer<typeof MigrationMode>;

export const MigrateInput = z
  .object({
    service: ServiceName,
    to: HostName,
    mode: MigrationMode.default('warm'),
  })
  .strict();
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

// The one home of fastmig's data shapes: every process (CLI, workflows, host agents, daemons)
// imports these schemas and types; none redefines them.
import { z } from 'zod';

/** Service names end up in paths, S3 keys and workflow ids, so they use a safe alphabet. */
export const ServiceName = z
  .string()
  .regex(
    /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/,
    'a service name is 1-40 characters of a-z, 0-9 and "-", starting and ending with a letter or digit',
  );

export const HostName = z
  .string()
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/,
    'a host name is 1-32 characters of A-Z, a-z, 0-9 and "-", starting and ending with a letter or digit',
  );

export const Port = z.number().int().min(1).max(65535);

export const Hooks = z
  .object({
    /** Runs on the source host after a checkpoint was written (e.g. notify, flush). */
    postCheckpoint: z.string().min(1).optional(),
    /** Runs on the restoring host before CRIU restores; a non-zero exit aborts the restore. */
    preRestore: z.string().min(1).optional(),
  })
  .strict();

export const ServiceSpec = z
  .object({
    name: ServiceName,
    runtime: z.literal('process').default('process'),
    command: z.array(z.string().min(1)).min(1, 'the command must not be empty'),
    cwd: z.string().startsWith('/', 'cwd must be an absolute path').default('/'),
    env: z.record(z.string()).default({}),
    /** TCP port on 127.0.0.1 that answers when the service is healthy. */
    port: Port.optional(),
    hooks: Hooks.default({}),
  })
  .strict();
export type ServiceSpec = z.infer<typeof ServiceSpec>;
export type ServiceSpecInput = z.input<typeof ServiceSpec>;

/** Where a service runs now: the durable record kept in the image store. */
export const Placement = z
  .object({
    spec: ServiceSpec,
    host: HostName,
    /** Bumped on every move so a stale instance can be recognised. */
    generation: z.number().int().min(1),
    updatedAt: z.string(),
    lastCheckpoint: z.string().optional(),
  })
  .strict();
export type Placement = z.infer<typeof Placement>;

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

export const DeployInput = z.object({ spec: ServiceSpec, host: HostName }).strict();
export type DeployInput = z.infer<typeof DeployInput>;

export const ServiceRef = z.object({ service: ServiceName }).strict();
export type ServiceRef = z.infer<typeof ServiceRef>;

export const PhaseName = z.enum([
  'preflight',
  'prepareTarget',
  'checkpoint',
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
  outcome: 'migrated' | 'rolled-back' | 'failed';
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
}

export interface MigrationProgress {
  phase: PhaseName | 'done';
  phases: Partial<Record<PhaseName, number>>;
  service: string;
  from?: string;
  to: string;
}

/** Daemon-side view of a service. */
export const ServiceState = z.enum([
  'standby',
  'starting',
  'running',
  'checkpointing',
  'checkpointed',
  'restoring',
  'stopping',
  'exited',
]);
export type ServiceState = z.infer<typeof ServiceState>;

export interface ExitRecord {
  at: string;
  code: number | null;
  signal: string | null;
  reason: string;
}

export interface DaemonStatus {
  service: string;
  host: string;
  state: ServiceState;
  pid: number | null;
  daemonPid: number;
  startedAt: string | null;
  lastCheckpoint: { id: string; at: string; bytes: number; dumpMs: number } | null;
  lastRestore: { id: string; at: string; restoreMs: number } | null;
  lastExit: ExitRecord | null;
  restarts: number;
}

export interface CheckpointResult {
  checkpointId: string;
  /** Epoch ms when the service was frozen (CRIU started). */
  frozenAt: number;
  dumpMs: number;
  hookMs: number;
  bytes: number;
  leftRunning: boolean;
}

export interface RestoreResult {
  checkpointId: string;
  restoreMs: number;
  hookMs: number;
  pid: number;
}

export const CheckpointRequest = z
  .object({ checkpointId: z.string().regex(/^[A-Za-z0-9-]{1,64}$/), leaveRunning: z.boolean().default(false) })
  .strict();
export const RestoreRequest = z.object({ checkpointId: z.string().regex(/^[A-Za-z0-9-]{1,64}$/) }).strict();
export const StopRequest = z.object({ graceMs: z.number().int().min(0).max(60_000).default(5000) }).strict();

/** One file of a checkpoint image, as recorded in the manifest. */
export interface ManifestFile {
  name: string;
  size: number;
  /** Written by older versions only; the archive's sha256 covers every file. */
  sha256?: string;
}

export interface ImageManifest {
  format: 'fastmig-image/1';
  service: string;
  checkpointId: string;
  sourceHost: string;
  createdAt: string;
  /** none by default (gzip costs far more CPU time than it saves on a fast link); gzip on request. */
  compression: 'gzip' | 'none';
  files: ManifestFile[];
  /** Sum of file sizes before packing. */
  rawBytes: number;
  archive: { key: string; bytes: number; sha256: string };
}

export interface HostRecord {
  host: string;
  taskQueue: string;
  pid: number;
  startedAt: string;
}

/** Formats a zod error as one line that names the field and what was expected. */
export function describeZodError(err: z.ZodError): string {
  return err.issues
    .map((i) => `${i.path.length ? i.path.join('.') : 'input'}: ${i.message}`)
    .join('; ');
}

/** Parses or throws an Error whose message says what is wrong; never a stack of zod internals. */
export function parseOrThrow<T extends z.ZodTypeAny>(schema: T, value: unknown, what: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw new Error(`invalid ${what}: ${describeZodError(r.error)}`);
  return r.data;
}

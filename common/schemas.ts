// The one home of fastmig's data shapes: every process (CLI, workflows, host agents, daemons)
// imports these schemas and types; none redefines them.
import { z } from 'zod';
import { RESTART_ACTIONS, describeZodError } from './plain-schemas';

// What the daemon uses at run time lives in plain-schemas.ts (no zod there); reached from here too.
export {
  RESTART_ACTIONS,
  describeZodError,
  RequestError,
  parseCheckpointRequest,
  parseRestoreRequest,
  parseStopRequest,
  type CheckpointRequest,
  type RestoreRequest,
  type StopRequest,
} from './plain-schemas';

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

export const ScheduleName = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'a schedule name is 1-64 characters of a-z, 0-9 and "-"');

export const Port = z.number().int().min(1).max(65535);

export const Hooks = z
  .object({
    /** Runs on the source host after a checkpoint was written (e.g. notify, flush). */
    postCheckpoint: z.string().min(1).optional(),
    /** Runs on the restoring host before CRIU restores; a non-zero exit aborts the restore. */
    preRestore: z.string().min(1).optional(),
  })
  .strict();

export const Runtime = z.enum(['process', 'docker']);
export type Runtime = z.infer<typeof Runtime>;

/** A local image reference as Docker spells it (name[:tag] or an id); no registry is ever contacted. */
export const ImageRef = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._\/-]{0,127}(?::[A-Za-z0-9._-]{1,128})?$/, 'an image is name[:tag] of a-z, 0-9, ".", "_", "/", "-"');

export const RestartAction = z.enum(RESTART_ACTIONS);
export type RestartAction = z.infer<typeof RestartAction>;

/** A rule matches an exit by code or by signal; a rule with neither matches every exit. */
export const RestartRule = z
  .object({
    exitCodes: z.array(z.number().int().min(0).max(255)).optional(),
    signals: z.array(z.string().regex(/^SIG[A-Z0-9]{2,8}$/, 'signals are named like SIGTERM')).optional(),
    action: RestartAction,
  })
  .strict();

/** What the host agent does when the service ends on its own (not stopped, not checkpointed). */
export const RestartPolicy = z
  .object({
    rules: z.array(RestartRule).max(32).default([]),
    /** The action when no rule matches. */
    otherwise: RestartAction.default('standby'),
    maxRestarts: z.number().int().min(0).max(1000).default(5),
    /** Delay before the n-th restart: backoffMs × 2^(n-1), at most 30 s. */
    backoffMs: z.number().int().min(0).max(60_000).default(500),
    /** Optional command that prints the action (standby, scratch or restore); wins over the rules. */
    hook: z.string().min(1).optional(),
  })
  .strict();
export type RestartPolicy = z.infer<typeof RestartPolicy>;

export const ServiceSpec = z
  .object({
    name: ServiceName,
    /** process: a process tree on the host; docker: a container of `image` on the host's engine. */
    runtime: Runtime.default('process'),
    image: ImageRef.optional(),
    /** Empty for docker means the image's own Entrypoint + Cmd. */
    command: z.array(z.string().min(1)).default([]),
    /** Absent: "/" for a process, the image's WorkingDir for a container. */
    cwd: z.string().startsWith('/', 'cwd must be an absolute path').optional(),
    env: z.record(z.string()).default({}),
    /** TCP port that answers when the service is healthy: on 127.0.0.1 for a process, inside the container for docker. */
    port: Port.optional(),
    hooks: Hooks.default({}),
    /** Encrypt this service's images at rest (AES-256-GCM with the cluster's image key). */
    encryptImages: z.boolean().default(false),
    restart: RestartPolicy.default({}),
    /** The kernel ends the service (a memory cgroup, or the engine's for a container; no swap) when its memory exceeds this; the restart policy then decides. */
    memoryLimitMiB: z.number().int().min(8).max(1_048_576).optional(),
    /** Periodic checkpoints taken while the service keeps running, the newest `keep` kept in S3. */
    checkpoint: z
      .object({ everySeconds: z.number().int().min(5).max(86_400), keep: z.number().int().min(1).max(100).default(3) })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.runtime === 'process' && !s.command.length) ctx.addIssue({ code: 'custom', path: ['command'], message: 'the command must not be empty' });
    if (s.runtime === 'process' && s.image) ctx.addIssue({ code: 'custom', path: ['image'], message: 'an image needs --runtime docker' });
    if (s.runtime === 'docker' && !s.image) ctx.addIssue({ code: 'custom', path: ['image'], message: 'the docker runtime needs an image (--image <name>)' });
  });
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
    /** docker: the port on 127.0.0.1 of the host that the engine publishes `spec.port` on. */
    hostPort: Port.optional(),
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
  /** Once the target is prepared: the port on 127.0.0.1 where it will answer. */
  targetPort?: number;
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

export interface RestartDecision {
  at: string;
  exit: ExitRecord;
  action: RestartAction;
  reason: string;
  delayMs: number;
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
  /** The restart policy's recent decisions, newest last. */
  decisions: RestartDecision[];
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

// The bodies of the daemon's API (CheckpointRequest, RestoreRequest, StopRequest, HookRequest, ...): plain-schemas.ts.

/** What preparing a service on a host gives back: its daemon's status and where it answers. */
export interface PreparedService extends DaemonStatus {
  /** docker: the published port on 127.0.0.1; null for a process (it answers on spec.port). */
  hostPort: number | null;
}

/** An image that one host's container engine holds. */
export interface HostImage {
  host: string;
  name: string;
  id: string;
  sizeBytes: number;
}

export const ImageTransfer = z
  .object({
    /** import: a root file system tar becomes image `name`; load: a `docker save` archive. */
    kind: z.enum(['import', 'load']),
    name: ImageRef.optional(),
    /** Dockerfile instructions applied by an import (e.g. `CMD ["sh"]`), as `docker import --change`. */
    changes: z
      .array(z.string().regex(/^(CMD|ENTRYPOINT|ENV|WORKDIR|EXPOSE|LABEL) \S/, 'a change is one of CMD, ENTRYPOINT, ENV, WORKDIR, EXPOSE, LABEL followed by its value'))
      .default([]),
    /** Key of the uploaded file in the image store. */
    key: z.string().regex(/^uploads\/[A-Za-z0-9._-]{1,128}$/),
  })
  .strict();
export type ImageTransfer = z.infer<typeof ImageTransfer>;

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
  /** Set when the archive is encrypted at rest; the tag authenticates the ciphertext. */
  encryption: { alg: 'aes-256-gcm'; iv: string; tag: string } | null;
  /** HMAC-SHA256 over the canonical JSON of every other field, with the cluster key. */
  signature: string;
}

export interface HostRecord {
  host: string;
  taskQueue: string;
  pid: number;
  startedAt: string;
  /** The agent's image endpoint for other agents (workers/image-peer.ts); absent: images go through S3 only. */
  peerUrl?: string;
}

/** Parses or throws an Error whose message says what is wrong; never a stack of zod internals. */
export function parseOrThrow<T extends z.ZodTypeAny>(schema: T, value: unknown, what: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw new Error(`invalid ${what}: ${describeZodError(r.error)}`);
  return r.data;
}

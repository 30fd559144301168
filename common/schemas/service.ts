// A service: its spec as deployed, where it runs (the registry's records), and the daemon's view of it.
import { z } from 'zod';
import { RESTART_ACTIONS } from '../plain-schemas';
import { CheckpointId, HostName, ImageRef, KeptDir, Port, Runtime, ServiceName, VolumeMount } from './names';

export const Hooks = z
  .object({
    /** Runs on the source host after a checkpoint was written (e.g. notify, flush). */
    postCheckpoint: z.string().min(1).optional(),
    /** Runs on the restoring host before CRIU restores; a non-zero exit aborts the restore. */
    preRestore: z.string().min(1).optional(),
  })
  .strict();

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
    /** argv exactly as given (empty strings, spaces, quotes, any script); only the program may not be empty. */
    command: z
      .array(z.string().refine((a) => !a.includes('\0'), 'an argument cannot contain a NUL byte (no program can receive one)'))
      .refine((c) => c.length === 0 || c[0].length > 0, 'the program (the first word of the command) cannot be empty')
      .default([]),
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
    /**
     * Directories the service writes (process runtime, `--keep`): copied at the freeze, consistent
     * with the memory image, carried inside the image and laid down before CRIU restores.
     */
    keep: z.array(KeptDir).max(16).default([]),
    /**
     * Named volumes of the engine mounted into the container (docker runtime, `--volume name:/path`):
     * their contents travel with every checkpoint like the container's own changes.
     */
    volumes: z.array(VolumeMount).max(16).default([]),
    /**
     * The account the service runs as (absent: root for a process, the image's USER for a
     * container). A process's must exist on every host it runs on; a container's in its image,
     * where a uid and `:group` or `:gid` may be given too, as for an image's USER.
     */
    user: z
      .string()
      .regex(/^([A-Za-z_][A-Za-z0-9_.-]{0,31}|\d{1,10})(:([A-Za-z_][A-Za-z0-9_.-]{0,31}|\d{1,10}))?$/, 'a user is an account name like postgres or nobody (a container\'s may be a uid, and name its group after ":")')
      .optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.runtime !== 'process' && s.keep.length) ctx.addIssue({ code: 'custom', path: ['keep'], message: '--keep is for the process runtime' });
    s.keep.forEach((d, i) => {
      const other = s.keep.find((e, j) => j !== i && (e === d || d.startsWith(`${e}/`)));
      if (other) ctx.addIssue({ code: 'custom', path: ['keep', i], message: `${d} is kept already (as ${other})` });
    });
    if (s.runtime !== 'docker' && s.volumes.length) ctx.addIssue({ code: 'custom', path: ['volumes'], message: '--volume is for the docker runtime' });
    s.volumes.forEach((v, i) => {
      const other = s.volumes.find((e, j) => j < i && (e.name === v.name || e.path === v.path || v.path.startsWith(`${e.path}/`) || e.path.startsWith(`${v.path}/`)));
      if (other) ctx.addIssue({ code: 'custom', path: ['volumes', i], message: `${v.name}:${v.path} overlaps ${other.name}:${other.path} (each volume once, at a path of its own)` });
    });
    if (s.runtime === 'process' && !s.command.length) ctx.addIssue({ code: 'custom', path: ['command'], message: 'the command must not be empty' });
    if (s.runtime === 'process' && s.user && !/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(s.user)) ctx.addIssue({ code: 'custom', path: ['user'], message: 'a process runs as an account name like postgres or nobody' });
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
    lastCheckpoint: CheckpointId.optional(),
    /** docker: the port on the host's address that the engine publishes `spec.port` on. */
    hostPort: Port.optional(),
    /** The host's own address (absent in records older than it). */
    address: z.string().ip().optional(),
    /** The service's own address (process services, when the cluster has a block of them): it moves with the service, clients reach it there. */
    serviceAddress: z.string().ip().optional(),
    /** Set by a migration's cut-over: the source copy, which may still be storing its image (its agent waits for it before removing it). */
    migratedFrom: z.object({ host: HostName, generation: z.number().int().min(1) }).strict().optional(),
  })
  .strict();
export type Placement = z.infer<typeof Placement>;

/** Daemon-side view of a service. */
/** fenced: its host's lease ran out; the tree is frozen (SIGSTOP) until its agent thaws it (still its copy) or removes it (failed over). */
export const ServiceState = z.enum(['standby', 'starting', 'running', 'checkpointing', 'checkpointed', 'restoring', 'stopping', 'exited', 'fenced']);
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
  /** A migration's restored target whose address takes no traffic until its cut-over (POST /open). */
  held?: boolean;
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
  /** docker: the port published on the host's address; null for a process (it answers on spec.port). */
  hostPort: number | null;
  /** The host's own address (its agent's `--address`), where clients reach the service. */
  address: string;
}

export interface HostRecord {
  host: string;
  taskQueue: string;
  pid: number;
  startedAt: string;
  /** The host's own address: its services answer there (absent in records older than it). */
  address?: string;
  /** The agent's image endpoint for other agents (image/peer-server.ts); absent: images go through S3 only. */
  peerUrl?: string;
}

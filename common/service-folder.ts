// The one module that knows the layout of a service folder (`hosts/<host>/<service>/`) and of a
// checkpoint image folder inside it: the daemon, the host agent, the image code and the tests name
// these files only through here. It loads no package (the daemon imports it).
import fs from 'fs';
import path from 'path';
import type { ServiceSpec } from './schemas';

/** The small programs a daemon needs around the service, and its CRIU action script (daemon/tools.ts). */
export interface Tools {
  sh: string;
  unshare: string;
  setsid: string;
  cat: string;
  /** CRIU action script that marks a restored tree as resumed. */
  notify: string;
}

/** What the host agent writes into `daemon.json` for the daemon it starts. */
export interface DaemonConfig {
  spec: ServiceSpec;
  host: string;
  criuPath: string;
  generation: number;
  /** Set for a container: the bundle's tools instead of the host's PATH. */
  tools?: Tools;
  /** true inside a container: restores may land in another network namespace (another IP). */
  container?: boolean;
  /** Fencing: stop the service when the agent's lease is older than this (absent: never). */
  leaseSeconds?: number;
  /** The service's own address and the host's interface it goes on while the service runs here (daemon/service-address.ts). */
  /** exempt: a source whose traffic passes the hold (a container's host probing it: its only address is the service's). */
  serviceAddress?: { address: string; dev: string; exempt?: string };
  /** The cluster's TLS files (CA, this host's certificate and key) for CRIU's page server in a lazy migration. */
  pageServerTls?: { ca: string; cert: string; key: string };
}

export function serviceFolder(dir: string) {
  const images = path.join(dir, 'images');
  return {
    config: path.join(dir, 'daemon.json'),
    token: path.join(dir, 'token'),
    socket: path.join(dir, 'd.sock'),
    pid: path.join(dir, 'daemon.pid'),
    daemonLog: path.join(dir, 'daemon.log'),
    serviceLog: path.join(dir, 'service.log'),
    /** One folder per checkpoint id (for a process service, a symlink to tmpfs: image/folder.ts). */
    images,
    image: (checkpointId: string) => path.join(images, checkpointId),
    /** Dated by the host agent at its host's last proof that it may serve (agent/grants.ts); a stale lease means the host may have been failed over. */
    lease: path.join(dir, 'lease'),
    /** The FIFOs of the freeze handshake with CRIU's post-dump action (daemon/kept-dirs.ts, daemon/layer.ts). */
    frozenFifo: path.join(dir, 'frozen.fifo'),
    answerFifo: path.join(dir, 'answer.fifo'),
  };
}

/** Names of the files fastmig keeps in a checkpoint image folder beside CRIU's `*.img`. */
export const IMAGE_FILES = {
  /** What a restore needs to reconnect the service (daemon/criu.ts ImageSidecar). */
  sidecar: 'fastmig.json',
  /** CRIU's logs, named relative to the image folder (`criu -o`). */
  dumpLog: 'dump.log',
  restoreLog: 'restore.log',
  /** Written by `criu restore --pidfile`: the restored namespace init. */
  restorePid: 'restore.pid',
  /** Created by the CRIU action script once the restored tree runs. */
  restoreReady: 'restore.ready',
  /** CRIU's own stdout and stderr during a restore. */
  criuOut: 'criu.out',
  /** The kept directories (daemon/kept-dirs.ts): copied while the service ran, what changed at the freeze, and the list of what was there. */
  keptBase: 'kept-base.bin',
  keptDelta: 'kept-delta.bin',
  keptList: 'kept.json',
  /** A container's own file system (daemon/layer.ts): what differed from its image while the service ran, at the freeze, and each changed directory's names. */
  layerBase: 'layer-base.bin',
  layerDelta: 'layer-delta.bin',
  layerList: 'layer.json',
  /** A post-copy dump (daemon/post-copy.ts): made by the action script once every image but the pages is written. */
  dumped: 'dumped.ready',
  /** On a post-copy target: the lazy-pages daemon's log, and the socket the restore reaches it by (CRIU's fixed name). */
  lazyPagesLog: 'lazy-pages.log',
  lazyPagesSocket: 'lazy-pages.socket',
} as const;

/** What a restore writes beside the image: not part of it, so never packed or moved to another host. */
export const RESTORE_LEFTOVERS: ReadonlySet<string> = new Set([
  IMAGE_FILES.restoreLog,
  IMAGE_FILES.restorePid,
  IMAGE_FILES.restoreReady,
  IMAGE_FILES.criuOut,
  IMAGE_FILES.lazyPagesLog,
  IMAGE_FILES.lazyPagesSocket,
]);

export function imageFolder(dir: string): Record<keyof typeof IMAGE_FILES, string> {
  const entries = Object.entries(IMAGE_FILES).map(([k, n]) => [k, path.join(dir, n)]);
  return Object.fromEntries(entries) as Record<keyof typeof IMAGE_FILES, string>;
}

/** The service folders below a host's folder: those holding a daemon.json (written by its agent). */
export function listServiceFolders(hostDir: string): string[] {
  if (!fs.existsSync(hostDir)) return [];
  return fs.readdirSync(hostDir).map((n) => path.join(hostDir, n)).filter((d) => fs.existsSync(serviceFolder(d).config));
}

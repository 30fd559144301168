// What goes with a dump and a restore besides CRIU's images: the kept directories
// (daemon/kept-dirs.ts; a container's volumes are kept the same way), a container's own file
// system (daemon/layer.ts) and the service's own address (daemon/service-address.ts).
import fs from 'fs';
import type { LineLogger as Logger } from '../common/log-lite';
import { imageFolder } from '../common/service-folder';
import type { ChildProcess } from 'child_process';
import { criuErrors, dumpTree, imageFileSizes, spawnLazyDump, spawnLazyPages, spawnRestore, type CriuTarget, type ImageSidecar, type PageServerTls } from './criu';
import { freePort, LazySource, LazyTarget } from './post-copy';
import { signalTree, waitFor } from './process-tree';
import { KeptCapture, layDownKept } from './kept-dirs';
import { Layer } from './layer';
import type { ServiceAddress } from './service-address';
import { BASE_PATH } from './tools';
import type { ServiceSpec } from '../common/schemas';
import { externalDumpFlags, treeExternals, userRestore, userTreeOf, type UserTree } from './user-tree';

export interface Moving {
  criu: CriuTarget;
  log: Logger;
  /** The service folder (the freeze FIFOs live there). */
  serviceDir: string;
  keep: string[];
  address: ServiceAddress | null;
  /** Set for a service that runs as another user (daemon/user-tree.ts). */
  user: UserTree | null;
  /** A container's own file system (null for a process service). */
  layer: Layer | null;
  /** The cluster's TLS files for CRIU's page server (post-copy); absent: plain, the source lets only the target connect. */
  pageServerTls?: PageServerTls;
}

/** What a daemon's dumps and restores carry; a container's file system is read here, before any service runs. */
export function movingOf(o: { spec: ServiceSpec; dir: string; log: Logger; container?: boolean; pageServerTls?: PageServerTls }, criu: CriuTarget, address: ServiceAddress | null): Moving {
  const user = userTreeOf(o.spec.user, o.dir, !!o.container);
  return {
    criu: user && o.container ? { ...criu, gnuTar: true } : criu,
    log: o.log,
    serviceDir: o.dir,
    // A volume is a directory the service writes, mounted from the engine: kept like one.
    keep: [...(o.spec.keep ?? []), ...(o.spec.volumes ?? []).map((v) => v.path)],
    address,
    user,
    layer: o.container ? Layer.atStart(o.log) : null,
    pageServerTls: o.pageServerTls,
  };
}

/**
 * Dumps the tree of `pid` into `dir` with its kept directories (whole before the freeze, what
 * changed during it) and, when the dump ends the service here, holds new connections to its
 * address from the freeze and releases the address once the tree is gone. `dir` is made afresh,
 * with the sidecar (and, after the dump, the sizes of CRIU's files in it). Returns when it froze.
 */
export async function dumpService(
  m: Moving,
  pid: number,
  dir: string,
  leaveRunning: boolean,
  sidecar: ImageSidecar,
  /** Post-copy (daemon/post-copy.ts): the pages are served from this host's address to `peer` once the rest is written. */
  lazy?: { address: string; peer: string; checkpointId: string },
): Promise<{ frozenAt: number; lazy: LazySource | null }> {
  const f = imageFolder(dir);
  const sidecarFile = f.sidecar;
  // CRIU's lazy-pages daemon runs beside a restore as root on the host only (the workflow refuses the rest first).
  if (lazy && (m.layer || m.user)) throw new Error('a post-copy dump needs a process-runtime service running as root');
  if (lazy) sidecar = { ...sidecar, pageServer: { address: lazy.address, port: await freePort(lazy.address) } };
  // A user's tree: its mounts are bound back by the restore, wherever it runs (the sidecar names them).
  if (m.user) sidecar = { ...sidecar, mounts: treeExternals(pid) };
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(sidecarFile, JSON.stringify(sidecar));
  const server = lazy ? { ...sidecar.pageServer!, peer: lazy.peer, dumpedFile: f.dumped, tls: m.pageServerTls } : null;
  const lazyReady = server ? await LazySource.prepare(server, m.log) : null;
  const layer = m.layer?.capture(dir) ?? null;
  const kept = m.keep.length || layer ? await KeptCapture.begin(m.keep, dir, m.serviceDir, m.criu.tools.sh, BASE_PATH, layer ? [layer] : []) : null;
  // The address that leaves with the tree (none when the tree stays, or the service has none).
  const leaving = leaveRunning ? null : m.address;
  await leaving?.hold();
  const frozenAt = Date.now();
  let dumped = false;
  let lazySource: LazySource | null = null;
  try {
    if (lazy && server && lazyReady) {
      lazySource = await LazySource.begin(lazy.checkpointId, pid, dir, server.port, lazyReady, () => spawnLazyDump(m.criu, pid, dir, kept?.env, server), m.log);
    } else await dumpTree(m.criu, pid, dir, leaveRunning, m.log, kept?.env, externalDumpFlags(sidecar.mounts ?? []));
    dumped = true;
  } finally {
    // The service runs on here (or its restart policy brings it back here): new connections are taken again.
    if (!dumped) await leaving?.unhold();
    if (!dumped) await lazyReady?.onlyPeer.remove();
    kept?.finish(dumped);
  }
  fs.writeFileSync(sidecarFile, JSON.stringify({ ...sidecar, files: imageFileSizes(dir) }));
  if (m.keep.length) m.log.info({ keptBaseBytes: kept!.baseBytes, frozenCopy: kept!.freeze }, 'kept directories copied');
  if (layer) m.log.info({ layerBaseBytes: layer.baseBytes, frozenCopy: layer.freeze }, 'container file system copied');
  // The service has left this host: its address goes to wherever it is restored.
  await leaving?.release();
  return { frozenAt, lazy: lazySource };
}

/**
 * Restores the tree from `dir` and returns its pid: the kept directories laid down first, the
 * address on this host with its traffic held until the tree runs (`held`: until `open`), CRIU started as `attach`
 * wants it and ended (with whatever it restored) when it does not finish in a time generous for
 * the image's size; `current(child)` is false once the child has ended.
 */
export async function restoreService(
  m: Moving,
  dir: string,
  sidecar: ImageSidecar,
  cgroupProcs: string | null,
  attach: (child: ChildProcess) => void,
  current: (child: ChildProcess) => boolean,
  held: boolean,
): Promise<{ pid: number; open: (() => Promise<void>) | null; lazy: LazyTarget | null }> {
  const f = imageFolder(dir);
  const arrived = await arrive(m, dir);
  // Post-copy: the pages come from the source's page server, through CRIU's lazy-pages daemon.
  let lazy: LazyTarget | null = null;
  let restored: ChildProcess | null = null;
  const startLazyPages = async () => {
    lazy = new LazyTarget(spawnLazyPages(m.criu, dir, { ...sidecar.pageServer!, tls: m.pageServerTls }), f.lazyPagesLog, () => restored && signalTree(restored.pid!, 'SIGKILL'), m.log);
    await lazy.socketReady(dir, 10_000);
  };
  const bytes = Object.values(sidecar.files ?? {}).reduce((n, b) => n + b, 0);
  // A user's tree may not repair TCP sockets of the host's network namespace (its user namespace
  // holds no CAP_NET_ADMIN there): its connections are restored closed and its clients reconnect.
  const user = m.user && sidecar.mounts ? userRestore(m.user, sidecar.mounts) : undefined;
  const rebuild = !!m.address && !user;
  const attempt = async (keepConnections: boolean): Promise<boolean> => {
    if (sidecar.pageServer) await startLazyPages();
    const child = (restored = spawnRestore(m.criu, dir, sidecar, cgroupProcs, keepConnections, user, !!sidecar.pageServer));
    attach(child);
    const ok = await waitFor(() => fs.existsSync(f.restoreReady), () => !current(child), 30_000 + bytes / 20_000);
    // criu and whatever it restored so far go too, not just the shell that started it.
    if (!ok) signalTree(child.pid!, 'SIGKILL');
    if (!ok) (lazy as LazyTarget | null)?.stop();
    return ok;
  };
  let ok = await attempt(rebuild);
  // A post-copy source serves its pages once: a failed lazy restore cannot be tried again.
  if (!ok && rebuild && !sidecar.pageServer) {
    // Connections that cannot be rebuilt (on the host that held them, a tree ended otherwise than
    // by its dump leaves their old selves behind): restored closed, their clients reconnect.
    m.log.warn({ err: criuErrors(f.restoreLog) }, 'restore with its connections failed: restoring them closed');
    ok = await attempt(false);
  }
  // A held target stays unreachable at its address until its migration cuts over: should it roll
  // back, nothing its clients were told would be lost with it.
  if (!ok || !held) await arrived.restored();
  if (!ok) throw new Error(`criu restore failed: ${criuErrors(f.restoreLog)}`);
  return { pid: Number(fs.readFileSync(f.restorePid, 'utf8').trim()), open: held ? arrived.restored : null, lazy };
}

/**
 * Before CRIU restores from `dir`: the kept directories laid down, the address on this host with
 * new connections held until `restored` (between the address and the restored listener they would
 * be refused; dropped, their clients send the SYN again).
 */
async function arrive(m: Moving, dir: string): Promise<{ restored: () => Promise<void> }> {
  const t0 = Date.now();
  try {
    const layer = m.layer?.layDown(dir);
    if (layer?.unreverted.length) m.log.warn({ files: layer.unreverted.slice(0, 5), count: layer.unreverted.length }, 'image files changed after the checkpoint stay as they are');
    if (layer) m.log.info({ ...layer, unreverted: layer.unreverted.length, ms: Date.now() - t0 }, 'container file system laid down');
  } catch (err) {
    throw new Error(`cannot lay down the container's file system: ${err instanceof Error ? err.message : String(err)}`);
  }
  const t1 = Date.now();
  try {
    const entries = layDownKept(dir, m.keep);
    if (entries) m.log.info({ entries, ms: Date.now() - t1 }, 'kept directories laid down');
  } catch (err) {
    throw new Error(`cannot lay down the kept directories: ${err instanceof Error ? err.message : String(err)}`);
  }
  const a = m.address;
  if (!a) return { restored: async () => undefined };
  try {
    await a.hold();
    await a.claim();
  } catch (err) {
    await a.unhold();
    throw err;
  }
  return { restored: () => a.unhold() };
}

// The container runtime: the adapter to this host's own container engine (its dockerd socket
// only). A service runs as a container of its unmodified image whose PID 1 is the fastmig daemon,
// started from read-only mounts: the node bundle, the CRIU bundle and the daemon's code. The
// service directory is bind-mounted, so the agent reaches the daemon's socket as for a process.
import fs from 'fs';
import path from 'path';
import net from 'net';
import execa from 'execa';
import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { Client } from 'minio';
import { REPO_ROOT, paths } from '../common/config';
import type { HostImage, ImageTransfer, ServiceSpec } from '../common/schemas';
import { serviceFolder, type DaemonConfig } from '../common/service-folder';
import { BUNDLE_MOUNT, BUNDLE_TOOLS } from '../daemon/tools';
import type { ServiceRuntime } from './runtime';
import { announceFromHost, linkContainer } from './container-link';

/** fastmig's code in every container (the daemon runs from it); read-only. */
export const APP_MOUNT = '/fastmig/app';
const CRIU_MOUNT = '/fastmig/criu';
const SERVICE_MOUNT = '/fastmig/svc';
const LOADER = `${BUNDLE_MOUNT}/node/lib/ld-linux-x86-64.so.2`;
/** What CRIU needs inside a container here; never --privileged (it fails without CAP_SYS_RESOURCE). */
const CRIU_PRIVILEGES = ['--cap-add', 'SYS_ADMIN', '--cap-add', 'SYS_PTRACE', '--cap-add', 'NET_ADMIN', '--cap-add', 'SYS_TIME', '--security-opt', 'seccomp=unconfined'];

/** A port free at this host's address: `wanted` if it is free, else any. */
async function freePortAt(address: string, wanted?: number): Promise<number> {
  if (wanted) {
    try {
      return await bindOnce(address, wanted);
    } catch {
      /* taken (by another service of this host): any free port */
    }
  }
  return bindOnce(address, 0);
}

function bindOnce(address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(port, address, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The engine enforces a service's memory limit on the whole container (the kernel's cgroup, no
 * swap). The daemon is PID 1 of the same container, so the container gets its share on top.
 */
const DAEMON_ALLOWANCE_MIB = 48;
const memoryFlags = (limitMiB?: number) => (limitMiB ? ['--memory', `${limitMiB + DAEMON_ALLOWANCE_MIB}m`, '--memory-swap', `${limitMiB + DAEMON_ALLOWANCE_MIB}m`] : []);

/**
 * A service with its own address gets no engine network (whose address would differ on every
 * host) but a link of its own that carries the address (activities/container-link.ts); CRIU keeps
 * its connections, as for a process (daemon/service-address.ts).
 */
function ownAddress(dir: string): string | undefined {
  const conf = JSON.parse(fs.readFileSync(serviceFolder(dir).config, 'utf8')) as DaemonConfig;
  return conf.serviceAddress?.address;
}

/** Named after host and service: engines may be shared (docker-compose), names must not clash. */
export const containerName = (host: string, service: string) => `fastmig-${host}-${service}`;

/** Where fastmig's code is as the engine sees it (the same path unless the agent itself runs in a container). */
const appDir = () => process.env.FASTMIG_APP_DIR || REPO_ROOT;

/** Runs the docker CLI against this host's engine only. */
export function engine(host: string, home: string) {
  const socket = paths.dockerSocket(host, home);
  return (args: string[], opts: execa.Options = {}) => execa('docker', ['-H', `unix://${socket}`, ...args], { reject: false, ...opts });
}

function oneLine(r: execa.ExecaReturnBase<string>): string {
  return (r.stderr || r.stdout || '').trim().split('\n').slice(-2).join(' ');
}

interface ImageConfig {
  Entrypoint: string[] | null;
  Cmd: string[] | null;
  Env: string[] | null;
  WorkingDir: string;
  User: string;
}

/** `uplink`: this host's interface on the hosts' segment. */
export function dockerRuntime(ctx: { host: string; home: string; criuPath: string; address: string; uplink: () => Promise<string> }): ServiceRuntime {
  const docker = engine(ctx.host, ctx.home);
  let bundleCurrent = false;

  /** Ownership: a container of that name must carry our labels, or it is not ours to remove. */
  async function removeOwned(service: string): Promise<void> {
    const name = containerName(ctx.host, service);
    const r = await docker(['container', 'inspect', '--format', '{{json .Config.Labels}}', name]);
    if (r.exitCode !== 0) return; // no such container
    const labels = (JSON.parse(r.stdout || 'null') ?? {}) as Record<string, string>;
    if (labels['fastmig.service'] !== service || labels['fastmig.host'] !== ctx.host) {
      throw ApplicationFailure.nonRetryable(`refusing to touch container ${name} on ${ctx.host}: it was not created by fastmig`, 'NotOwned');
    }
    await docker(['rm', '-f', name]);
  }

  /**
   * A deployment (generation 1) mounts volumes the user made on its host; a move or a failover makes
   * any that is missing on its target, where the checkpoint's copy fills it before the restore.
   */
  async function ensureVolumes(spec: ServiceSpec, generation: number): Promise<void> {
    for (const v of spec.volumes) {
      if ((await docker(['volume', 'inspect', v.name])).exitCode === 0) continue;
      if (generation === 1) throw ApplicationFailure.nonRetryable(`volume ${v.name} does not exist on ${ctx.host}: create it first (docker volume create ${v.name})`, 'NoVolume');
      const c = await docker(['volume', 'create', v.name]);
      if (c.exitCode !== 0) throw ApplicationFailure.nonRetryable(`cannot create volume ${v.name} on ${ctx.host}: ${oneLine(c)}`, 'NoVolume');
    }
  }

  /** The container's link (its daemon waits for it before it claims the address); a container that cannot have one goes. */
  async function linkOwnAddress(service: string, address: string): Promise<void> {
    const name = containerName(ctx.host, service);
    const pid = Number((await docker(['inspect', '--format', '{{.State.Pid}}', name])).stdout.trim());
    try {
      await linkContainer({ host: ctx.host, service, pid, address, uplink: await ctx.uplink() });
    } catch (err) {
      await docker(['rm', '-f', name]);
      throw ApplicationFailure.nonRetryable(`the container of ${service} could not be given its address ${address} on ${ctx.host}: ${err instanceof Error ? err.message : String(err)}`, 'ContainerLink');
    }
  }

  return {
    async configure(spec, base) {
      await ensureVolumes(spec, base.generation);
      const r = await docker(['image', 'inspect', '--format', '{{json .Config}}', spec.image!]);
      if (r.exitCode !== 0) {
        throw ApplicationFailure.nonRetryable(`image ${spec.image} is not on ${ctx.host}: put it on every host with \`fastmig image import\` or \`fastmig image load\``, 'NoImage');
      }
      const cfg = JSON.parse(r.stdout) as ImageConfig;
      const command = spec.command.length ? spec.command : [...(cfg.Entrypoint ?? []), ...(cfg.Cmd ?? [])];
      if (!command.length) throw ApplicationFailure.nonRetryable(`image ${spec.image} has no Entrypoint or Cmd: give the command after "--"`, 'NoCommand');
      const imageEnv = Object.fromEntries((cfg.Env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
      return {
        ...base,
        // The image's USER (or the spec's) runs the service's tree, its daemon stays root (daemon/user-tree.ts).
        spec: { ...spec, command, env: { ...imageEnv, ...spec.env }, cwd: spec.cwd ?? (cfg.WorkingDir || '/'), user: spec.user ?? (cfg.User || undefined) },
        criuPath: `${BUNDLE_MOUNT}/bin/criu`,
        tools: BUNDLE_TOOLS,
        container: true,
      };
    },

    async launch(service, dir, mode, spec, preferredHostPort) {
      const bundle = paths.bundleDir();
      if (!fs.existsSync(path.join(bundle, 'node', 'node'))) throw ApplicationFailure.nonRetryable(`no runtime bundle at ${bundle}: run scripts/install-tools.sh`, 'NoBundle');
      const criuRoot = path.join(path.dirname(fs.realpathSync(ctx.criuPath)), 'root');
      if (!fs.existsSync(path.join(criuRoot, 'usr', 'sbin', 'criu'))) {
        throw ApplicationFailure.nonRetryable(`containers need the CRIU bundle of scripts/install-criu.sh (no ${criuRoot})`, 'NoCriuBundle');
      }
      // The bundle's action script copies a container's files inside the freeze (daemon/criu-notify.sh)
      // ...and, since an image's USER is honoured, the tools that run a tree as another user (bin/user-root).
      // Checked until it passes once: an install replaces a bundle only with a newer one.
      if (!bundleCurrent) {
        if (!fs.readFileSync(path.join(bundle, 'bin', 'criu-notify'), 'utf8').includes('post-dump') || !fs.existsSync(path.join(bundle, 'bin', 'user-root'))) {
          throw ApplicationFailure.nonRetryable(`the runtime bundle at ${bundle} is too old (no file copies in the freeze or no tools for an image's USER): rebuild it with scripts/install-tools.sh`, 'NoBundle');
        }
        bundleCurrent = true;
      }
      await removeOwned(service);
      const address = ownAddress(dir);
      const r = await docker([
        'run', '-d', '--name', containerName(ctx.host, service),
        '--label', `fastmig.service=${service}`, '--label', `fastmig.host=${ctx.host}`,
        ...CRIU_PRIVILEGES,
        // The daemon is root whatever the image's USER: CRIU needs it (the service's tree runs as that user).
        '--user', '0:0',
        '-v', `${bundle}:${BUNDLE_MOUNT}:ro`,
        '-v', `${criuRoot}:${CRIU_MOUNT}:ro`,
        // The daemon loads no package (test/daemon.test.ts checks it): its code and package.json suffice.
        '-v', `${path.join(appDir(), 'dist')}:${APP_MOUNT}/dist:ro`,
        '-v', `${path.join(appDir(), 'package.json')}:${APP_MOUNT}/package.json:ro`,
        '-v', `${dir}:${SERVICE_MOUNT}`,
        ...spec.volumes.flatMap((v) => ['--mount', `type=volume,source=${v.name},target=${v.path}`]),
        // Published on the host's own address, on the service's previous port when that is free here.
        ...(address ? ['--network', 'none'] : spec.port ? ['-p', `${ctx.address}:${await freePortAt(ctx.address, preferredHostPort)}:${spec.port}`] : []),
        ...memoryFlags(spec.memoryLimitMiB),
        '-e', `FASTMIG_LOG_LEVEL=${process.env.FASTMIG_LOG_LEVEL || 'info'}`,
        '--entrypoint', LOADER,
        spec.image!,
        '--library-path', `${BUNDLE_MOUNT}/node/lib`, `${BUNDLE_MOUNT}/node/node`, `${APP_MOUNT}/dist/daemon/main.js`, SERVICE_MOUNT, mode,
      ]);
      if (r.exitCode !== 0) throw ApplicationFailure.nonRetryable(`container of ${service} did not start on ${ctx.host}: ${oneLine(r)}`, 'ContainerStart');
      if (address) await linkOwnAddress(service, address);
    },

    async announce(service) {
      const address = ownAddress(paths.serviceDir(ctx.host, service, ctx.home));
      if (address) void announceFromHost(address, await ctx.uplink());
    },

    async hostPort(service, spec) {
      if (!spec.port || ownAddress(paths.serviceDir(ctx.host, service, ctx.home))) return null;
      const r = await docker(['port', containerName(ctx.host, service), `${spec.port}/tcp`]);
      const m = new RegExp(`^${ctx.address.replace(/\./g, '\\.')}:(\\d+)$`, 'm').exec(r.stdout);
      if (!m) throw ApplicationFailure.nonRetryable(`container of ${service} publishes no port for ${spec.port}: ${oneLine(r)}`, 'NoPort');
      return Number(m[1]);
    },

    async remove(service) {
      // A container of the service's name that is not ours stays where it is; the service's own
      // folder goes all the same (a deployment refused for such a container leaves nothing behind).
      await removeOwned(service).catch((err) => {
        if ((err as ApplicationFailure).type !== 'NotOwned') throw err;
      });
    },

    async daemonLogTail(service) {
      const r = await docker(['logs', '--tail', '3', containerName(ctx.host, service)]);
      return `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-3).join(' | ');
    },
  };
}

/** Host activities that put images into this host's engine and list them. */
export function createEngineImageActivities(ctx: { host: string; home: string; s3: Client; bucket: string }) {
  const docker = engine(ctx.host, ctx.home);
  return {
    /** Streams an uploaded file from the image store into `docker import` or `docker load`. */
    async putImage(req: ImageTransfer): Promise<{ host: string; image: string }> {
      const args = req.kind === 'import' ? ['import', ...req.changes.flatMap((c) => ['--change', c]), '-', req.name!] : ['load', '-q'];
      const child = docker(args, { stdin: 'pipe' });
      const source = await ctx.s3.getObject(ctx.bucket, req.key);
      source.on('data', () => heartbeat());
      // A broken download must not leave docker waiting for the rest of its input.
      source.on('error', () => child.kill());
      source.pipe(child.stdin!);
      const r = await child;
      if (r.exitCode !== 0) throw ApplicationFailure.nonRetryable(`docker ${req.kind} failed on ${ctx.host}: ${oneLine(r)}`, 'ImageFailed');
      const loaded = /Loaded image(?: ID)?: (\S+)/.exec(r.stdout);
      return { host: ctx.host, image: req.name ?? loaded?.[1] ?? r.stdout.trim() };
    },

    async listImages(): Promise<HostImage[]> {
      const ids = await docker(['images', '-q', '--no-trunc']);
      if (ids.exitCode !== 0) throw ApplicationFailure.nonRetryable(`the container engine of ${ctx.host} does not answer: ${oneLine(ids)}`, 'NoEngine');
      const unique = [...new Set(ids.stdout.split('\n').filter(Boolean))];
      if (!unique.length) return [];
      const r = await docker(['image', 'inspect', '--format', '{{json .}}', ...unique]);
      const out: HostImage[] = [];
      for (const line of r.stdout.split('\n').filter(Boolean)) {
        const img = JSON.parse(line) as { Id: string; RepoTags: string[] | null; Size: number };
        for (const name of img.RepoTags?.length ? img.RepoTags : ['<none>']) out.push({ host: ctx.host, name, id: img.Id.replace('sha256:', '').slice(0, 12), sizeBytes: img.Size });
      }
      return out.sort((a, b) => a.name.localeCompare(b.name));
    },
  };
}
export type EngineImageActivities = ReturnType<typeof createEngineImageActivities>;

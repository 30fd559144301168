// Helpers of the container tests: the demo images on every host's engine (built and imported
// once, through the real CLI), a view of each host's containers, and the service's endpoint.
import fs from 'fs';
import path from 'path';
import execa from 'execa';
import { REPO_ROOT, paths } from '../common/config';
import { ops } from '../cli/ops';
import { fastmig } from './helpers';

export const DEBIAN_IMAGE = 'fastmig/kv-debian:1';
export const MUSL_IMAGE = 'fastmig/musl-demo:1';
/** The musl image's own CMD: a C service linked against musl (demo/musl/counter.c). */
export const MUSL_CMD = ['/app/counter', '8080'];
/** The bundle's node, as any image without node of its own would use it. */
export const NODE = '/fastmig/bundle/bin/node';
export const KV_CMD = [NODE, '/app/kv-service.js', '--port', '8080', '--listen', '0.0.0.0'];

/** Builds the image tars if needed and imports any image a host lacks (musl: the counter as its CMD). */
export async function ensureImages(): Promise<void> {
  const cache = paths.imageCacheDir();
  const tars = { [DEBIAN_IMAGE]: path.join(cache, 'kv-debian.tar'), [MUSL_IMAGE]: path.join(cache, 'kv-musl.tar') };
  if (!Object.values(tars).every((t) => fs.existsSync(t))) {
    await execa('bash', [path.join(REPO_ROOT, 'scripts', 'build-images.sh')], { stdio: 'inherit' });
  }
  const hosts = await ops.listImages();
  for (const [image, tar] of Object.entries(tars)) {
    if (hosts.every((h) => h.images.some((i) => i.name === image))) continue;
    const changes = image === MUSL_IMAGE ? ['--change', `CMD ${JSON.stringify(MUSL_CMD)}`] : [];
    const r = await fastmig(['image', 'import', image, tar, ...changes]);
    if (r.exitCode !== 0) throw new Error(`image import ${image} failed: ${r.stderr}`);
  }
}

/** Names of the containers (running or not) of a service on a host's own engine. */
export async function containersOf(host: string, service: string): Promise<string[]> {
  const r = await execa('docker', ['-H', `unix://${paths.dockerSocket(host)}`, 'ps', '-a', '--filter', `label=fastmig.service=${service}`, '--format', '{{.Names}} {{.State}}']);
  return r.stdout.split('\n').filter(Boolean);
}

/** The published port of a service as `fastmig status --json` reports it. */
export async function endpointPort(service: string): Promise<number> {
  const r = await fastmig(['status', service, '--json']);
  const view = JSON.parse(r.stdout);
  const m = /^127\.0\.0\.1:(\d+)$/.exec(view.endpoint);
  if (!m) throw new Error(`no loopback endpoint for ${service}: ${r.stdout}`);
  return Number(m[1]);
}

export async function deployContainer(name: string, host: string, image: string, extra: string[] = [], command: string[] = []): Promise<number> {
  const r = await fastmig(['deploy', name, '--host', host, '--runtime', 'docker', '--image', image, '--port', '8080', ...extra, ...(command.length ? ['--', ...command] : [])]);
  if (r.exitCode !== 0) throw new Error(`deploy ${name} failed: ${r.stderr}`);
  return endpointPort(name);
}

/** The command line of the container's first process (PID 1 inside it), read from the host's /proc. */
export async function containerInit(host: string, service: string): Promise<string[]> {
  const r = await execa('docker', ['-H', `unix://${paths.dockerSocket(host)}`, 'inspect', '--format', '{{.State.Pid}}', `fastmig-${service}`]);
  return fs.readFileSync(`/proc/${r.stdout.trim()}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

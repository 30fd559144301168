// Helpers of the container tests: the demo images on every host's engine (built and imported
// once, through the real CLI), a view of each host's containers, and the service's endpoint.
import fs from 'fs';
import execa from 'execa';
import { paths } from '../common/config';
import { BUNDLE_NODE, DEMO_IMAGES, KV_CONTAINER_CMD, ensureDemoImages, type DemoImage } from '../demo/images';
import { fastmig } from './helpers';

export const DEBIAN_IMAGE = DEMO_IMAGES.debian.name;
export const MUSL_IMAGE = DEMO_IMAGES.musl.name;
export const PYTHON_IMAGE = DEMO_IMAGES.python.name;
export const NODE = BUNDLE_NODE;
export const KV_CMD = KV_CONTAINER_CMD;

/** The demo images (or those named) on every host, imported through the real CLI (`fastmig image import`). */
export function ensureImages(which?: DemoImage[]): Promise<void> {
  return ensureDemoImages(async (file, name, changes) => {
    const r = await fastmig(['image', 'import', name, file, ...changes.flatMap((c) => ['--change', c])]);
    if (r.exitCode !== 0) throw new Error(`image import ${name} failed: ${r.stderr}`);
  }, which);
}

/** Runs the docker CLI against a host's own engine. */
export function dockerOn(host: string, args: string[]) {
  return execa('docker', ['-H', `unix://${paths.dockerSocket(host)}`, ...args], { reject: false });
}

/** Names of the containers (running or not) of a service on a host's own engine. */
export async function containersOf(host: string, service: string): Promise<string[]> {
  const r = await execa('docker', ['-H', `unix://${paths.dockerSocket(host)}`, 'ps', '-a', '--filter', `label=fastmig.service=${service}`, '--format', '{{.Names}} {{.State}}']);
  return r.stdout.split('\n').filter(Boolean);
}

/** Where a service answers (`address:port`, its host's address) as `fastmig status --json` reports it. */
export async function endpointOf(service: string): Promise<string> {
  const r = await fastmig(['status', service, '--json']);
  const view = JSON.parse(r.stdout);
  if (!/^\d+\.\d+\.\d+\.\d+:\d+$/.test(view.endpoint ?? '')) throw new Error(`no endpoint for ${service}: ${r.stdout}`);
  return view.endpoint;
}

export async function deployContainer(name: string, host: string, image: string, extra: string[] = [], command: string[] = []): Promise<string> {
  const r = await fastmig(['deploy', name, '--host', host, '--runtime', 'docker', '--image', image, '--port', '8080', ...extra, ...(command.length ? ['--', ...command] : [])]);
  if (r.exitCode !== 0) throw new Error(`deploy ${name} failed: ${r.stderr}`);
  return endpointOf(name);
}

/** The command line of the container's first process (PID 1 inside it), read from the host's /proc. */
export async function containerInit(host: string, service: string): Promise<string[]> {
  const r = await execa('docker', ['-H', `unix://${paths.dockerSocket(host)}`, 'inspect', '--format', '{{.State.Pid}}', `fastmig-${host}-${service}`]);
  return fs.readFileSync(`/proc/${r.stdout.trim()}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

// Shared test helpers: the real CLI as a subprocess, and a demo service deployed on a host.
import path from 'path';
import fs from 'fs';
import execa from 'execa';
import { REPO_ROOT, paths, readStackFile } from '../common/config';
import { ops } from '../client';
import { freePort } from '../demo/probe';
import type { ServiceSpecInput } from '../common/schemas';

export const CLI = path.join(REPO_ROOT, 'bin', 'fastmig');
export const KV_SERVICE = path.join(REPO_ROOT, 'dist', 'demo', 'kv-service.js');

export function fastmig(args: string[], env: Record<string, string> = {}) {
  return execa(CLI, args, { reject: false, env, timeout: 120_000 });
}

/** A kv service as deployed: its port (also in its command line) and where it answers now. */
export interface DeployedKv {
  port: number;
  /** `address:port` at its host's address, as `fastmig status` reports it. */
  endpoint: string;
}

export async function deployKv(name: string, host: string, extra: Partial<ServiceSpecInput> = {}): Promise<DeployedKv> {
  const port = await freePort();
  const d = await ops.deploy({
    host,
    spec: { name, command: [process.execPath, KV_SERVICE, '--port', String(port)], cwd: '/', port, ...extra },
  });
  return { port, endpoint: d.endpoint! };
}

/** A host's own address in the running stack (services on it answer there). */
export function addressOf(host: string): string {
  const address = readStackFile()?.hostAddresses?.[host];
  if (!address) throw new Error(`the stack file names no address for ${host}`);
  return address;
}

/** Where a service answers now (its host's address changes with every move). */
export async function endpointNow(service: string): Promise<string> {
  const view = (await ops.inspect(service))[0];
  if (!view?.endpoint) throw new Error(`service ${service} has no endpoint: ${JSON.stringify(view)}`);
  return view.endpoint;
}

export async function removeQuietly(name: string) {
  await ops.remove(name).catch(() => undefined);
}

export function serviceDirExists(host: string, service: string): boolean {
  return fs.existsSync(paths.serviceDir(host, service));
}

/** A process stopped by a signal (a fenced copy is frozen so): it cannot answer anyone. */
export function frozen(pid: number | string): boolean {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return /^[Tt]$/.test(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]);
}

/** PIDs of the processes (not frozen) whose command line mentions the given port (the kv-service's --port). */
export function kvProcesses(port: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (cmd[1]?.endsWith('kv-service.js') && cmd.includes(String(port)) && !frozen(d)) out.push(Number(d));
    } catch {
      /* exited */
    }
  }
  return out;
}

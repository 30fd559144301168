// One container engine (dockerd) per host of the embedded stack, side by side on this machine:
// each has its own socket, data root, exec root, pid file and bridge, so a host agent that talks
// to its own socket sees only its own containers and images. No iptables rules are written (two
// engines would fight over them); published ports go through the engine's loopback proxy.
import fs from 'fs';
import path from 'path';
import crypto from 'crypto';
import execa from 'execa';
import { paths } from '../common/config';
import { Say, startDetached, waitUntil } from './processes';

/** The /24 a host's bridge uses: an unusual private range, distinct per stack home and host. */
function subnetOf(home: string, index: number): string {
  const base = process.env.FASTMIG_DOCKER_NET || '10.231';
  const spread = crypto.createHash('sha256').update(home).digest().readUInt16BE(0) % 200;
  return `${base}.${spread + index + 1}`;
}

export function bridgeOf(home: string, host: string): string {
  return `fm${crypto.createHash('sha256').update(`${home}:${host}`).digest('hex').slice(0, 10)}`;
}

export async function engineAnswers(host: string, home: string): Promise<boolean> {
  const r = await execa('docker', ['-H', `unix://${paths.dockerSocket(host, home)}`, 'version', '--format', '{{.Server.Version}}'], { reject: false, timeout: 5000 });
  return r.exitCode === 0;
}

async function ensureBridge(name: string, subnet: string): Promise<void> {
  const exists = (await execa('ip', ['link', 'show', name], { reject: false })).exitCode === 0;
  if (!exists) {
    const add = await execa('ip', ['link', 'add', name, 'type', 'bridge'], { reject: false });
    if (add.exitCode !== 0) throw new Error(`cannot create bridge ${name}: ${add.stderr.trim()}`);
    await execa('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', name]);
  }
  await execa('ip', ['link', 'set', name, 'up']);
}

/**
 * Deletes a stopped host engine's bridge. Left behind, it keeps its route: another stack home whose
 * subnet happens to be the same (the spread is 200 values) then starts with two routes to one /24.
 */
export async function removeBridge(home: string, host: string): Promise<void> {
  await execa('ip', ['link', 'delete', bridgeOf(home, host)], { reject: false });
}

/** Starts the engine of every host that has none answering, then waits for all of them. */
export async function startEngines(hosts: string[], home: string, say: Say): Promise<void> {
  for (const [i, host] of hosts.entries()) {
    if (await engineAnswers(host, home)) say(`container engine of ${host} already answers`);
    else {
      say(`starting the container engine (dockerd) of ${host}…`);
      await startEngine(host, i, home);
    }
  }
  for (const host of hosts) await waitUntil(`container engine of ${host}`, () => engineAnswers(host, home), 60_000, `dockerd-${host}`);
}

/** Spawns one host's dockerd detached, on its own bridge, socket, data and exec roots. */
async function startEngine(host: string, index: number, home: string): Promise<void> {
  const dir = paths.dockerDir(host, home);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const bridge = bridgeOf(home, host);
  await ensureBridge(bridge, subnetOf(home, index));
  startDetached(`dockerd-${host}`, 'dockerd', [
    '--host', `unix://${paths.dockerSocket(host, home)}`,
    '--data-root', path.join(dir, 'data'),
    '--exec-root', path.join(dir, 'exec'),
    '--pidfile', path.join(dir, 'dockerd.pid'),
    '--bridge', bridge,
    '--iptables=false', '--ip-masq=false', '--ip-forward=false',
    '--log-level', 'warn',
  ], {});
}

// One container engine (dockerd) per host of the embedded stack, each inside its host's network
// namespace: its own socket, data root, exec root, pid file and bridge (in that namespace), so a
// host agent that talks to its own socket sees only its own containers and images. No iptables
// rules are written; published ports go through the engine's proxy at the host's address.
import fs from 'fs';
import path from 'path';
import crypto from 'crypto';
import execa from 'execa';
import { paths } from '../common/config';
import { Say, startDetached, waitUntil } from './processes';
import { hostProcessArgv } from './host-process';
import { namespaceOf } from './network';

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

/** The engine's bridge, inside the host's namespace (the engine would make one without an address). */
async function ensureBridge(namespace: string, name: string, subnet: string): Promise<void> {
  const ip = (args: string[]) => execa('ip', ['-n', namespace, ...args], { reject: false });
  if ((await ip(['link', 'show', name])).exitCode !== 0) {
    const add = await ip(['link', 'add', name, 'type', 'bridge']);
    if (add.exitCode !== 0) throw new Error(`cannot create bridge ${name} on ${namespace}: ${add.stderr.trim()}`);
    await ip(['addr', 'add', `${subnet}.1/24`, 'dev', name]);
  }
  await ip(['link', 'set', name, 'up']);
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
  await ensureBridge(namespaceOf(home, host), bridge, subnetOf(home, index));
  // `nsenter --net`, not `ip netns exec`: the engine needs the machine's /sys (its cgroup mounts).
  const [cmd, ...args] = hostProcessArgv(home, host, 'dockerd', [
    '--host', `unix://${paths.dockerSocket(host, home)}`,
    '--data-root', path.join(dir, 'data'),
    '--exec-root', path.join(dir, 'exec'),
    '--pidfile', path.join(dir, 'dockerd.pid'),
    '--bridge', bridge,
    '--iptables=false', '--ip-masq=false', '--ip-forward=false',
    '--log-level', 'warn',
  ]);
  startDetached(`dockerd-${host}`, cmd, args, {});
}

// A host beyond the stack's own, for tests that need an agent they can kill or start with other
// settings: its own network namespace and address on the stack's bridge, its certificate, and its
// agent started the way the stack starts one (`fastmig agent --host <h> --address <ip>` inside the
// namespace, seeing only its own host's folders).
import path from 'path';
import execa from 'execa';
import { REPO_ROOT, fastmigHome, readStackFile } from '../common/config';
import { createHostNetwork, listHosts, removeHost } from '../stack/network';
import { hostProcessArgv } from '../stack/host-process';
import { hostsDirsOf } from '../stack/workers';
import { certifyHosts } from '../stack/certs';

/** Gives `host` a namespace and an address (keeping the stack's hosts as they are) and a certificate. */
export async function addHost(host: string): Promise<string> {
  const home = fastmigHome();
  const stackHosts = readStackFile(home)?.hosts ?? [];
  const net = await createHostNetwork(home, [...stackHosts, host]);
  const address = net.hosts.find((h) => h.host === host)!.address;
  certifyHosts({ [host]: address });
  return address;
}

/**
 * Starts the agent of a host made by addHost, in its namespace; `env` adds settings (lease, faults).
 * The process comes wrapped: an async function returning it would wait for its end (it is a promise).
 */
export async function spawnAgent(host: string, env: Record<string, string>): Promise<{ child: execa.ExecaChildProcess }> {
  const home = fastmigHome();
  const address = (await listHosts(home)).hosts.find((h) => h.host === host)?.address;
  if (!address) throw new Error(`host ${host} has no namespace: call addHost first`);
  const argv = hostProcessArgv(home, host, process.execPath, [path.join(REPO_ROOT, 'dist', 'cli', 'main.js'), 'agent', '--host', host, '--address', address], {
    hostsDirs: hostsDirsOf(home),
  });
  return { child: execa(argv[0], argv.slice(1), { env, reject: false }) };
}

/** Removes a host made by addHost: its namespace and link (whatever still runs there ends). */
export function dropHost(host: string): Promise<void> {
  return removeHost(fastmigHome(), host);
}

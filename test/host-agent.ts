// A host beyond the stack's own, for tests that need an agent they can kill or start with other
// settings: its own network namespace and address on the stack's bridge, its certificate, and its
// agent started the way the stack starts one (`fastmig agent --host <h> --address <ip>` inside the
// namespace, seeing only its own host's folders).
import path from 'path';
import execa from 'execa';
import { REPO_ROOT, fastmigHome, readStackFile } from '../common/config';
import { HOST_IF, createHostNetwork, namespaceOf, removeHost } from '../stack/network';
import { hostProcessArgv } from '../stack/host-process';
import { hostViewOf } from '../stack/workers';
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

/** A host's address, read from its namespace (synchronously, so spawnAgent can hand back the process). */
function addressOf(home: string, host: string): string | undefined {
  const r = execa.sync('ip', ['-n', namespaceOf(home, host), '-j', '-4', 'addr', 'show', 'dev', HOST_IF], { reject: false });
  if (r.exitCode !== 0) return undefined;
  return (JSON.parse(r.stdout || '[]') as { addr_info?: { local: string }[] }[])[0]?.addr_info?.[0]?.local;
}

/**
 * Starts the agent of a host made by addHost, in its namespace; `env` adds settings (lease, faults).
 * The running process is returned as is: awaiting it waits for the agent to exit. Its pid is the
 * agent's own (nsenter, unshare and the shell each exec the next).
 */
export function spawnAgent(host: string, env: Record<string, string>): execa.ExecaChildProcess {
  const home = fastmigHome();
  const address = addressOf(home, host);
  if (!address) throw new Error(`host ${host} has no namespace: call addHost first`);
  const argv = hostProcessArgv(home, host, process.execPath, [path.join(REPO_ROOT, 'dist', 'cli', 'main.js'), 'agent', '--host', host, '--address', address], hostViewOf(home));
  return execa(argv[0], argv.slice(1), { env, reject: false });
}

/** Removes a host made by addHost: its namespace and link (whatever still runs there ends). */
export function dropHost(host: string): Promise<void> {
  return removeHost(fastmigHome(), host);
}

// Checks shared by the workflows: the service is known, the host is known and its agent answers.
import { localRegistry as registry, hostSteps } from './proxies';
import { refuse, messageOf } from './errors';
import type { Placement } from '../common/schemas';

export async function requirePlacement(service: string): Promise<Placement> {
  const p = await registry.getPlacement(service);
  if (!p) throw refuse(`unknown service "${service}": deploy it first (fastmig deploy ${service} --host <host> -- <command>)`);
  return p;
}

export async function requireHost(host: string): Promise<void> {
  const hosts = (await registry.listHosts()).map((h) => h.host);
  if (!hosts.includes(host)) throw refuse(`unknown host "${host}": known hosts are ${hosts.join(', ') || 'none'}`);
  try {
    await hostSteps(host).ping();
  } catch (err) {
    throw refuse(`host "${host}" does not answer (is its agent running?): ${messageOf(err)}`);
  }
}

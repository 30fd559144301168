// `fastmig stack status`: what the stack file says, and whether each part answers or runs; each
// host with its address and network namespace, as the machine has them now.
import path from 'path';
import { StackFile, fastmigHome, paths, readStackFile } from '../common/config';
import { pidAlive } from '../common/pid-file';
import { tcpConnects } from '../activities/probe';
import { engineAnswers } from './engines';
import { listHosts } from './network';
import { linkRateOf } from './link';

export interface HostStatus {
  host: string;
  /** The host's own address on the hosts' network (null: its namespace is missing). */
  address: string | null;
  namespace: string | null;
  agent: number | null;
  engine: boolean;
  /** Bits per second its link is shaped to; null: unshaped. */
  linkBps: number | null;
}

export interface StackStatus extends StackFile {
  up: boolean;
  temporal: boolean;
  s3: boolean;
  orchestrator: number | null;
  api: number | null;
  /** The hosts' network: its bridge and /24 (null while the network does not exist). */
  network: { bridge: string; subnet: string | null; control: string | null };
  hostStatus: HostStatus[];
  agents: Record<string, number | null>;
  engines: Record<string, boolean>;
}

/** null: the stack was never started in this home. */
export async function stackStatus(): Promise<StackStatus | null> {
  const home = fastmigHome();
  const stack = readStackFile(home);
  if (!stack) return null;
  const run = paths.runDir(home);
  const net = await listHosts(home);
  const cp = net.control?.address;
  const temporal = !!cp && (await tcpConnects(Number(new URL(`http://${stack.temporalAddress}`).port), cp));
  const s3 = !!cp && (await tcpConnects(Number(new URL(stack.s3Endpoint).port), cp));
  const orchestrator = pidAlive(path.join(run, 'orchestrator.pid'));
  const api = pidAlive(path.join(run, 'api.pid'));
  const hostStatus: HostStatus[] = [];
  for (const host of stack.hosts) {
    const n = net.hosts.find((h) => h.host === host);
    hostStatus.push({
      host,
      address: n?.address || null,
      namespace: n?.namespace ?? null,
      agent: pidAlive(path.join(run, `agent-${host}.pid`)),
      engine: await engineAnswers(host, home),
      linkBps: n ? await linkRateOf(n.namespace) : null,
    });
  }
  const agents = Object.fromEntries(hostStatus.map((h) => [h.host, h.agent]));
  const engines = Object.fromEntries(hostStatus.map((h) => [h.host, h.engine]));
  const up = temporal && s3 && !!orchestrator && !!api && hostStatus.every((h) => h.agent && h.engine && h.address);
  return { ...stack, up, temporal, s3, orchestrator, api, network: { bridge: net.bridge, subnet: net.subnet, control: cp ?? null }, hostStatus, agents, engines };
}

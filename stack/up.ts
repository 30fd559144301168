// `fastmig stack up`: installs (via scripts/install-tools.sh) and starts the whole stack on this
// machine, each host a machine of its own: the hosts' network (a namespace per host and one for the
// control plane, on one bridge; stack/network.ts), Temporal dev server (SQLite file) and an S3
// server on the control plane, one container engine per host, the orchestrator worker, one host
// agent per host and the HTTP API. Every step reuses what already runs. `--link <rate>` shapes the
// hosts' links (stack/link.ts); without it they are not shaped.
import fs from 'fs';
import path from 'path';
import { execFileSync } from 'child_process';
import { REPO_ROOT, StackFile, fastmigHome, paths, readStackFile } from '../common/config';
import { HostName, parseOrThrow } from '../common/schemas';
import { startEngines } from './engines';
import { formatLinkRate, setLink } from './link';
import { createHostNetwork } from './network';
import { plannedStack } from './ports';
import type { Say } from './processes';
import { ensureSecrets } from './secrets';
import { startS3, startTemporal } from './servers';
import { startWorkers } from './workers';

export interface StackUpOptions {
  hosts?: string[];
  /** Bits per second for every host's link; null: unshaped; undefined: as the last `stack up` left it. */
  linkBps?: number | null;
}

export async function stackUp(o: StackUpOptions, say: Say): Promise<StackFile> {
  const home = fastmigHome();
  const previous = readStackFile(home);
  const hosts = (o.hosts ?? previous?.hosts ?? ['hostA', 'hostB']).map((h) => parseOrThrow(HostName, h, 'host name'));
  say('checking tools (Temporal CLI, S3 server, CRIU)…');
  execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'install-tools.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const net = await createHostNetwork(home, hosts);
  const stack = plannedStack({ ...net, hosts: net.hosts.filter((h) => hosts.includes(h.host)) });
  say(`hosts' network ${net.subnet}: control plane ${stack.controlAddress}, ${hosts.map((h) => `${h} ${stack.hostAddresses[h]}`).join(', ')}`);
  const linkBps = o.linkBps === undefined ? previous?.linkBps ?? null : o.linkBps;
  await setLink(home, linkBps);
  if (linkBps) say(`hosts' links shaped to ${formatLinkRate(linkBps)}`);
  const secrets = ensureSecrets(stack.hostAddresses);
  const file: StackFile = { ...stack, linkBps };
  fs.writeFileSync(paths.stackFile(home), JSON.stringify(file, null, 2));

  await startTemporal(file, home, say);
  await startS3(file, home, secrets, say);
  await startEngines(hosts, home, say);
  await startWorkers(file, home, say);
  say(`stack up: hosts ${hosts.map((h) => `${h} (${stack.hostAddresses[h]})`).join(', ')}; Temporal UI at ${stack.uiUrl}`);
  return file;
}

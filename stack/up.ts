// `fastmig stack up`: installs (via scripts/install-tools.sh) and starts the whole stack on this
// machine: Temporal dev server (SQLite file), an S3 server, one container engine per host, the
// orchestrator worker, one host agent per host and the HTTP API. Every step reuses what already runs.
import fs from 'fs';
import path from 'path';
import { execFileSync } from 'child_process';
import { REPO_ROOT, StackFile, fastmigHome, paths, readStackFile } from '../common/config';
import { HostName, parseOrThrow } from '../common/schemas';
import { startEngines } from './engines';
import { plannedStack } from './ports';
import type { Say } from './processes';
import { ensureSecrets } from './secrets';
import { startS3, startTemporal } from './servers';
import { startWorkers } from './workers';

export async function stackUp(hostsArg: string[] | undefined, say: Say): Promise<StackFile> {
  const home = fastmigHome();
  const previous = readStackFile(home);
  const hosts = (hostsArg ?? previous?.hosts ?? ['hostA', 'hostB']).map((h) => parseOrThrow(HostName, h, 'host name'));
  say('checking tools (Temporal CLI, S3 server, CRIU)…');
  execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'install-tools.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const secrets = ensureSecrets(hosts);
  const stack = plannedStack(hosts);
  fs.writeFileSync(paths.stackFile(home), JSON.stringify(stack, null, 2));

  await startTemporal(stack, home, say);
  await startS3(stack, home, secrets, say);
  await startEngines(hosts, home, say);
  await startWorkers(stack, home, say);
  say(`stack up: hosts ${hosts.join(', ')}; Temporal UI at ${stack.uiUrl}`);
  return stack;
}

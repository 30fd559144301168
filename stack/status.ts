// `fastmig stack status`: what the stack file says, and whether each part answers or runs.
import path from 'path';
import { StackFile, fastmigHome, paths, readStackFile } from '../common/config';
import { pidAlive } from '../common/pid-file';
import { tcpConnects } from '../activities/probe';
import { engineAnswers } from './engines';

export interface StackStatus extends StackFile {
  up: boolean;
  temporal: boolean;
  s3: boolean;
  orchestrator: number | null;
  api: number | null;
  agents: Record<string, number | null>;
  engines: Record<string, boolean>;
}

/** null: the stack was never started in this home. */
export async function stackStatus(): Promise<StackStatus | null> {
  const home = fastmigHome();
  const stack = readStackFile(home);
  if (!stack) return null;
  const run = paths.runDir(home);
  const agents = Object.fromEntries(stack.hosts.map((h) => [h, pidAlive(path.join(run, `agent-${h}.pid`))]));
  const temporal = await tcpConnects(Number(new URL(`http://${stack.temporalAddress}`).port));
  const s3 = await tcpConnects(Number(new URL(stack.s3Endpoint).port));
  const orchestrator = pidAlive(path.join(run, 'orchestrator.pid'));
  const api = pidAlive(path.join(run, 'api.pid'));
  const engines: Record<string, boolean> = {};
  for (const h of stack.hosts) engines[h] = await engineAnswers(h, home);
  const up = temporal && s3 && !!orchestrator && !!api && Object.values(agents).every(Boolean) && Object.values(engines).every(Boolean);
  return { ...stack, up, temporal, s3, orchestrator, api, agents, engines };
}

// Runs one of the spec's hooks when the host agent asks (POST /hook): the agent decides when,
// the daemon only provides the place. It runs here, not in the agent, because a hook belongs to the
// service's environment: its env, and for a container the inside of the container (the daemon is
// its PID 1), with the bundle's sh, so an image without a shell still runs it. `docker exec` would
// have added the engine's round trip to every checkpoint and restore, and a second path for processes.
// Only the spec's own commands can run (the agent names a hook, not a command): the daemon's API
// stays without a way to run arbitrary commands.
import { run } from './run';
import { BASE_PATH } from './tools';
import type { ServiceSpec } from '../common/schemas';
import type { HookRequest, HookResult } from '../common/plain-schemas';

/** What an error message or a decision needs of a hook's output: its end. */
const KEEP_CHARS = 2000;

export interface HookContext {
  spec: ServiceSpec;
  host: string;
  /** The service folder (the hooks' working directory). */
  dir: string;
  sh: string;
  imageDir: (checkpointId: string) => string;
  /** The service's last exit and restart count, for the restart policy's decision hook. */
  lastExit: { code: number | null; signal: string | null } | null;
  restarts: number;
}

export async function runHook(c: HookContext, req: HookRequest): Promise<HookResult> {
  const cmd = req.hook === 'restart' ? c.spec.restart.hook : c.spec.hooks[req.hook];
  if (!cmd) throw new Error(`${c.spec.name} has no ${req.hook} hook`);
  const env: Record<string, string> = { PATH: BASE_PATH, ...c.spec.env, FASTMIG_SERVICE: c.spec.name, FASTMIG_HOST: c.host };
  if (req.hook === 'restart') {
    env.FASTMIG_EXIT_CODE = c.lastExit?.code == null ? '' : String(c.lastExit.code);
    env.FASTMIG_EXIT_SIGNAL = c.lastExit?.signal ?? '';
    env.FASTMIG_RESTARTS = String(c.restarts);
  } else {
    env.FASTMIG_HOOK = req.hook;
    if (req.checkpointId) env.FASTMIG_IMAGE_DIR = c.imageDir(req.checkpointId);
  }
  const t0 = Date.now();
  const r = await run(c.sh, ['-c', cmd], { cwd: c.dir, timeoutMs: req.hook === 'restart' ? 10_000 : 60_000, env });
  return { exitCode: r.exitCode, stdout: r.stdout.slice(-KEEP_CHARS), stderr: r.stderr.slice(-KEEP_CHARS), ms: Date.now() - t0 };
}

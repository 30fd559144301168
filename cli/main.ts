// The fastmig CLI. Every service operation runs as a Temporal workflow on the orchestrator, so the
// CLI holds no state: it validates input, starts a workflow, shows progress and prints the result.
import { parseArgs, Parsed } from './args';
import { UserError } from './temporal';
import { ops } from './ops';
import { stackDown, stackStatus, stackUp } from './stack';
import { MigrateInput, ServiceSpec, ServiceName, HostName, Port, Runtime, ImageRef, ImageTransfer, ScheduleName, describeZodError } from '../common/schemas';
import { z } from 'zod';

const HELP = `fastmig — live migration of stateful services between hosts

Usage:
  fastmig stack up [--hosts hostA,hostB]     install (if needed) and start Temporal, S3, orchestrator, host agents
  fastmig stack down                         stop everything the stack started (data stays on disk)
  fastmig stack status [--json]
  fastmig deploy <service> --host <host> [--port <p>] [--cwd <dir>] [--env K=V]...
                 [--pre-restore <cmd>] [--post-checkpoint <cmd>] [--encrypt] [--restart '<json policy>'] [--memory-limit <MiB>]
                 [--checkpoint-every <seconds> [--checkpoint-keep N]] -- <command...>
  fastmig deploy <service> --host <host> --runtime docker --image <image> [--port <p>] [-- <command...>]
  fastmig image import <name> <rootfs.tar> [--change 'CMD ["sh"]']...   put an image into every host's engine
  fastmig image load <archive.tar>                                       (a \`docker save\` archive)
  fastmig image list [--json]
  fastmig migrate <service> --to <host> [--mode warm|cold] [--json]
  fastmig status [<service>] [--json]
  fastmig logs <service> [--lines N]
  fastmig hosts [--json]
  fastmig remove <service>
  fastmig evacuate <host> [--to <host>]... [--parallel N] [--json]
  fastmig schedule create <name> --cron "<expr>" migrate <service> --to <host> [--mode warm|cold]
  fastmig schedule list [--json] | pause <name> | unpause <name> | trigger <name> | delete <name>

Examples:
  fastmig deploy kv --host hostA --port 18080 -- node server.js --port 18080
  fastmig deploy web --host hostA --runtime docker --image fastmig/musl:1 --port 8080
  fastmig migrate kv --to hostB
  fastmig status kv --json
  fastmig evacuate hostA --parallel 3
  fastmig schedule create nightly --cron "0 3 * * *" migrate kv --to hostB`;

const say = (line: string) => process.stderr.write(`${line}\n`);
const print = (v: unknown, json: boolean) => process.stdout.write(json ? `${JSON.stringify(v)}\n` : `${v}\n`);

function valid<T extends z.ZodTypeAny>(schema: T, value: unknown, what: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw new UserError(`${what}: ${describeZodError(r.error)}`);
  return r.data;
}

function jsonFlag(p: Parsed, name: string): unknown {
  try {
    return JSON.parse(String(p.flags[name]));
  } catch {
    throw new UserError(`--${name} takes JSON, e.g. --restart '{"rules":[{"exitCodes":[1],"action":"scratch"}],"maxRestarts":3}'`);
  }
}

function one(p: Parsed, what: string): string {
  if (p.positional.length !== 1) throw new UserError(`expected exactly one ${what}, got ${p.positional.length ? p.positional.join(' ') : 'none'}`);
  return p.positional[0];
}

const commands: Record<string, (p: Parsed) => Promise<number>> = {
  async stack(p) {
    const sub = p.positional[0];
    if (sub === 'up') {
      const hosts = p.flags.hosts ? String(p.flags.hosts).split(',').filter(Boolean) : undefined;
      await stackUp(hosts, say);
      return 0;
    }
    if (sub === 'down') {
      await stackDown(say);
      return 0;
    }
    if (sub === 'status') {
      const st = await stackStatus();
      if (p.flags.json) print(st ?? { up: false }, true);
      else if (!st) print('stack: never started (run `fastmig stack up`)', false);
      else {
        print(`stack: ${st.up ? 'up' : 'DOWN'}  Temporal ${st.temporalAddress} (${st.temporal ? 'up' : 'down'}), UI ${st.uiUrl}, S3 ${st.s3Endpoint} (${st.s3 ? 'up' : 'down'})`, false);
        print(`orchestrator: ${st.orchestrator ? `pid ${st.orchestrator}` : 'down'}`, false);
        print(`HTTP API ${st.apiUrl}: ${st.api ? `pid ${st.api}` : 'down'}`, false);
        for (const [h, pid] of Object.entries(st.agents)) print(`agent ${h}: ${pid ? `pid ${pid}` : 'down'}, container engine ${st.engines[h] ? 'up' : 'down'}`, false);
      }
      return st?.up ? 0 : 1;
    }
    throw new UserError(`unknown stack command "${sub ?? ''}": use stack up, stack down or stack status`);
  },

  async deploy(p) {
    const name = valid(ServiceName, one(p, 'service name'), 'service name');
    if (!p.flags.host) throw new UserError('deploy needs --host <host>');
    const rt = Runtime.safeParse(p.flags.runtime ?? 'process');
    if (!rt.success) throw new UserError(`--runtime takes process or docker, got "${p.flags.runtime}"`);
    const runtime = rt.data;
    if (runtime === 'process' && !p.rest.length) throw new UserError('deploy needs a command after "--", e.g. -- node server.js');
    if (runtime === 'docker' && !p.flags.image) throw new UserError('--runtime docker needs --image <name> (an image on every host: fastmig image list)');
    if (runtime === 'process' && p.flags.image) throw new UserError('--image needs --runtime docker');
    const env: Record<string, string> = {};
    for (const kv of p.list('env')) {
      const i = kv.indexOf('=');
      if (i < 1) throw new UserError(`--env takes KEY=VALUE, got "${kv}"`);
      env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const spec = valid(ServiceSpec, {
      name,
      runtime,
      image: p.flags.image ? String(p.flags.image) : undefined,
      command: p.rest,
      // A container starts in its image's WorkingDir unless told otherwise.
      cwd: p.flags.cwd ? String(p.flags.cwd) : runtime === 'process' ? process.cwd() : undefined,
      env,
      port: p.flags.port !== undefined ? p.number('port') : undefined,
      hooks: { preRestore: p.flags['pre-restore'] || undefined, postCheckpoint: p.flags['post-checkpoint'] || undefined },
      encryptImages: !!p.flags.encrypt,
      ...(p.flags['memory-limit'] !== undefined ? { memoryLimitMiB: p.number('memory-limit') } : {}),
      ...(p.flags.restart !== undefined ? { restart: jsonFlag(p, 'restart') } : {}),
      ...(p.flags['checkpoint-every'] !== undefined ? { checkpoint: { everySeconds: p.number('checkpoint-every'), keep: p.flags['checkpoint-keep'] !== undefined ? p.number('checkpoint-keep') : undefined } } : {}),
    }, 'service spec');
    const host = valid(HostName, String(p.flags.host), '--host');
    const r = await ops.deploy({ spec, host });
    if (p.flags.json) print(r, true);
    else print(`deployed ${r.service} on ${r.host} (pid ${r.pid}${r.endpoint ? `, answers on ${r.endpoint}` : ''})`, false);
    return 0;
  },

  async migrate(p) {
    const service = one(p, 'service name');
    if (!p.flags.to) throw new UserError('migrate needs --to <host>');
    const input = valid(MigrateInput, { service, to: String(p.flags.to), mode: p.flags.mode ?? 'warm' }, 'migrate');
    const t0 = Date.now();
    const report = await ops.migrate(input, (pr) => say(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${pr.phase}`));
    if (report.outcome === 'refused') throw new UserError(report.error ?? 'the migration was refused');
    if (p.flags.json) print(report, true);
    else {
      print(`${report.outcome}: ${report.service} ${report.from} → ${report.to} (${report.mode}) downtime ${report.downtimeMs} ms, total ${report.totalMs} ms, image ${(report.imageBytes / 1e6).toFixed(1)} MB`, false);
      print(`phases: ${Object.entries(report.phases).map(([k, v]) => `${k} ${v} ms`).join(', ')}`, false);
      if (report.error) print(`error: ${report.error}`, false);
    }
    return report.ok ? 0 : 1;
  },

  async status(p) {
    if (p.positional.length > 1) throw new UserError('status takes at most one service name');
    const service = p.positional[0] ? valid(ServiceName, p.positional[0], 'service name') : undefined;
    const views = await ops.inspect(service);
    if (p.flags.json) print(service ? views[0] : views, true);
    else if (!views.length) print('no services', false);
    else for (const v of views) print(`${v.service}\t${v.host}\t${v.runtime}${v.image ? ` ${v.image}` : ''}\t${v.state}\tpid ${v.pid ?? '-'}\t${v.endpoint ?? ''}\tgen ${v.generation}`, false);
    return 0;
  },

  async logs(p) {
    const service = valid(ServiceName, one(p, 'service name'), 'service name');
    const lines = p.flags.lines !== undefined ? p.number('lines') : 100;
    if (lines < 1 || lines > 2000) throw new UserError(`--lines takes 1 to 2000, got ${lines}`);
    const out = await ops.logs(service, lines);
    for (const l of out) print(l, false);
    return 0;
  },

  async hosts(p) {
    const hosts = await ops.hosts();
    if (p.flags.json) print(hosts, true);
    else for (const h of hosts) print(`${h.host}\t${h.taskQueue}\tsince ${h.startedAt}`, false);
    return 0;
  },

  async evacuate(p) {
    const host = valid(HostName, one(p, 'host name'), 'host');
    const to = p.list('to').map((h) => valid(HostName, h, '--to'));
    const parallel = p.flags.parallel !== undefined ? p.number('parallel') : 2;
    if (parallel < 1 || parallel > 20) throw new UserError(`--parallel takes 1 to 20, got ${parallel}`);
    say(`evacuating ${host}${to.length ? ` to ${to.join(', ')}` : ''}, ${parallel} at a time…`);
    const r = await ops.evacuate({ host, to, parallel });
    if (p.flags.json) print(r, true);
    else {
      for (const s of r.services) print(`${s.service}\t→ ${s.to}\t${s.outcome}${s.error ? `: ${s.error}` : ` (downtime ${s.downtimeMs} ms)`}`, false);
      print(`${r.moved} moved, ${r.failed} not moved`, false);
    }
    return r.failed ? 1 : 0;
  },

  async schedule(p) {
    const [sub, name, action, service] = p.positional;
    const scheduleName = () => valid(ScheduleName, name, 'schedule name');
    if (sub === 'create') {
      if (action !== 'migrate' || !service) throw new UserError('usage: fastmig schedule create <name> --cron "<expr>" migrate <service> --to <host> [--mode warm|cold]');
      if (!p.flags.cron) throw new UserError('schedule create needs --cron "<expr>", e.g. --cron "0 3 * * *"');
      const input = valid(MigrateInput, { service, to: p.flags.to, mode: p.flags.mode ?? 'warm' }, 'migrate');
      const r = await ops.schedules.create(scheduleName(), String(p.flags.cron), input);
      if (p.flags.json) print(r, true);
      else print(`schedule ${r.name}: migrate ${r.service} to ${r.to} (${r.mode}) at "${r.cron}"`, false);
      return 0;
    }
    if (sub === 'list') {
      const list = await ops.schedules.list();
      if (p.flags.json) print(list, true);
      else for (const s of list) print(`${s.name}\t${s.paused ? 'paused' : 'active'}\t${s.cron.join(' | ')}\tmigrate ${s.service} → ${s.to}\tnext ${s.next ?? '-'}`, false);
      return 0;
    }
    const actions: Record<string, (n: string) => Promise<unknown>> = {
      pause: ops.schedules.pause,
      unpause: ops.schedules.unpause,
      trigger: ops.schedules.trigger,
      delete: ops.schedules.delete,
    };
    if (!actions[sub]) throw new UserError(`unknown schedule command "${sub ?? ''}": use create, list, pause, unpause, trigger or delete`);
    await actions[sub](scheduleName());
    if (p.flags.json) print({ name, done: sub }, true);
    else print(`schedule ${name}: ${sub} done`, false);
    return 0;
  },

  async image(p) {
    const [sub, ...args] = p.positional;
    if (sub === 'list') {
      if (args.length) throw new UserError('image list takes no arguments');
      const hosts = await ops.listImages();
      if (p.flags.json) print(hosts, true);
      else {
        for (const h of hosts) {
          if (h.error) print(`${h.host}\t(error: ${h.error})`, false);
          else if (!h.images.length) print(`${h.host}\t(no images)`, false);
          for (const i of h.images) print(`${h.host}\t${i.name}\t${i.id}\t${(i.sizeBytes / 1e6).toFixed(1)} MB`, false);
        }
      }
      return hosts.some((h) => h.error) ? 1 : 0;
    }
    let results;
    if (sub === 'import') {
      if (args.length !== 2) throw new UserError('usage: fastmig image import <name> <rootfs.tar> [--change \'CMD ["sh"]\']...');
      const name = valid(ImageRef, args[0], 'image name');
      const changes = valid(ImageTransfer.shape.changes, p.list('change'), '--change');
      results = await ops.putImage(args[1], { kind: 'import', name, changes });
    } else if (sub === 'load') {
      if (args.length !== 1) throw new UserError('usage: fastmig image load <archive.tar> (made by docker save)');
      if (p.list('change').length) throw new UserError('--change applies to image import only');
      results = await ops.putImage(args[0], { kind: 'load', changes: [] });
    } else throw new UserError(`unknown image command "${sub ?? ''}": use image import, image load or image list`);
    if (p.flags.json) print(results, true);
    else for (const r of results) print(r.ok ? `${r.host}: ${r.image}` : `${r.host}: FAILED ${r.error}`, false);
    return results.every((r) => r.ok) ? 0 : 1;
  },

  async remove(p) {
    const service = valid(ServiceName, one(p, 'service name'), 'service name');
    const r = await ops.remove(service);
    if (p.flags.json) print(r, true);
    else print(`removed ${service} from ${r.host} (${r.imagesDeleted} stored image objects deleted)`, false);
    return 0;
  },
};

const FLAGS: Record<string, string[]> = {
  stack: ['hosts', 'json'],
  deploy: ['host', 'port', 'cwd', 'env', 'pre-restore', 'post-checkpoint', 'encrypt', 'runtime', 'image', 'restart', 'checkpoint-every', 'checkpoint-keep', 'memory-limit', 'json'],
  image: ['change', 'json'],
  migrate: ['to', 'mode', 'json'],
  status: ['json'],
  logs: ['lines'],
  hosts: ['json'],
  remove: ['json'],
  evacuate: ['to', 'parallel', 'json'],
  schedule: ['cron', 'to', 'mode', 'json'],
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    print(HELP, false);
    return cmd ? 0 : 2;
  }
  const run = commands[cmd];
  if (!run) throw new UserError(`unknown command "${cmd}": run \`fastmig help\``);
  const parsed = parseArgs(rest, FLAGS[cmd]);
  if (parsed.flags.port !== undefined) valid(Port, parsed.number('port'), '--port');
  return run(parsed);
}

if (require.main === module || process.argv[1]?.endsWith('bin/fastmig')) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      const msg = err instanceof UserError ? err.message : err instanceof Error ? err.message : String(err);
      process.stderr.write(`fastmig: ${msg}\n`);
      process.exit(err instanceof UserError ? 2 : 1);
    },
  );
}

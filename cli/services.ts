// The service commands: migrate, status, logs, hosts, remove, evacuate. Each checks its input,
// calls one operation of the client library and prints the answer (JSON with --json).
import { UserError, ops } from '../client';
import { HostName, MigrateInput, MigrationMode, ServiceName } from '../common/schemas';
import { Command, flag, one, text, texts, valid } from './args';
import { print, say } from './output';

/** The fields of a migration as a command gives them (checked by MigrateInput). */
export function migrateFields(p: { str(name: string): string | undefined }, service: string) {
  const onLazyFailure = p.str('on-lazy-failure');
  return { service, to: p.str('to'), mode: p.str('mode') ?? 'warm', ...(onLazyFailure !== undefined ? { onLazyFailure } : {}) };
}

export const migrate: Command = {
  options: { to: text, mode: text, 'on-lazy-failure': text, json: flag },
  async run(p) {
    const service = one(p, 'service name');
    if (!p.str('to')) throw new UserError('migrate needs --to <host>');
    const input = valid(MigrateInput, migrateFields(p, service), 'migrate');
    const t0 = Date.now();
    const report = await ops.migrate(input, (pr) => say(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${pr.phase}`));
    if (report.outcome === 'refused') throw new UserError(report.error ?? 'the migration was refused');
    if (p.bool('json')) print(report, true);
    else {
      print(`${report.outcome}: ${report.service} ${report.from} → ${report.to} (${report.mode}) downtime ${report.downtimeMs} ms, total ${report.totalMs} ms, image ${(report.imageBytes / 1e6).toFixed(1)} MB`, false);
      print(`phases: ${Object.entries(report.phases).map(([k, v]) => `${k} ${v} ms`).join(', ')}`, false);
      if (report.lazy) print(`pages: ${report.lazy.pagesAcrossMs !== undefined ? `all across ${report.lazy.pagesAcrossMs} ms after the freeze` : 'not all across'}; target served ${report.lazy.targetServed ? `for ${report.lazy.servedWindowMs} ms before that` : 'no client'}`, false);
      if (report.error) print(`error: ${report.error}`, false);
    }
    return report.ok ? 0 : 1;
  },
};

export const status: Command = {
  options: { json: flag },
  async run(p) {
    if (p.positional.length > 1) throw new UserError('status takes at most one service name');
    const service = p.positional[0] ? valid(ServiceName, p.positional[0], 'service name') : undefined;
    const views = await ops.inspect(service);
    if (p.bool('json')) print(service ? views[0] : views, true);
    else if (!views.length) print('no services', false);
    else for (const v of views) print(`${v.service}\t${v.host}\t${v.runtime}${v.image ? ` ${v.image}` : ''}\t${v.state}\tpid ${v.pid ?? '-'}\t${v.endpoint ?? ''}\tgen ${v.generation}`, false);
    return 0;
  },
};

export const logs: Command = {
  options: { lines: text },
  async run(p) {
    const service = valid(ServiceName, one(p, 'service name'), 'service name');
    const lines = p.number('lines') ?? 100;
    if (lines < 1 || lines > 2000) throw new UserError(`--lines takes 1 to 2000, got ${lines}`);
    for (const l of await ops.logs(service, lines)) print(l, false);
    return 0;
  },
};

export const hosts: Command = {
  options: { json: flag },
  async run(p) {
    const list = await ops.hosts();
    if (p.bool('json')) print(list, true);
    else for (const h of list) print(`${h.host}\t${h.taskQueue}\tsince ${h.startedAt}`, false);
    return 0;
  },
};

/** `fastmig resume <service>`: a copy a lazy migration left stopped runs on from its freeze. */
export const resume: Command = {
  options: { json: flag },
  async run(p) {
    const service = valid(ServiceName, one(p, 'service name'), 'service name');
    const r = await ops.resume(service);
    if (p.bool('json')) print(r, true);
    else print(`resumed ${service} on ${r.host} from checkpoint ${r.checkpointId} (what its lazy migration's target accepted is lost)`, false);
    return 0;
  },
};

export const remove: Command = {
  options: { json: flag },
  async run(p) {
    const service = valid(ServiceName, one(p, 'service name'), 'service name');
    const r = await ops.remove(service);
    if (p.bool('json')) print(r, true);
    else print(`removed ${service} from ${r.host} (${r.imagesDeleted} stored image objects deleted)`, false);
    return 0;
  },
};

export const evacuate: Command = {
  options: { to: texts, parallel: text, mode: text, json: flag },
  async run(p) {
    const host = valid(HostName, one(p, 'host name'), 'host');
    const mode = valid(MigrationMode, p.str('mode') ?? 'warm', '--mode');
    const to = p.list('to').map((h) => valid(HostName, h, '--to'));
    const parallel = p.number('parallel') ?? 2;
    if (parallel < 1 || parallel > 20) throw new UserError(`--parallel takes 1 to 20, got ${parallel}`);
    say(`evacuating ${host}${to.length ? ` to ${to.join(', ')}` : ''}, ${parallel} at a time…`);
    const r = await ops.evacuate({ host, to, parallel, mode });
    if (p.bool('json')) print(r, true);
    else {
      for (const s of r.services) print(`${s.service}\t→ ${s.to} (${s.mode})\t${s.outcome}${s.error ? `: ${s.error}` : ` (downtime ${s.downtimeMs} ms)`}`, false);
      print(`${r.moved} moved, ${r.failed} not moved`, false);
    }
    return r.failed ? 1 : 0;
  },
};

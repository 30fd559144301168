// evacuateHost: move every service off a host, a bounded number at a time, and report per service.
// scheduledMigration: what a Temporal Schedule starts; both queue behind any running migration.
import { z } from 'zod';
import { HostName, MigrateInput, MigrationMode, MigrationReport, type Placement } from '../common/schemas';
import { registry } from './proxies';
import { refuse, validate } from './errors';
import { runMigration } from './run-migration';
import { lazyUnfitOf } from '../common/names';

export const EvacuateInput = z
  .object({ host: HostName, to: z.array(HostName).default([]), parallel: z.number().int().min(1).max(20).default(2), mode: MigrationMode.default('warm') })
  .strict();
export type EvacuateRequest = z.input<typeof EvacuateInput>;

export interface EvacuationReport {
  host: string;
  moved: number;
  failed: number;
  services: { service: string; to: string; mode: MigrationMode; outcome: MigrationReport['outcome']; downtimeMs: number; error?: string }[];
}

export async function evacuateHost(raw: EvacuateRequest): Promise<EvacuationReport> {
  const { host, to, parallel, mode } = validate(EvacuateInput, raw, 'evacuateHost input');
  const known = (await registry.listHosts()).map((h) => h.host);
  if (!known.includes(host)) throw refuse(`unknown host "${host}": known hosts are ${known.join(', ')}`);
  const targets = (to.length ? to : known).filter((h) => h !== host);
  for (const t of targets) if (!known.includes(t)) throw refuse(`unknown target host "${t}": known hosts are ${known.join(', ')}`);
  if (!targets.length) throw refuse(`no other host to move the services of ${host} to`);
  const placements = (await registry.listPlacements()).filter((p) => p.host === host);
  // lazy where a service can take it (process runtime, as root), warm for the others.
  const modeOf = (p: Placement): MigrationMode => (mode === 'lazy' && lazyUnfitOf(p.spec) ? 'warm' : mode);
  const jobs = placements.map((p, i): MigrateInput => ({ service: p.spec.name, to: targets[i % targets.length], mode: modeOf(p) }));
  const results: EvacuationReport['services'] = [];
  const lane = async () => {
    for (let job = jobs.shift(); job; job = jobs.shift()) {
      const r = await runMigration(job);
      results.push({ service: job.service, to: job.to, mode: job.mode, outcome: r.outcome, downtimeMs: r.downtimeMs, ...(r.error ? { error: r.error } : {}) });
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, Math.max(jobs.length, 1)) }, lane));
  results.sort((a, b) => a.service.localeCompare(b.service));
  return { host, moved: results.filter((r) => r.outcome === 'migrated').length, failed: results.filter((r) => r.outcome !== 'migrated').length, services: results };
}

export async function scheduledMigration(raw: MigrateInput): Promise<MigrationReport> {
  return runMigration(validate(MigrateInput, raw, 'scheduledMigration input'));
}

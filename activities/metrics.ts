// Orchestrator activity that adapts to Prometheus: it records each finished migration into the
// orchestrator's metrics registry (served on its /metrics).
import { Counter, Histogram } from 'prom-client';
import { MS_BUCKETS, Registry } from '../common/metrics';
import type { MigrationReport } from '../common/schemas';

export function createMetricsActivities(registry: Registry) {
  const registers = [registry];
  const migrations = new Counter({ name: 'fastmig_migrations_total', help: 'Migrations by outcome and mode', labelNames: ['mode', 'outcome'], registers });
  const downtime = new Histogram({ name: 'fastmig_migration_downtime_ms', help: 'Freeze on the source until the target answered, in ms', labelNames: ['mode'], buckets: MS_BUCKETS, registers });
  const phases = new Histogram({ name: 'fastmig_migration_phase_ms', help: 'Duration of each migration phase, in ms', labelNames: ['phase'], buckets: MS_BUCKETS, registers });
  return {
    async recordMigration(report: MigrationReport): Promise<void> {
      migrations.inc({ mode: report.mode, outcome: report.outcome });
      if (report.outcome === 'migrated') downtime.observe({ mode: report.mode }, report.downtimeMs);
      for (const [phase, ms] of Object.entries(report.phases)) phases.observe({ phase }, ms ?? 0);
    },
  };
}
export type MetricsActivities = ReturnType<typeof createMetricsActivities>;

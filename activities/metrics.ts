// Orchestrator activity that adapts to Prometheus: it records each finished migration into the
// orchestrator's metrics registry (served on its /metrics).
import { Registry, MS_BUCKETS } from '../common/metrics';
import type { MigrationReport } from '../common/schemas';

export function createMetricsActivities(registry: Registry) {
  const migrations = registry.counter('fastmig_migrations_total', 'Migrations by outcome and mode');
  const downtime = registry.histogram('fastmig_migration_downtime_ms', 'Freeze on the source until the target answered, in ms', MS_BUCKETS);
  const phases = registry.histogram('fastmig_migration_phase_ms', 'Duration of each migration phase, in ms', MS_BUCKETS);
  return {
    async recordMigration(report: MigrationReport): Promise<void> {
      migrations.inc({ outcome: report.outcome, mode: report.mode });
      if (report.outcome === 'migrated') downtime.observe(report.downtimeMs, { mode: report.mode });
      for (const [phase, ms] of Object.entries(report.phases)) phases.observe(ms ?? 0, { phase });
    },
  };
}
export type MetricsActivities = ReturnType<typeof createMetricsActivities>;

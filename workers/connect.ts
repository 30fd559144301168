// Worker plumbing shared by the orchestrator and the host agents: connection and structured logs
// of every activity, carrying host, service and workflow id.
import { NativeConnection, Runtime, DefaultLogger, ActivityInboundCallsInterceptor, ActivityExecuteInput, Next } from '@temporalio/worker';
import { Context } from '@temporalio/activity';
import type { Logger } from '../common/log';
import type { Config } from '../common/config';
import { temporalConnectionOptions } from '../common/tls';
import { Histogram } from 'prom-client';
import { MS_BUCKETS, Registry } from '../common/metrics';

export async function connectWorker(cfg: Config): Promise<NativeConnection> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  return NativeConnection.connect(temporalConnectionOptions(cfg.temporalAddress, cfg.temporal));
}

class ActivityLog implements ActivityInboundCallsInterceptor {
  constructor(private readonly ctx: Context, private readonly log: Logger, private readonly durations: Histogram<'activity' | 'outcome'>) {}
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const info = this.ctx.info;
    const arg = input.args[0] as any;
    const service = typeof arg === 'string' ? arg : arg?.service ?? arg?.spec?.name;
    const log = this.log.child({ workflowId: info.workflowExecution?.workflowId, activity: info.activityType, service, attempt: info.attempt });
    const t0 = Date.now();
    try {
      const out = await next(input);
      log.info({ ms: Date.now() - t0 }, 'activity done');
      this.durations.observe({ activity: info.activityType, outcome: 'ok' }, Date.now() - t0);
      return out;
    } catch (err) {
      log.warn({ ms: Date.now() - t0, err: err instanceof Error ? err.message : String(err) }, 'activity failed');
      this.durations.observe({ activity: info.activityType, outcome: 'failed' }, Date.now() - t0);
      throw err;
    }
  }
}

/** Logs every activity with host, service and workflow id, and records its duration. */
export function activityLogInterceptor(log: Logger, metrics: Registry) {
  const durations = new Histogram({ name: 'fastmig_activity_ms', help: 'Duration of activities on this worker, in ms', labelNames: ['activity', 'outcome'], buckets: MS_BUCKETS, registers: [metrics] });
  return (ctx: Context) => ({ inbound: new ActivityLog(ctx, log, durations) });
}

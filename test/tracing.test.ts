// FASTMIG_OTEL=console turns on Temporal's OpenTelemetry interceptors: a worker with the tracing
// plugin exports spans for the workflows it runs (real Temporal server, private task queue).
import { Worker, NativeConnection } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../common/config';
import { tracingPlugins } from '../workers/tracing';

test('a traced worker exports spans for a workflow run; unset or wrong settings are handled', async () => {
  expect(() => withEnv('jaeger', () => tracingPlugins('x'))).toThrow(/FASTMIG_OTEL takes "console"/);
  expect(withEnv(undefined, () => tracingPlugins('x'))).toEqual([]);

  const cfg = loadConfig();
  const spans: any[] = [];
  const dir = console.dir;
  console.dir = (obj: any) => void spans.push(obj);
  const connection = await NativeConnection.connect({ address: cfg.temporalAddress });
  const taskQueue = `otel-test-${Date.now()}`;
  try {
    const worker = await Worker.create({
      connection,
      namespace: cfg.namespace,
      taskQueue,
      workflowsPath: require.resolve('../workflows'),
      plugins: withEnv('console', () => tracingPlugins('test')),
    });
    const client = new Client({ connection: await Connection.connect({ address: cfg.temporalAddress }), namespace: cfg.namespace });
    await worker.runUntil(client.workflow.execute('listHosts', { taskQueue, workflowId: `otel-${Date.now()}`, args: [] }));
    await client.connection.close();
  } finally {
    console.dir = dir;
    await connection.close();
  }
  const names = spans.map((s) => s.name);
  expect(names.some((n) => /RunWorkflow:listHosts/.test(n))).toBe(true);
  expect(spans.every((s) => s.resource?.attributes?.['service.name'] === 'fastmig-test')).toBe(true);
}, 120_000);

function withEnv<T>(value: string | undefined, fn: () => T): T {
  const old = process.env.FASTMIG_OTEL;
  if (value === undefined) delete process.env.FASTMIG_OTEL;
  else process.env.FASTMIG_OTEL = value;
  try {
    return fn();
  } finally {
    if (old === undefined) delete process.env.FASTMIG_OTEL;
    else process.env.FASTMIG_OTEL = old;
  }
}

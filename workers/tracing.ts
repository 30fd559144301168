// Temporal's OpenTelemetry interceptors, on by configuration: FASTMIG_OTEL=console makes a worker
// trace its workflows and activities (spans propagated from the starting client through every step)
// and print the spans to its log. Off by default; other exporters plug in at the same place.
import { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';
import { ConsoleSpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Resource } from '@opentelemetry/resources';

export function tracingPlugins(role: string): OpenTelemetryPlugin[] {
  const mode = process.env.FASTMIG_OTEL;
  if (!mode) return [];
  if (mode !== 'console') throw new Error(`FASTMIG_OTEL takes "console" (or is unset), got "${mode}"`);
  return [
    new OpenTelemetryPlugin({
      resource: new Resource({ 'service.name': `fastmig-${role}` }),
      spanProcessor: new SimpleSpanProcessor(new ConsoleSpanExporter()),
    }),
  ];
}

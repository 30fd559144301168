// Where the stack's servers listen (overridable, so stacks in several homes can run side by side)
// and the stack file that records it for every other fastmig process.
import path from 'path';
import type { StackFile } from '../common/config';
import { paths } from '../common/config';

export const TEMPORAL_PORT = Number(process.env.FASTMIG_TEMPORAL_PORT || 7233);
export const UI_PORT = Number(process.env.FASTMIG_UI_PORT || 8233);
export const S3_PORT = Number(process.env.FASTMIG_S3_PORT || 7070);
export const API_PORT = Number(process.env.FASTMIG_API_PORT || 7080);
/** The orchestrator serves metrics here; host agent i on the ports after it. */
export const METRICS_PORT = Number(process.env.FASTMIG_METRICS_PORT || 9464);

export function plannedStack(hosts: string[]): StackFile {
  const tools = paths.toolsDir();
  return {
    temporalAddress: `127.0.0.1:${TEMPORAL_PORT}`,
    namespace: 'default',
    temporalBinary: path.join(tools, 'bin', 'temporal'),
    uiUrl: `http://127.0.0.1:${UI_PORT}`,
    s3Endpoint: `http://127.0.0.1:${S3_PORT}`,
    s3Bucket: 'fastmig',
    hosts,
    criuPath: process.env.FASTMIG_CRIU || path.join(tools, 'criu', 'criu'),
    apiUrl: `http://127.0.0.1:${API_PORT}`,
    metrics: {
      orchestrator: `http://127.0.0.1:${METRICS_PORT}/metrics`,
      ...Object.fromEntries(hosts.map((h, i) => [h, `http://127.0.0.1:${METRICS_PORT + 1 + i}/metrics`])),
      api: `http://127.0.0.1:${API_PORT}/metrics`,
    },
  };
}

// Where the stack's servers listen and the stack file that records it for every other fastmig
// process. The servers run in the control plane's namespace and the agents in their hosts', so
// each listens on its own machine's address; the ports stay overridable for a stack on other ports.
import path from 'path';
import type { StackFile } from '../common/config';
import { paths } from '../common/config';
import type { HostNetwork } from './network';

export const TEMPORAL_PORT = Number(process.env.FASTMIG_TEMPORAL_PORT || 7233);
export const UI_PORT = Number(process.env.FASTMIG_UI_PORT || 8233);
export const S3_PORT = Number(process.env.FASTMIG_S3_PORT || 7070);
export const API_PORT = Number(process.env.FASTMIG_API_PORT || 7080);
/** The orchestrator serves metrics here (on the control plane's address), each host agent on its own address. */
export const METRICS_PORT = Number(process.env.FASTMIG_METRICS_PORT || 9464);

export function plannedStack(net: HostNetwork): StackFile {
  const tools = paths.toolsDir();
  if (!net.control) throw new Error('the host network has no control plane namespace');
  const cp = net.control.address;
  const hosts = net.hosts.map((h) => h.host);
  const addressOf = (host: string) => net.hosts.find((h) => h.host === host)!.address;
  return {
    temporalAddress: `${cp}:${TEMPORAL_PORT}`,
    namespace: 'default',
    temporalBinary: path.join(tools, 'bin', 'temporal'),
    uiUrl: `http://${cp}:${UI_PORT}`,
    s3Endpoint: `http://${cp}:${S3_PORT}`,
    s3Bucket: 'fastmig',
    hosts,
    controlAddress: cp,
    hostAddresses: Object.fromEntries(hosts.map((h) => [h, addressOf(h)])),
    // The upper half of the hosts' /24: each process service gets one, and it moves with the service.
    serviceAddresses: `${cp.split('.').slice(0, 3).join('.')}.128/25`,
    criuPath: process.env.FASTMIG_CRIU || path.join(tools, 'criu', 'criu'),
    apiUrl: `http://${cp}:${API_PORT}`,
    metrics: {
      orchestrator: `http://${cp}:${METRICS_PORT}/metrics`,
      ...Object.fromEntries(hosts.map((h) => [h, `http://${addressOf(h)}:${METRICS_PORT}/metrics`])),
      api: `http://${cp}:${API_PORT}/metrics`,
    },
  };
}

// The files of one service directory, shared by the daemon and the host agent that starts it.
import path from 'path';
import type { ServiceSpec } from '../common/schemas';

export interface DaemonConfig {
  spec: ServiceSpec;
  host: string;
  criuPath: string;
  generation: number;
}

export function daemonFiles(dir: string) {
  return {
    config: path.join(dir, 'daemon.json'),
    token: path.join(dir, 'token'),
    socket: path.join(dir, 'd.sock'),
    pid: path.join(dir, 'daemon.pid'),
    daemonLog: path.join(dir, 'daemon.log'),
    serviceLog: path.join(dir, 'service.log'),
    images: path.join(dir, 'images'),
  };
}

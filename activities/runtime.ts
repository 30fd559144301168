// The one interface the host agent uses to run a service's daemon, whatever the runtime: a
// detached process on the host, or a container whose PID 1 is the daemon. Everything after the
// launch (start, checkpoint, restore, logs) goes through the daemon's unix-socket API either way.
import type { DaemonConfig } from '../common/service-folder';
import type { ServiceSpec } from '../common/schemas';

export type LaunchMode = 'scratch' | 'standby';

export interface ServiceRuntime {
  /** Fills in what this runtime decides: the command, environment, tools and CRIU the daemon uses. */
  configure(spec: ServiceSpec, base: DaemonConfig): Promise<DaemonConfig>;
  /** Starts the daemon detached from the agent, so restarting the agent never touches the service. */
  launch(service: string, dir: string, mode: LaunchMode, spec: ServiceSpec, preferredHostPort?: number): Promise<void>;
  /** The port on 127.0.0.1 of this host where the service answers; null when that is spec.port itself. */
  hostPort(service: string, spec: ServiceSpec): Promise<number | null>;
  /** Frees what the runtime holds for the service (after its daemon was asked to shut down). */
  remove(service: string, dir: string): Promise<void>;
  /** After a copy here took its clients' traffic: tells the segment where its own address is now (when this runtime has to). */
  announce?(service: string): Promise<void>;
  /** The daemon's last output lines, for error messages. */
  daemonLogTail(service: string, dir: string): Promise<string>;
}

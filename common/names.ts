// Pure naming rules shared by workflows and activities (no Node built-ins: workflows import this).

/**
 * A checkpoint id, the one pattern everywhere: ids end up in paths and S3 keys, so a safe alphabet
 * and no leading "-" or ".". The workflows make `g<generation>-<8 hex>` (migrations) and
 * `p<generation>-<8 hex>` (periodic checkpoints).
 */
export const CHECKPOINT_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
export const CHECKPOINT_ID_RULE = 'must be 1-64 characters of A-Z, a-z, 0-9 and "-", not starting with "-"';

/** Task queue of the orchestrator worker: workflows and the placement registry. */
export const ORCHESTRATOR_QUEUE = 'fastmig';

/** Each host agent polls its own task queue, so an activity runs on exactly that host. */
export function hostQueue(host: string): string {
  return `fastmig-host-${host}`;
}

/** Workflow id of a migration: one per service at a time (starting a second one fails). */
export function migrateWorkflowId(service: string): string {
  return `migrate-${service}`;
}

/** The service's entity workflow, which serializes its migrations. */
export function entityWorkflowId(service: string): string {
  return `service-${service}`;
}

/** The port at the service's host's address where clients reach it (published port for a container). */
export function endpointPort(p: { spec: { port?: number }; hostPort?: number }): number | undefined {
  return p.hostPort ?? p.spec.port;
}

/** A container on its engine's network, reached through the port the engine publishes (not one with an address of its own). */
/** Why a service cannot move lazily (CRIU's lazy-pages daemon runs beside a restore as root on the host only), or null. */
export function lazyUnfitOf(spec: { runtime?: string; user?: string }): string | null {
  return spec.runtime === 'docker' ? 'runs in a container' : spec.user ? `runs as ${spec.user}` : null;
}

export function proxiedOf(p: { spec: { runtime?: string }; serviceAddress?: string }): boolean {
  return p.spec.runtime === 'docker' && !p.serviceAddress;
}

/** `address:port` where clients reach the service; loopback for records older than the address. */
export function endpointOf(p: { spec: { port?: number }; hostPort?: number; address?: string; serviceAddress?: string }): string | null {
  const port = endpointPort(p);
  return port ? `${p.serviceAddress ?? p.address ?? '127.0.0.1'}:${port}` : null;
}

/** S3 key layout. Every key is built from validated names, so none can escape its prefix. */
export const keys = {
  placement: (service: string) => `registry/services/${service}.json`,
  placementsPrefix: 'registry/services/',
  /** Which service holds which of the cluster's service addresses ({address: service}). */
  serviceAddresses: 'registry/service-addresses.json',
  host: (host: string) => `registry/hosts/${host}.json`,
  hostsPrefix: 'registry/hosts/',
  /** Written by the host monitor before it fails a host over; read by that host's agent as it registers. */
  hostDown: (host: string) => `registry/down/${host}.json`,
  imagePrefix: (service: string) => `images/${service}/`,
  imageArchive: (service: string, checkpointId: string, gzip = false) => `images/${service}/${checkpointId}/image.tar${gzip ? '.gz' : ''}`,
  imageManifest: (service: string, checkpointId: string) => `images/${service}/${checkpointId}/manifest.json`,
  /** A container image file uploaded once by the CLI and pulled by every host's agent. */
  upload: (id: string) => `uploads/${id}`,
};

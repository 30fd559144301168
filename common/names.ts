// Pure naming rules shared by workflows and activities (no Node built-ins: workflows import this).

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

/** S3 key layout. Every key is built from validated names, so none can escape its prefix. */
export const keys = {
  placement: (service: string) => `registry/services/${service}.json`,
  placementsPrefix: 'registry/services/',
  host: (host: string) => `registry/hosts/${host}.json`,
  hostsPrefix: 'registry/hosts/',
  imagePrefix: (service: string) => `images/${service}/`,
  imageArchive: (service: string, checkpointId: string, gzip = false) => `images/${service}/${checkpointId}/image.tar${gzip ? '.gz' : ''}`,
  imageManifest: (service: string, checkpointId: string) => `images/${service}/${checkpointId}/manifest.json`,
};

// Every workflow type the orchestrator worker runs (task queue `fastmig`).
export { migrateService, progressQuery } from './migrate';
export { deployService } from './deploy';
export { inspectServices, serviceLogs, removeService, listHosts } from './manage';
export { serviceEntity, migrateUpdate, migrateSignal, placementQuery, historyQuery, pendingQuery } from './entity';
export { evacuateHost, scheduledMigration } from './evacuate';
export { distributeImage, listImages } from './images';
export { hostMonitor } from './host-monitor';
export { failoverService } from './failover';
export { resumeService } from './resume';

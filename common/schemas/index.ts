// The one home of fastmig's data shapes: every process (CLI, workflows, host agents, daemons)
// imports these schemas and types from here; none redefines them.
export * from './names';
export * from './service';
export * from './migration';
export * from './image';
export * from './quorum';
export * from './parse';

// What the daemon uses at run time lives in plain-schemas.ts (no zod there); reached from here too.
export {
  RESTART_ACTIONS,
  describeZodError,
  RequestError,
  parseCheckpointRequest,
  parseRestoreRequest,
  parseStopRequest,
  type CheckpointRequest,
  type RestoreRequest,
  type StopRequest,
} from '../plain-schemas';

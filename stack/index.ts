// The embedded dev stack on this machine (Temporal, S3, container engines, orchestrator, host
// agents, HTTP API): used by `fastmig stack`, the demo, the bench and the tests.
export { stackUp } from './up';
export { stackDown } from './down';
export { stackStatus, type StackStatus } from './status';

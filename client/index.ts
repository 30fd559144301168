// The client library of fastmig: what the CLI, the HTTP API, the demo, the bench and the tests use
// to reach the orchestrator (a Temporal connection and the service operations).
export { UserError, connectClient, failureMessage, queuePollers } from './connection';
export { makeOps, ops, type UseClient } from './ops';

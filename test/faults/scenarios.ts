// The fault matrix: each fault in each phase where it can strike, every (fault, phase) pair once.
// Normal-operation faults hit a running service; the others hit a warm migration from faultA to
// faultB at the named step (see scenario.ts), or a lazy one (scenarios-lazy.ts).
import { INFRA_SCENARIOS } from './scenarios-infra';
import { NETWORK_SCENARIOS } from './scenarios-network';
import { SERVICE_SCENARIOS } from './scenarios-service';
import { LAZY_SCENARIOS } from './scenarios-lazy';
import type { Scenario } from './scenario';

export { MEMORY_LIMIT_MIB, POLICY } from './scenario';
export type { Scenario } from './scenario';

/** The quick subset (with the test suite): one of each kind of fault, a few minutes on 2 CPUs. */
const QUICK = new Set([
  'SIGKILL to the service during normal',
  'disk full during checkpoint',
  'target host agent killed during restore',
  'orchestrator worker killed during transfer',
  'target link drops for 3 s during transfer',
  // A cut past the lease but short of the failover time: frozen, then thawed in place.
  'source cut off during normal',
  // A lazy migration's rollback once its target served, without a restore.
  'target host killed mid-transfer (lazy) during pages',
]);

export const scenarioName = (s: Scenario) => `${s.fault} during ${s.phase}`;

export const SCENARIOS: Scenario[] = [...SERVICE_SCENARIOS, ...INFRA_SCENARIOS, ...NETWORK_SCENARIOS, ...LAZY_SCENARIOS].map((s) => ({ ...s, quick: QUICK.has(scenarioName(s)) }));

const names = SCENARIOS.map(scenarioName);
const twice = names.filter((n, i) => names.indexOf(n) !== i);
if (twice.length) throw new Error(`fault matrix: these fault × phase pairs are listed more than once: ${twice.join(', ')}`);
const unknown = [...QUICK].filter((n) => !names.includes(n));
if (unknown.length) throw new Error(`fault matrix: the quick subset names pairs that are not in the matrix: ${unknown.join(', ')}`);

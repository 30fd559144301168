// The service itself misbehaves: while it runs (its restart policy decides, the daemon stays),
// while its checkpoint is about to be taken, and on the target before it is verified; and a
// migration step that simply fails.
import { SOURCE, TARGET, sleep } from './cluster';
import { exitWithError, failingStep, grow, migrationFault, serviceFault, signalService, signalServiceGone, type Ctx, type Scenario } from './scenario';
import type { Expectation } from './survival';

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGKILL'];
const byPolicy = (sig: NodeJS.Signals): Expectation['state'] => (sig === 'SIGINT' ? 'standby' : 'running');

export const SERVICE_SCENARIOS: Scenario[] = [
  // The restart policy restores the newest checkpoint on the host (SIGINT: standby).
  serviceFault('memory limit exceeded', (c) => grow(c, SOURCE), { state: 'running', data: 'checkpoint', boundS: 30 }),
  serviceFault('service exits with an error', (c) => exitWithError(c, SOURCE), { state: 'running', data: 'checkpoint', boundS: 30 }),
  ...SIGNALS.map((sig) => serviceFault(`${sig} to the service`, (c) => void signalService(c.port, sig), { state: byPolicy(sig), data: 'checkpoint', boundS: 30 })),

  // Signals while the checkpoint is about to be taken: the dump fails or takes the restored tree.
  ...SIGNALS.map((sig) =>
    migrationFault({
      fault: `${sig} to the service`,
      phase: 'checkpoint',
      at: { host: SOURCE, point: 'checkpoint' },
      inject: async (c) => {
        signalService(c.port, sig);
        await sleep(1000); // the restart policy acts before the dump is let go
      },
      outcomes: ['migrated', 'failed'],
      expect: { state: byPolicy(sig), data: 'checkpoint', boundS: 60 },
    }),
  ),
  // The restored service dies on the target before it is verified: its policy restores it from
  // the migration image, or (SIGINT: standby) the check fails and the migration rolls back.
  ...(
    [
      ...SIGNALS.map((sig) => [`${sig} to the service`, (c: Ctx) => signalServiceGone(c.port, sig), sig === 'SIGINT' ? 'rolled-back' : 'migrated'] as const),
      ['memory limit exceeded', (c: Ctx) => grow(c, TARGET), 'migrated'] as const,
      ['service exits with an error', (c: Ctx) => exitWithError(c, TARGET), 'migrated'] as const,
    ] as const
  ).map(([fault, hurt, outcome]) =>
    migrationFault({
      fault,
      phase: 'verify',
      at: { host: TARGET, point: 'verify' },
      inject: async (c) => void (await hurt(c)),
      outcomes: [outcome],
      expect: { state: 'running', data: 'live', boundS: 90 },
    }),
  ),

  failingStep('target restore fails', 'restore', 'restore'),
  failingStep('verification fails', 'verify', 'verify'),
];

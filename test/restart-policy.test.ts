// The restart policy, as the host agent applies it to a real daemon with real processes and CRIU:
// what happens after the service ends on its own, recorded in the daemon's status with its reason.
import fs from 'fs';
import { decideByRules } from '../agent/restart-policy';
import { RestartPolicy } from '../common/schemas';
import { startDaemon, stopDaemons, until } from './daemon-harness';

afterAll(stopDaemons);
const exit = (code: number | null, signal: string | null) => ({ at: '', code, signal, reason: signal ? `killed by ${signal}` : `exited with code ${code}` });

test('rules: first match by exit code or signal, the fallback otherwise, the limit and the backoff', () => {
  const p = RestartPolicy.parse({ rules: [{ exitCodes: [3], action: 'scratch' }, { signals: ['SIGKILL'], action: 'restore' }], otherwise: 'standby', maxRestarts: 2, backoffMs: 100 });
  expect(decideByRules(p, exit(3, null), 0, false)).toMatchObject({ action: 'scratch', delayMs: 100 });
  expect(decideByRules(p, exit(3, null), 1, false)).toMatchObject({ action: 'scratch', delayMs: 200 });
  expect(decideByRules(p, exit(null, 'SIGKILL'), 0, true)).toMatchObject({ action: 'restore' });
  expect(decideByRules(p, exit(null, 'SIGKILL'), 0, false)).toMatchObject({ action: 'scratch', reason: expect.stringMatching(/no checkpoint/) });
  expect(decideByRules(p, exit(1, null), 0, true)).toMatchObject({ action: 'standby', delayMs: 0 });
  expect(decideByRules(p, exit(3, null), 2, true)).toMatchObject({ action: 'standby', reason: 'restart limit 2 reached' });
});

test('the default policy: after an exit the service waits in standby, the decision recorded', async () => {
  const d = await startDaemon({ command: ['sh', '-c', 'exit 3'] }, 'scratch', { restarts: true });
  await until(async () => (await d.status()).state === 'standby');
  const st = await d.status();
  expect(st.lastExit).toMatchObject({ code: 3, signal: null });
  expect(st.decisions).toEqual([expect.objectContaining({ action: 'standby', exit: st.lastExit })]);
  expect(st.restarts).toBe(0);
});

test('exit code 3 → restarted from scratch until the limit, then standby, every decision recorded', async () => {
  const d = await startDaemon({
    command: ['sh', '-c', 'echo started; sleep 0.2; exit 3'],
    restart: { rules: [{ exitCodes: [3], action: 'scratch' }], maxRestarts: 2, backoffMs: 50 },
  }, 'scratch', { restarts: true });
  await until(async () => (await d.status()).state === 'standby', 20_000);
  const st = await d.status();
  expect(st.restarts).toBe(2);
  expect(st.decisions.map((x) => x.action)).toEqual(['scratch', 'scratch', 'standby']);
  expect(st.decisions[2].reason).toBe('restart limit 2 reached');
  expect((await d.call<{ lines: string[] }>('GET', '/logs?lines=50')).lines.filter((l) => l === 'started')).toHaveLength(3);
});

test('SIGKILL → restored from the last checkpoint: the counter goes on from the checkpointed value', async () => {
  const d = await startDaemon({
    command: ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo "n=$i"; sleep 0.02; done'],
    restart: { rules: [{ signals: ['SIGKILL'], action: 'restore' }], backoffMs: 0 },
  }, 'scratch', { restarts: true });
  await until(async () => (await d.call<{ lines: string[] }>('GET', '/logs?lines=1')).lines.some((l) => Number(l.slice(2)) >= 30), 10_000);
  const logs = async () => (await d.call<{ lines: string[] }>('GET', '/logs?lines=2000')).lines.map((l) => Number(l.slice(2))).filter((n) => n > 0);
  const low = Math.max(...(await logs()));
  await d.call('POST', '/checkpoint', { checkpointId: 'p1', leaveRunning: true });
  const high = Math.max(...(await logs()));
  await until(async () => Math.max(...(await logs())) > high + 20, 10_000);
  const st0 = await d.status();
  const child = Number(fs.readFileSync(`/proc/${st0.pid}/task/${st0.pid}/children`, 'utf8').trim());
  process.kill(child, 'SIGKILL');
  await until(async () => (await d.status()).restarts === 1 && (await d.status()).state === 'running', 15_000);
  // after the restore the counter drops back to where it was at the checkpoint (not to 1)
  let restored = 0;
  await until(async () => {
    const n = await logs();
    const i = n.findIndex((v, k) => k > 0 && v < n[k - 1]);
    restored = i > 0 ? n[i] : 0;
    return restored > 0;
  }, 10_000);
  expect(restored).toBeGreaterThanOrEqual(low);
  expect(restored).toBeLessThanOrEqual(high + 2);
  expect((await d.status()).decisions.at(-1)).toMatchObject({ action: 'restore', exit: { signal: 'SIGKILL' } });
});

test('a restart hook chooses the action and wins over the rules', async () => {
  const d = await startDaemon({
    command: ['sh', '-c', 'exit 7'],
    restart: { rules: [{ action: 'scratch' }], hook: 'test "$FASTMIG_EXIT_CODE" = 7 && echo standby || echo scratch', maxRestarts: 3 },
  }, 'scratch', { restarts: true });
  await until(async () => (await d.status()).decisions.length > 0, 10_000);
  const st = await d.status();
  expect(st.decisions[0]).toMatchObject({ action: 'standby', reason: expect.stringMatching(/restart hook chose standby/) });
  expect(st.restarts).toBe(0);
});

test('a stop by the operator is not a failure: no restart', async () => {
  const d = await startDaemon({ command: ['sleep', '300'], restart: { otherwise: 'scratch', backoffMs: 0 } }, 'scratch', { restarts: true });
  await d.call('POST', '/stop', { graceMs: 1000 });
  await new Promise((r) => setTimeout(r, 300));
  const st = await d.status();
  expect(st).toMatchObject({ state: 'standby', restarts: 0, decisions: [] });
});

// The fencing rule as pure functions (common/quorum.ts): majorities, the agent's grant state, the
// monitor's count and the timing relations. No stack needed.
import {
  afterGrant,
  FENCE_MARGIN_SECONDS,
  initialGrants,
  isFresh,
  isMajority,
  lackAgeSeconds,
  leaseTiming,
  longestGrantGapSeconds,
  monitorQuorum,
  RENEW_EVERY_SECONDS,
  selfGrantAllowed,
  timingProblem,
  VOTE_TIMEOUT_SECONDS,
  vouches,
  type PingOutcome,
} from '../common/quorum';

const t = leaseTiming(20, 5);
const S = 1000;

test('strict majorities: two of them always share a voter', () => {
  expect(isMajority(2, 3)).toBe(true);
  expect(isMajority(1, 3)).toBe(false);
  expect(isMajority(2, 4)).toBe(false);
  expect(isMajority(3, 4)).toBe(true);
  for (let voters = 1; voters <= 9; voters++) {
    for (let a = 0; a <= voters; a++) {
      for (let b = 0; b <= voters; b++) {
        if (isMajority(a, voters) && isMajority(b, voters)) expect(a + b).toBeGreaterThan(voters);
      }
    }
  }
});

test('two hosts and the control plane: a lone cut-off host stops, two hosts without the control plane go on', () => {
  // the agent's side: itself + peers that vouch, out of hosts + 1 voters
  expect(selfGrantAllowed(0, 2)).toBe(false); // hostA alone, hostB has grants
  expect(selfGrantAllowed(1, 2)).toBe(true); // both lack the control plane
  expect(selfGrantAllowed(0, 1)).toBe(false); // a single host never renews on its own
  expect(selfGrantAllowed(1, 3)).toBe(false); // 2 of 4
  expect(selfGrantAllowed(2, 3)).toBe(true); // 3 of 4
  // the monitor's side: itself + hosts that answered with a long enough record of grants
  const long = t.fenceSeconds;
  const one: PingOutcome[] = [
    { host: 'hostA', answered: true, maybeReached: true, lackAgeSeconds: long },
    { host: 'hostB', answered: false, maybeReached: false },
  ];
  expect(monitorQuorum(one, t, 100)).toMatchObject({ voters: 3, reached: 2, majority: true, why: null });
  const none: PingOutcome[] = one.map((o) => ({ ...o, answered: false }));
  expect(monitorQuorum(none, t, 100)).toMatchObject({ reached: 1, majority: false });
  expect(monitorQuorum(none, t, 100).why).toMatch(/no majority: it reaches 1 of 3/);
});

test('the monitor counts no host that lacked grants or vouched within the lease and margin', () => {
  const recent: PingOutcome[] = [
    { host: 'hostA', answered: true, maybeReached: true, lackAgeSeconds: t.fenceSeconds - 0.5 },
    { host: 'hostB', answered: false, maybeReached: false },
  ];
  expect(monitorQuorum(recent, t, 100).majority).toBe(false);
  // an agent that says nothing about its grants (an older one) does not count either
  expect(monitorQuorum([{ host: 'hostA', answered: true, maybeReached: true }, recent[1]], t, 100).majority).toBe(false);
});

test('a round too long to rely on is no majority', () => {
  const ok: PingOutcome[] = [
    { host: 'hostA', answered: true, maybeReached: true, lackAgeSeconds: 100 },
    { host: 'hostB', answered: false, maybeReached: false },
  ];
  expect(monitorQuorum(ok, t, 5 * S).majority).toBe(true);
  const slow = monitorQuorum(ok, t, (t.freshSeconds - VOTE_TIMEOUT_SECONDS) * S);
  expect(slow.majority).toBe(false);
  expect(slow.why).toMatch(/took .* too long/);
});

test('grants: fresh for freshSeconds, dated at the schedule time but never in the future; lack is remembered', () => {
  const t0 = 1_000_000;
  let s = initialGrants(t0);
  expect(isFresh(s, t, t0)).toBe(false);
  expect(vouches(s, t, t0)).toBe(true); // a host that just started lacks grants
  expect(lackAgeSeconds(s, t, t0)).toBe(0);
  s = afterGrant(s, t, t0 + 2 * S, t0 + 1 * S); // scheduled "after" arrival by a skewed clock: arrival wins
  expect(s.grantAt).toBe(t0 + 1 * S);
  expect(s.lackedAt).toBe(t0 + 1 * S); // it lacked grants until this one
  expect(isFresh(s, t, t0 + 1 * S + t.freshSeconds * S)).toBe(true);
  expect(isFresh(s, t, t0 + 1 * S + t.freshSeconds * S + 1)).toBe(false);
  // a late ping grants nothing newer than what it had
  const late = afterGrant(s, t, t0, t0 + 3 * S);
  expect(late.grantAt).toBe(t0 + 1 * S);
  // within the grace after its lack ended it still vouches; later it does not
  expect(vouches(s, t, t0 + 5 * S)).toBe(true);
  let g = s;
  let now = t0 + 1 * S;
  while (now < t0 + 60 * S) {
    now += 5 * S;
    g = afterGrant(g, t, now, now);
  }
  expect(vouches(g, t, now)).toBe(false);
  expect(lackAgeSeconds(g, t, now)).toBeCloseTo((now - (t0 + 1 * S)) / 1000);
  // a vouch resets the age the monitor sees
  g = { ...g, vouchedAt: now - 3 * S };
  expect(lackAgeSeconds(g, t, now)).toBe(3);
});

test('timing: the relations hold for the defaults and are refused when broken', () => {
  expect(timingProblem({ leaseSeconds: 20, pingEverySeconds: 5, failoverAfterSeconds: 30 })).toBeNull();
  expect(t.minFailoverSeconds).toBe(20 + 5 + FENCE_MARGIN_SECONDS);
  expect(timingProblem({ leaseSeconds: 20, pingEverySeconds: 5, failoverAfterSeconds: 29 })).toMatch(/at least lease 20 s \+ ping interval 5 s \+ margin 5 s = 30 s/);
  expect(timingProblem({ leaseSeconds: 12, pingEverySeconds: 5, failoverAfterSeconds: 60 })).toMatch(/too short for pings every 5 s/);
  // A healthy host's grants are never further apart than it stays fresh ...
  expect(t.freshSeconds).toBeGreaterThan(longestGrantGapSeconds(5));
  // ... and a host that lacks them asks its peers and renews before its lease lapses.
  expect(t.freshSeconds + RENEW_EVERY_SECONDS + VOTE_TIMEOUT_SECONDS).toBeLessThan(t.leaseSeconds);
  // The grace after a lack is shorter than what the monitor waits after a vouch.
  expect(t.graceSeconds).toBeLessThan(t.fenceSeconds);
  for (const lease of [18, 20, 30, 60, 300]) {
    for (const ping of [1, 5]) {
      const x = leaseTiming(lease, ping);
      if (timingProblem({ leaseSeconds: lease, pingEverySeconds: ping, failoverAfterSeconds: x.minFailoverSeconds })) continue;
      expect(x.freshSeconds).toBeGreaterThan(longestGrantGapSeconds(ping));
      expect(x.freshSeconds + RENEW_EVERY_SECONDS + VOTE_TIMEOUT_SECONDS).toBeLessThan(lease);
      expect(x.graceSeconds).toBeLessThan(x.fenceSeconds);
      expect(x.minFailoverSeconds).toBeGreaterThan(x.fenceSeconds);
    }
  }
});

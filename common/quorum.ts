// The fencing rule, pure (no Node built-ins: the host monitor workflow imports it, the host agent
// runs it, unit tests check it). docs/architecture.md "Fencing" gives the argument in full.
//
// Voters: every registered host, plus the control plane (the host monitor) as one more.
// - A host agent extends its services' leases on a grant: the monitor's ping, dated when Temporal
//   scheduled it. Without a fresh grant it extends them only while it reaches a strict majority of
//   voters made of itself and peers that vouch, i.e. that lack fresh grants too (or lacked them
//   within the grace period). Otherwise its leases run out and its daemons stop their services.
// - The monitor fails a host over only after it may have reached it for the last time more than
//   failoverAfterSeconds ago, and only while it reaches a strict majority of voters: itself and the
//   hosts that answer its ping and have neither lacked grants nor vouched for longer than the lease
//   and the fencing margin.
// Two strict majorities of one voter set share a voter; the timing below makes that voter unable
// to stand on both sides within one lease, so both sides never act at once.

/** Daemon lease check (1 s) + stopping the tree (≤ 2 s) + clock skew between machines (≤ 1 s) + 1 s. */
export const FENCE_MARGIN_SECONDS = 5;
/** How long an agent waits for its peers' votes. */
export const VOTE_TIMEOUT_SECONDS = 2;
/** How often an agent renews its leases (or asks its peers). */
export const RENEW_EVERY_SECONDS = 2;
/** The monitor's ping: at most this long to reach the agent (schedule-to-start), then to answer. */
export const PING_START_SECONDS = 3;
export const PING_ANSWER_SECONDS = 2;
/** Clocks of the machines agree within this (NTP); part of the margins. */
export const CLOCK_SKEW_SECONDS = 1;
/** How often the monitor pings every host, unless its input says otherwise. */
export const DEFAULT_PING_EVERY_SECONDS = 5;

export interface LeaseTiming {
  leaseSeconds: number;
  /** A grant older than this is stale. Leaves a vote round and a renewal before the lease lapses. */
  freshSeconds: number;
  /** A host vouches this long after its own lack of grants ended (< lease + margin, see below). */
  graceSeconds: number;
  /** A lease surely ended, and its service stopped, this long after its last grant. */
  fenceSeconds: number;
  /** The least failoverAfterSeconds allowed: lease + ping interval + margin. */
  minFailoverSeconds: number;
}

export function leaseTiming(leaseSeconds: number, pingEverySeconds: number): LeaseTiming {
  return {
    leaseSeconds,
    freshSeconds: leaseSeconds - VOTE_TIMEOUT_SECONDS - RENEW_EVERY_SECONDS - 2,
    graceSeconds: leaseSeconds,
    fenceSeconds: leaseSeconds + FENCE_MARGIN_SECONDS,
    minFailoverSeconds: leaseSeconds + pingEverySeconds + FENCE_MARGIN_SECONDS,
  };
}

/** The longest a healthy host waits between two grants: a ping interval and a slow round. */
export function longestGrantGapSeconds(pingEverySeconds: number): number {
  return pingEverySeconds + PING_START_SECONDS + PING_ANSWER_SECONDS + 1;
}

/** Why these settings could let two copies live (or fence healthy hosts), or null when they hold. */
export function timingProblem(o: { leaseSeconds: number; pingEverySeconds: number; failoverAfterSeconds: number }): string | null {
  const t = leaseTiming(o.leaseSeconds, o.pingEverySeconds);
  const gap = longestGrantGapSeconds(o.pingEverySeconds);
  if (t.freshSeconds <= gap) {
    return `a lease of ${o.leaseSeconds} s is too short for pings every ${o.pingEverySeconds} s: grants may come ${gap} s apart, so the lease must be at least ${gap + 7} s`;
  }
  if (o.failoverAfterSeconds < t.minFailoverSeconds) {
    return `failover after ${o.failoverAfterSeconds} s could start a service while its lease still runs: it must be at least lease ${o.leaseSeconds} s + ping interval ${o.pingEverySeconds} s + margin ${FENCE_MARGIN_SECONDS} s = ${t.minFailoverSeconds} s`;
  }
  return null;
}

/** A strict majority of `voters`. */
export function isMajority(reached: number, voters: number): boolean {
  return 2 * reached > voters;
}

/** What a host agent knows about its grants (times in ms on its own clock). */
export interface GrantState {
  /** The newest grant (its ping's schedule time, never later than its arrival); null: none yet. */
  grantAt: number | null;
  /** The last moment it lacked grants (an agent starts lacking them: a restart forgets its votes). */
  lackedAt: number;
  /** The last time it vouched for a peer. */
  vouchedAt: number | null;
}

export const initialGrants = (now: number): GrantState => ({ grantAt: null, lackedAt: now, vouchedAt: null });

export function isFresh(s: GrantState, t: LeaseTiming, now: number): boolean {
  return s.grantAt !== null && now - s.grantAt <= t.freshSeconds * 1000;
}

/** A grant scheduled at `at` arrives `now`; a host that lacked grants until now remembers it. */
export function afterGrant(s: GrantState, t: LeaseTiming, at: number, now: number): GrantState {
  const lackedAt = isFresh(s, t, now) ? s.lackedAt : now;
  return { ...s, lackedAt, grantAt: Math.max(s.grantAt ?? 0, Math.min(at, now)) };
}

/** Whether this host vouches for a peer now: it lacks grants, or lacked them within the grace. */
export function vouches(s: GrantState, t: LeaseTiming, now: number): boolean {
  return !isFresh(s, t, now) || now - s.lackedAt <= t.graceSeconds * 1000;
}

/** The answer's lackAgeSeconds: since it last lacked grants or vouched (0 while it lacks them). */
export function lackAgeSeconds(s: GrantState, t: LeaseTiming, now: number): number {
  if (!isFresh(s, t, now)) return 0;
  return Math.max(0, now - Math.max(s.lackedAt, s.vouchedAt ?? 0)) / 1000;
}

/**
 * The agent's rule for a host without a fresh grant: renew on its own only with a strict majority
 * of voters (the registered hosts, itself included, and the control plane) made of itself and the
 * peers that vouched.
 */
export function selfGrantAllowed(peersVouching: number, hosts: number): boolean {
  return isMajority(1 + peersVouching, hosts + 1);
}

/** One host as the monitor saw it in a round of pings. */
export interface PingOutcome {
  host: string;
  /** The ping came back. */
  answered: boolean;
  /** The ping may have reached the agent (everything but "no agent took it within its time"). */
  maybeReached: boolean;
  lackAgeSeconds?: number;
}

export interface MonitorQuorum {
  voters: number;
  /** The monitor and the hosts that count for it this round. */
  reached: number;
  majority: boolean;
  /** Why the monitor may not fail anything over this round, or null. */
  why: string | null;
}

/**
 * The monitor's rule for one round: hosts count when they answered and have neither lacked grants
 * nor vouched for longer than the lease and margin; and the round itself must have been short
 * enough that every counted host stays fresh until the votes of this moment are all in.
 */
export function monitorQuorum(outcomes: PingOutcome[], t: LeaseTiming, roundMs: number): MonitorQuorum {
  const voters = outcomes.length + 1;
  const reached = 1 + outcomes.filter((o) => o.answered && (o.lackAgeSeconds ?? 0) >= t.fenceSeconds).length;
  const majority = isMajority(reached, voters);
  const slow = roundMs / 1000 + VOTE_TIMEOUT_SECONDS + CLOCK_SKEW_SECONDS > t.freshSeconds;
  const why = slow
    ? `the round of pings took ${Math.round(roundMs / 100) / 10} s, too long to rely on its answers`
    : majority
      ? null
      : `no majority: it reaches ${reached} of ${voters} voters (itself and hosts with fresh grants for ${t.fenceSeconds} s)`;
  return { voters, reached, majority: majority && !slow, why };
}

// The host's lease, kept by its agent by the rule of common/quorum.ts. The cluster grants it: each
// ping of the host monitor (dated when Temporal scheduled it) and, once, the agent's registration.
// While grants are fresh the agent dates its services' leases at the newest one. Without a fresh
// grant it asks its peers every few seconds whether they lack grants too, and dates the leases at
// the moment it asked only when itself and the peers that vouch make a strict majority of the
// voters (the registered hosts and the control plane); otherwise the leases run out and the
// daemons stop their services. It answers its peers' questions the same way (vote()).
import type { Logger } from '../common/log';
import {
  afterGrant,
  DEFAULT_PING_EVERY_SECONDS,
  initialGrants,
  isFresh,
  lackAgeSeconds,
  leaseTiming,
  RENEW_EVERY_SECONDS,
  selfGrantAllowed,
  vouches,
  type GrantState,
  type LeaseTiming,
} from '../common/quorum';
import type { LeaseGrant, PingAnswer, QuorumVote, Voter } from '../common/schemas';
import { writeLeases } from './lease';

export interface LeaseKeeperOptions {
  host: string;
  home: string;
  /** This agent's lease (its daemons stop after it); the cluster's comes with each grant. */
  leaseSeconds: number;
  log: Logger;
  /** Asks one peer for its vote; true only for a verified "I vouch" (agent/peer-votes.ts). */
  ask: (peer: Voter) => Promise<boolean>;
  now?: () => number;
}

type Standing = 'granted' | 'peers' | 'none';

export class LeaseKeeper {
  private s: GrantState;
  private timing: LeaseTiming;
  private clusterLeaseSeconds: number;
  private voters: Voter[] = [];
  private selfGrantAt: number | null = null;
  private asking = false;
  private standing: Standing | null = null;
  private readonly now: () => number;

  constructor(private readonly o: LeaseKeeperOptions) {
    this.now = o.now ?? Date.now;
    this.s = initialGrants(this.now());
    this.timing = leaseTiming(o.leaseSeconds, DEFAULT_PING_EVERY_SECONDS);
    this.clusterLeaseSeconds = o.leaseSeconds;
  }

  /** The last known list of voters (the registry's hosts): kept, since a host cut off cannot read it. */
  setVoters(voters: Voter[]): void {
    if (voters.length) this.voters = voters;
  }

  /** A registration (record written, Temporal reached, no down mark) taken at `at`. */
  registered(at: number): void {
    this.s = afterGrant(this.s, this.timing, at, this.now());
    this.renew();
  }

  /** The monitor's ping (scheduled at `scheduledAt`, server time) with its grant; other pings grant nothing. */
  ping(grant: LeaseGrant | undefined, scheduledAt: number): PingAnswer {
    const now = this.now();
    if (grant) {
      this.timing = { ...leaseTiming(grant.leaseSeconds, DEFAULT_PING_EVERY_SECONDS), freshSeconds: grant.freshSeconds, graceSeconds: grant.graceSeconds };
      if (grant.leaseSeconds < this.o.leaseSeconds && this.clusterLeaseSeconds === this.o.leaseSeconds) {
        this.o.log.warn({ own: this.o.leaseSeconds, cluster: grant.leaseSeconds }, "this agent's lease is longer than the cluster's: its leases are dated earlier to match");
      }
      this.clusterLeaseSeconds = grant.leaseSeconds;
      this.setVoters(grant.hosts);
      this.s = afterGrant(this.s, this.timing, scheduledAt, now);
      this.renew();
    }
    return { host: this.o.host, pid: process.pid, lackAgeSeconds: lackAgeSeconds(this.s, this.timing, now) };
  }

  /** This host's answer to a peer that lacks grants. */
  vote(_peer: string): QuorumVote {
    const now = this.now();
    const yes = vouches(this.s, this.timing, now);
    if (yes) this.s = { ...this.s, vouchedAt: now };
    return { host: this.o.host, vouches: yes };
  }

  /** The host's lease is fresh from a grant of the cluster (a ping of the monitor, or its registration). */
  grantedByCluster(): boolean {
    return isFresh(this.s, this.timing, this.now());
  }

  /** The time the host's leases run from now (ms; 0 when it has none): a new service's first lease. */
  base(): number {
    const at = Math.max(this.s.grantAt ?? 0, this.selfGrantAt ?? 0);
    return at ? at - this.shiftMs() : 0;
  }

  /** Renews (or asks the peers) every RENEW_EVERY_SECONDS. */
  start(): NodeJS.Timeout {
    this.renew();
    return setInterval(() => this.renew(), RENEW_EVERY_SECONDS * 1000);
  }

  /** An agent whose own lease is longer than the cluster's dates its leases earlier by the difference. */
  private shiftMs(): number {
    return Math.max(0, this.o.leaseSeconds - this.clusterLeaseSeconds) * 1000;
  }

  private renew(): void {
    if (isFresh(this.s, this.timing, this.now())) {
      this.say('granted', { grantAgeS: Math.round((this.now() - this.s.grantAt!) / 1000) }, 'the cluster grants this host its lease again');
      writeLeases(this.o.host, this.o.home, this.s.grantAt! - this.shiftMs());
      return;
    }
    if (this.asking) return;
    this.asking = true;
    this.askPeers()
      .catch((err) => this.o.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'asking the peers failed'))
      .finally(() => (this.asking = false));
  }

  private async askPeers(): Promise<void> {
    const askedAt = this.now();
    const hosts = new Set([...this.voters.map((v) => v.host), this.o.host]).size;
    const peers = this.voters.filter((v) => v.host !== this.o.host);
    const answers = await Promise.all(peers.map((p) => this.o.ask(p).catch(() => false)));
    if (isFresh(this.s, this.timing, this.now())) return; // a grant came meanwhile
    const vouching = peers.filter((_, i) => answers[i]).map((p) => p.host);
    const info = { vouching, voters: hosts + 1, lastGrant: this.s.grantAt ? new Date(this.s.grantAt).toISOString() : null };
    if (selfGrantAllowed(vouching.length, hosts)) {
      this.selfGrantAt = Math.max(this.selfGrantAt ?? 0, askedAt);
      this.say('peers', info, 'no grant from the cluster, but a majority of peers lacks it too: the lease is renewed');
      writeLeases(this.o.host, this.o.home, askedAt - this.shiftMs());
    } else {
      this.say('none', info, 'no grant from the cluster and no majority of peers: leases run out, services will stop');
    }
  }

  private say(standing: Standing, info: object, msg: string): void {
    if (this.standing === standing) return;
    const first = this.standing === null;
    this.standing = standing;
    if (standing === 'granted') {
      if (!first) this.o.log.info(info, msg);
    } else this.o.log.warn(info, msg);
  }
}

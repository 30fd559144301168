// The lease grant the host monitor sends with its ping, the agent's answer, and one host's vote
// when a peer asks whether it too lacks grants (common/quorum.ts holds the rule itself).
import { z } from 'zod';
import { HostName } from './names';

/** A voter: a registered host and the image endpoint where its agent answers peers. */
export const Voter = z.object({ host: HostName, peerUrl: z.string().url().optional() }).strict();
export type Voter = z.infer<typeof Voter>;

/** Sent with the monitor's ping: the cluster's timing and the hosts that vote (the registry's list). */
export const LeaseGrant = z
  .object({
    leaseSeconds: z.number().int().min(1).max(3600),
    /** A grant older than this is stale: the agent lacks grants and must find a majority of peers. */
    freshSeconds: z.number().positive().max(3600),
    /** After its own lack ended, a host still vouches for its peers this long (they may come back later). */
    graceSeconds: z.number().min(0).max(3600),
    hosts: z.array(Voter).max(1000),
  })
  .strict();
export type LeaseGrant = z.infer<typeof LeaseGrant>;

export interface PingAnswer {
  host: string;
  pid: number;
  /**
   * Seconds since this host last lacked grants or vouched for a peer that did (0 while it lacks
   * them). The monitor counts a host as its voter only when this exceeds the lease and margin.
   */
  lackAgeSeconds?: number;
}

/** A host's answer to a peer's question "do you lack grants too?". */
export const QuorumVote = z.object({ host: HostName, vouches: z.boolean() }).strict();
export type QuorumVote = z.infer<typeof QuorumVote>;

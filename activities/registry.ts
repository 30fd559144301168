// Orchestrator activities that adapt to the placement registry: which service runs where, with
// which spec, kept as JSON objects in the image store so it outlives every fastmig process.
import type { Client } from 'minio';
import { keys } from '../common/names';
import { Placement, HostRecord, parseOrThrow } from '../common/schemas';
import { listKeys, readJson, writeJson } from '../common/s3';
import { DEFAULT_PING_EVERY_SECONDS, leaseTiming } from '../common/quorum';
import { freeAddress } from '../common/address-pool';

/**
 * leaseSeconds: how long a host's daemons keep serving without their agent (the cluster's setting).
 * serviceAddresses: the block services' own addresses come from (null: none).
 */
export function createRegistryActivities(s3: Client, bucket: string, leaseSeconds = 20, serviceAddresses: string | null = null) {
  // Claims are read, changed and written back one at a time (this process is the only orchestrator
  // worker of a cluster; with several, two deployments at once could be given one address).
  let claims: Promise<unknown> = Promise.resolve();
  const claimsExclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = claims.then(fn, fn);
    claims = run.catch(() => undefined);
    return run;
  };
  const readClaims = async () => (await readJson<Record<string, string>>(s3, bucket, keys.serviceAddresses)) ?? {};
  return {
    /**
     * The service's own address (the one it has, or a free one of the block), or null when the
     * cluster has no block. An address whose service has no record any more is free again.
     */
    async claimServiceAddress(req: { service: string }): Promise<string | null> {
      if (!serviceAddresses) return null;
      return claimsExclusive(async () => {
        const held = await readClaims();
        const mine = Object.keys(held).find((a) => held[a] === req.service);
        if (mine) return mine;
        let address = freeAddress(serviceAddresses, Object.keys(held));
        if (!address) {
          const placed = new Set((await listKeys(s3, bucket, keys.placementsPrefix)).map((k) => k.slice(keys.placementsPrefix.length).replace(/\.json$/, '')));
          for (const a of Object.keys(held)) if (!placed.has(held[a])) delete held[a];
          address = freeAddress(serviceAddresses, Object.keys(held));
        }
        if (!address) throw new Error(`no free service address left in ${serviceAddresses}`);
        await writeJson(s3, bucket, keys.serviceAddresses, { ...held, [address]: req.service });
        return address;
      });
    },
    async releaseServiceAddress(req: { service: string }): Promise<void> {
      await claimsExclusive(async () => {
        const held = await readClaims();
        const left = Object.fromEntries(Object.entries(held).filter(([, s]) => s !== req.service));
        if (Object.keys(left).length !== Object.keys(held).length) await writeJson(s3, bucket, keys.serviceAddresses, left);
      });
    },
    /** How long to wait before a silent host's instances are surely fenced (lease plus a margin). */
    async fencingSeconds(): Promise<number> {
      return leaseTiming(leaseSeconds, DEFAULT_PING_EVERY_SECONDS).fenceSeconds;
    },
    async getHost(host: string): Promise<HostRecord | null> {
      return readJson<HostRecord>(s3, bucket, keys.host(host));
    },
    /**
     * The monitor marks a host down before failing it over, then reads its record; the host's agent
     * writes its record, then reads the mark. One of the two sees the other's write, so a
     * registration never counts as a grant unseen by a failover (docs/architecture.md, Fencing).
     */
    async markHostDown(req: { host: string; at: string }): Promise<void> {
      await writeJson(s3, bucket, keys.hostDown(req.host), req);
    },
    async clearHostDown(host: string): Promise<void> {
      await s3.removeObject(bucket, keys.hostDown(host));
    },
    async hostDownMark(host: string): Promise<{ host: string; at: string } | null> {
      return readJson<{ host: string; at: string }>(s3, bucket, keys.hostDown(host));
    },
    async getPlacement(service: string): Promise<Placement | null> {
      const raw = await readJson<unknown>(s3, bucket, keys.placement(service));
      return raw ? parseOrThrow(Placement, raw, `placement record of ${service}`) : null;
    },
    async putPlacement(p: Placement): Promise<void> {
      await writeJson(s3, bucket, keys.placement(p.spec.name), parseOrThrow(Placement, p, 'placement'));
    },
    async deletePlacement(service: string): Promise<void> {
      await s3.removeObject(bucket, keys.placement(service));
    },
    async listPlacements(): Promise<Placement[]> {
      const names = await listKeys(s3, bucket, keys.placementsPrefix);
      const out: Placement[] = [];
      for (const k of names) {
        const raw = await readJson<unknown>(s3, bucket, k);
        if (raw) out.push(parseOrThrow(Placement, raw, k));
      }
      return out.sort((a, b) => a.spec.name.localeCompare(b.spec.name));
    },
    async listHosts(): Promise<HostRecord[]> {
      const names = await listKeys(s3, bucket, keys.hostsPrefix);
      const out: HostRecord[] = [];
      for (const k of names) {
        const r = await readJson<HostRecord>(s3, bucket, k);
        if (r) out.push(r);
      }
      return out;
    },
    async deleteUpload(key: string): Promise<void> {
      await s3.removeObject(bucket, key);
    },
    /** Keeps the newest `keep` images of a service (by manifest time) and deletes the others. */
    async pruneImages(req: { service: string; keep: number }): Promise<{ kept: string[]; deleted: string[] }> {
      const names = await listKeys(s3, bucket, keys.imagePrefix(req.service));
      const ids = [...new Set(names.map((n) => n.slice(keys.imagePrefix(req.service).length).split('/')[0]))];
      const dated: { id: string; at: string }[] = [];
      for (const id of ids) {
        const m = await readJson<{ createdAt: string }>(s3, bucket, keys.imageManifest(req.service, id));
        dated.push({ id, at: m?.createdAt ?? '' });
      }
      dated.sort((a, b) => b.at.localeCompare(a.at));
      const kept = dated.slice(0, req.keep).map((d) => d.id);
      const deleted = dated.slice(req.keep).map((d) => d.id);
      const doomed = names.filter((n) => deleted.some((id) => n.startsWith(`${keys.imagePrefix(req.service)}${id}/`)));
      if (doomed.length) await s3.removeObjects(bucket, doomed);
      return { kept, deleted };
    },
    async deleteImages(service: string): Promise<{ deleted: number }> {
      const names = await listKeys(s3, bucket, keys.imagePrefix(service));
      if (names.length) await s3.removeObjects(bucket, names);
      return { deleted: names.length };
    },
  };
}
export type RegistryActivities = ReturnType<typeof createRegistryActivities>;

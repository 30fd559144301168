// The cost of kept directories (--keep) in a migration: the same bench service, migrated warm with a
// directory of files kept, against the plain warm runs of the same size in the same run.
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { ops } from '../client';
import { fastmigHome } from '../common/config';
import { deployBench, HOSTS, migrateOnce, type MigRun } from './stack-runs';
import type { DirectDriver } from './direct';

/** Where the service keeps it, as every host sees it (each host has a /srv of its own). */
const KEPT = '/srv/bench-kept';
const onHost = (host: string) => path.join(fastmigHome(), 'srv', host, path.basename(KEPT));

/** `mib` files of 1 MiB of random bytes on hostA (no codec shrinks them); the other hosts have none. */
function fill(mib: number): void {
  for (const host of HOSTS) fs.rmSync(onHost(host), { recursive: true, force: true });
  fs.mkdirSync(onHost('hostA'), { recursive: true });
  for (let i = 0; i < mib; i++) fs.writeFileSync(path.join(onHost('hostA'), `f${i}.bin`), crypto.randomBytes(1 << 20));
}

export async function keptRuns(sizeMiB: number, keptMiB: number, runs: number, direct: DirectDriver): Promise<MigRun[]> {
  fill(keptMiB);
  const svc = await deployBench(`bench-k${sizeMiB}`, 'hostA', sizeMiB, 1, 'process', [KEPT]);
  const out: MigRun[] = [];
  try {
    for (let i = 0; i < runs; i++) out.push(await migrateOnce(svc, 'warm', direct));
  } finally {
    await ops.remove(svc.name);
    for (const host of HOSTS) fs.rmSync(onHost(host), { recursive: true, force: true });
  }
  return out;
}

// The same service moved over a shaped link (`--link <rate>`, 100mbit unless `--link none`). The
// stack comes up with every host's link limited to the rate (`stack up --link`), a service of
// `sizeMiB` is moved with fastmig's warm and lazy migrations, and (full runs) the CRIU-level
// post-copy moves a bare tree of the same size between the same two hosts (pages over the link).
// The caller puts the previous link setting back.
import { ops } from '../client';
import { stackUp } from '../stack';
import { formatLinkRate } from '../stack/link';
import type { CriuRun } from './criu-level';
import type { DirectDriver } from './direct';
import { lazyAcross } from './lazy-link';
import { hostPlace } from './places';
import { figures, type Results, type Shaped } from './results';
import { deployBench, HOSTS, migrateOnce, MigRun } from './stack-runs';

export interface ShapedOptions {
  bps: number;
  sizeMiB: number;
  runs: number;
  criu: string;
  /** The pipe limits for lazy dumps could be lifted (daemon/post-copy.ts liftPipeLimits). */
  lazyOk: boolean;
  /** Also CRIU alone (the lazyCriu row); quick runs leave it out. */
  criuLevel: boolean;
  direct: DirectDriver;
  say: (line: string) => void;
}

export async function shapedRuns(o: ShapedOptions): Promise<Shaped> {
  const rate = formatLinkRate(o.bps);
  const at = `${o.sizeMiB} MiB on ${rate}`;
  o.say(`shaped link: stack up --link ${rate}…`);
  await stackUp({ linkBps: o.bps }, o.say);
  // The whole state crosses the link once (and the stored copy once more): generous limits.
  const crossMs = ((o.sizeMiB * 1024 * 1024 * 8) / o.bps) * 1000;
  const warm: MigRun[] = [];
  const lazy: MigRun[] = [];
  const svc = await deployBench(`bench-l${o.sizeMiB}`, HOSTS[0], o.sizeMiB);
  try {
    for (let i = 0; i < o.runs; i++) {
      o.say(`${at}: warm and lazy migrations, run ${i + 1}/${o.runs}`);
      warm.push(await migrateOnce(svc, 'warm', o.direct));
      if (o.lazyOk) lazy.push(await migrateOnce(svc, 'lazy', o.direct));
    }
  } finally {
    await ops.remove(svc.name).catch(() => undefined);
  }
  const lazyCriu: CriuRun[] = [];
  if (o.lazyOk && o.criuLevel) {
    for (let i = 0; i < o.runs; i++) {
      o.say(`${at}: lazy (CRIU level, ${HOSTS[0]} → ${HOSTS[1]}), run ${i + 1}/${o.runs}`);
      lazyCriu.push(await lazyAcross(o.criu, o.sizeMiB, hostPlace(HOSTS[0]), hostPlace(HOSTS[1]), Math.max(120_000, 3 * crossMs)));
    }
  }
  const rows = { warm: figures(warm), ...(lazy.length ? { lazy: figures(lazy) } : {}), ...(lazyCriu.length ? { lazyCriu: figures(lazyCriu) } : {}) };
  return { rate, sizeMiB: o.sizeMiB, rows };
}

/** The closing line's keys for the shaped figures, e.g. warm256On100mbitMs. */
export function shapedRatios(s: Shaped | undefined): Results['ratios'] {
  if (!s) return {};
  const tag = `${s.sizeMiB}On${s.rate}`;
  const warm = s.rows.warm?.downtimeMs.median;
  const lazy = s.rows.lazy?.downtimeMs.median;
  return {
    [`warm${tag}Ms`]: warm ?? null,
    [`lazy${tag}Ms`]: lazy ?? null,
    [`lazyAllPages${tag}Ms`]: s.rows.lazy?.pagesDoneMs?.median ?? null,
    [`warmOverLazy${tag}`]: warm !== undefined && lazy ? Math.round((warm / lazy) * 1000) / 1000 : null,
    ...(s.rows.lazyCriu ? { [`lazyCriu${tag}Ms`]: s.rows.lazyCriu.downtimeMs.median } : {}),
  };
}

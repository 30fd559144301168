// `npm run bench [-- --quick] [--json] [--runs N] [--sizes 16,256,1024]`: fastmig's performance
// benchmark. Every figure is the median of several runs on the same service and state; the
// closing line (with --json) holds the ratios. Writes docs/benchmarks.md and its plot.
// `--docker-sizes 16,256` picks the sizes also measured in a container (default: every size; the
// quick run only the smallest, to stay within its time).
// Every run ends with migrations of a 256 MiB service with the hosts' links shaped to 100mbit
// (`--link <rate>` for another rate, `--link none` to leave it out; bench/shaped.ts); the other
// rows run unshaped, and the link setting found is put back at the end.
import { loadConfig, readStackFile } from '../common/config';
import { ops } from '../client';
import { stackDown, stackStatus, stackUp } from '../stack';
import { parseLinkRate } from '../stack/link';
import { ensureDemoImages } from '../demo/images';
import { cleanTmpfs, CriuRun, floorRun, lazyRun } from './criu-level';
import { liftPipeLimits } from '../daemon/post-copy';
import { compressionChoices } from './compression';
import { directDriver } from './direct';
import { concurrency, daemonCost, deployBench, HOSTS, MigRun, migrateOnce, restartOnce, throughput } from './stack-runs';
import { round, spread } from './stats';
import { writeReport } from './report';
import { figures, type Figures, type Results } from './results';
import { shapedRuns, shapedRatios } from './shaped';
import { keptRuns } from './kept';

/** The size moved over the shaped link (--link). */
const SHAPED_MIB = 256;

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const ratio = (a?: number, b?: number) => (a !== undefined && b ? round(a / b, 3) : null);

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const json = process.argv.includes('--json');
  const runs = Number(option('runs') ?? (quick ? 3 : 5));
  const sizes = (option('sizes') ?? (quick ? '16,256' : '16,256,1024')).split(',').map(Number);
  const dockerSizes = option('docker-sizes')?.split(',').map(Number) ?? (quick ? sizes.slice(0, 1) : sizes);
  const procsList = [1, 2, 4, 8, 16];
  // The shaped section runs at 100mbit unless told another rate, or none.
  const linkBps = option('link') === 'none' ? undefined : parseLinkRate(option('link') ?? '100mbit');
  const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const t0 = Date.now();
  const r: Results = { quick, runs, startedAt: new Date().toISOString(), cpus: require('os').cpus().length, sizes: {}, procs: {}, compression: {}, ratios: {}, notes: [] };

  const wasUp = (await stackStatus())?.up ?? false;
  // The rows below are measured on unshaped links; whatever setting was found is put back at the end.
  const linkFound = readStackFile()?.linkBps ?? null;
  let linkChanged = linkFound !== null;
  if (linkChanged) say("the hosts' links were shaped: unshaped for the benchmark, shaped again at the end");
  await stackUp({ linkBps: null }, say); // reuses what runs; restarts agents built from older code
  const criu = loadConfig().criuPath;
  const direct = directDriver();
  const lazyOk = liftPipeLimits();
  if (!lazyOk) r.notes.push('lazy: could not lift the pipe limits (/proc/sys/fs/pipe-user-pages-soft), lazy runs skipped');
  const skipped = sizes.filter((s) => !dockerSizes.includes(s));
  if (skipped.length) r.notes.push(`docker runtime: not measured at ${skipped.join(', ')} MiB in this run`);
  try {
    await direct.ready(HOSTS);
    if (sizes.some((s) => dockerSizes.includes(s))) {
      say('making sure the Debian image is on every host (docker runs)…');
      await ensureDemoImages();
    }
    for (const size of sizes) {
      const per: Record<string, (MigRun | CriuRun)[]> = { floor: [], warm: [], cold: [], lazy: [], warmKept: [], warmDocker: [], coldDocker: [], lazyCriu: [], restart: [], direct: [] };
      say(`${size} MiB: floor${lazyOk ? ' and lazy' : ''} (CRIU level, tmpfs)…`);
      for (let i = 0; i < runs; i++) {
        per.floor.push(await floorRun(criu, size));
        if (lazyOk) per.lazyCriu.push(await lazyRun(criu, size));
      }
      say(`${size} MiB: compression choices on its image…`);
      r.compression[size] = await compressionChoices(criu, size);
      say(`${size} MiB: deploying the bench service…`);
      const svc = await deployBench(`bench-${size}`, 'hostA', size);
      for (let i = 0; i < runs; i++) {
        say(`${size} MiB: migrations, run ${i + 1}/${runs}`);
        per.warm.push(await migrateOnce(svc, 'warm', direct));
        per.cold.push(await migrateOnce(svc, 'cold', direct));
        if (lazyOk) per.lazy.push(await migrateOnce(svc, 'lazy', direct));
        if (size === sizes[0]) per.direct.push(await migrateOnce(svc, 'direct', direct));
      }
      for (let i = 0; i < runs; i++) per.restart.push(await restartOnce(svc, direct));
      if (size === sizes[0]) {
        const keptMiB = quick ? 64 : 256;
        say(`${size} MiB: warm migrations with a ${keptMiB} MiB kept directory…`);
        per.warmKept = await keptRuns(size, keptMiB, runs, direct);
        r.notes.push(`warm, with a kept directory: the ${size} MiB service with --keep of a directory of ${keptMiB} files of 1 MiB (random bytes), unchanged while it runs: copied whole before the freeze, only what changed during it copied inside; the whole copy still travels with the image after the freeze (it is not sent ahead yet), so the transfer inside the downtime grows with the directory`);
        say('daemon cost (memory, idle CPU) and throughput with wrk…');
        r.daemon = await daemonCost(svc, direct, quick ? 3000 : 10_000);
        const secs = quick ? 2 : 3;
        const tp = await throughput(svc, size, quick ? 3 : 5, secs);
        r.throughput = { bare: spread(tp.bare), daemon: spread(tp.daemon), seconds: secs };
      }
      await ops.remove(svc.name);
      if (dockerSizes.includes(size)) {
        say(`${size} MiB: the same service in a container (docker runtime)…`);
        const box = await deployBench(`bench-d${size}`, 'hostA', size, 1, 'docker');
        for (let i = 0; i < runs; i++) {
          say(`${size} MiB: docker migrations, run ${i + 1}/${runs}`);
          per.warmDocker.push(await migrateOnce(box, 'warm', direct));
          per.coldDocker.push(await migrateOnce(box, 'cold', direct));
        }
        await ops.remove(box.name);
      }
      r.sizes[size] = Object.fromEntries(Object.entries(per).filter(([, v]) => v.length).map(([k, v]) => [k, figures(v)]));
    }

    say(`multi-process services: ${procsList.join(', ')} processes…`);
    for (const n of procsList) {
      const svc = await deployBench(`bench-p${n}`, 'hostA', 0, n);
      const got: MigRun[] = [];
      for (let i = 0; i < runs; i++) got.push(await migrateOnce(svc, 'direct', direct));
      await ops.remove(svc.name);
      r.procs[n] = { restoreMs: spread(got.map((g) => g.restoreMs!)), downtimeMs: spread(got.map((g) => g.downtimeMs)) };
    }

    say('20 concurrent migrations vs one…');
    const c = await concurrency(20, sizes[0], quick ? 2 : 3);
    r.concurrency = { one: spread(c.oneMs), allMs: c.allMs, count: c.count };

    if (linkBps !== undefined) {
      linkChanged = true;
      r.shaped = await shapedRuns({ bps: linkBps, sizeMiB: SHAPED_MIB, runs, criu, lazyOk, criuLevel: !quick, direct, say });
    }
  } finally {
    await direct.close();
    cleanTmpfs();
    if (linkChanged) await stackUp({ linkBps: linkFound }, say);
    if (!wasUp) await stackDown(say);
  }

  const s0 = r.sizes[sizes[0]];
  const largest = sizes[sizes.length - 1];
  const sL = r.sizes[largest];
  const tp = r.throughput?.daemon;
  // Cold over warm at every size (the first size's key keeps its old name).
  const bySize = (key: string, cold: 'cold' | 'coldDocker', warm: 'warm' | 'warmDocker') =>
    Object.fromEntries(sizes.slice(1).map((s) => [`${key}${s}`, ratio(med(r.sizes[s][cold]), med(r.sizes[s][warm]))]));
  const lazySize = [...sizes].reverse().find((s) => r.sizes[s]?.lazy);
  const med = (f?: Figures) => f?.downtimeMs.median;
  r.ratios = {
    warmOverFloor: ratio(med(s0.warm), med(s0.floor)),
    coldOverWarm: ratio(med(s0.cold), med(s0.warm)),
    warmOverLazy: lazySize ? ratio(med(r.sizes[lazySize].warm), med(r.sizes[lazySize].lazy)) : null,
    lazySizeMiB: lazySize ?? null,
    warmOverFloor1G: ratio(med(sL.warm), med(sL.floor)),
    largestSizeMiB: largest,
    lazyGrowth: ratio(med(sL.lazy), med(s0.lazy)),
    lazyPagesAcrossMs: sL.lazy?.pagesDoneMs?.median ?? null,
    lazyServedWindowMs: sL.lazy?.servedWindowMs?.median ?? null,
    transferMBps: sL.warm?.transferMBps?.median ?? null,
    // By the clients' gap (downtime), not CRIU's restore step alone.
    restore16Over1: ratio(r.procs[16]?.downtimeMs.median, r.procs[1]?.downtimeMs.median),
    restore16Over1Criu: ratio(r.procs[16]?.restoreMs.median, r.procs[1]?.restoreMs.median),
    cpuSecondsPerMigration: s0.warm?.cpuSeconds?.median ?? null,
    temporalOverDirect: ratio(s0.warm?.totalMs.median, s0.direct?.totalMs.median),
    daemonPrivateMiB: r.daemon ? round(r.daemon.daemonPrivateMiB, 2) : null,
    throughputUnderDaemon: r.throughput ? ratio(r.throughput.daemon.median, r.throughput.bare.median) : null,
    throughputSpread: tp ? ratio(tp.max - tp.min, tp.median) : null,
    concurrent20OverOne: r.concurrency ? ratio(r.concurrency.allMs, r.concurrency.one.median) : null,
    coldOverWarmDocker: ratio(med(s0.coldDocker), med(s0.warmDocker)),
    ...bySize('coldOverWarm', 'cold', 'warm'),
    ...bySize('coldOverWarmDocker', 'coldDocker', 'warmDocker'),
    keptOverWarm: ratio(med(s0.warmKept), med(s0.warm)),
    ...shapedRatios(r.shaped),
  };
  if (s0.direct) {
    r.notes.push(
      'direct runs: each host\'s steps run in a process of the benchmark\'s on that host (its network namespace, its view of the host folders, ' +
        'its address), called over a unix socket; the registry is written from this machine. Unlike the workflow, the transfer is asked for ' +
        'once the checkpoint returned (the agent\'s image endpoint cannot hear of a dump it did not take).',
    );
  }
  if (direct.uploadsFailed) r.notes.push(`direct runs: ${direct.uploadsFailed} image upload(s) to S3 failed after the cut-over (the service had moved; the record kept the previous checkpoint)`);
  r.notes.push(`wall time of the benchmark: ${Math.round((Date.now() - t0) / 1000)} s`);
  const md = writeReport(r);
  say(`done in ${Math.round((Date.now() - t0) / 1000)} s; wrote ${md}`);
  if (json) process.stdout.write(`${JSON.stringify(r.ratios)}\n`);
  else process.stdout.write(`${JSON.stringify(r.ratios, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack || err.message : String(err)}\n`);
    process.exit(1);
  },
);

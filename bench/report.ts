// Writes the benchmark's results: docs/benchmarks.json (everything), docs/benchmarks-downtime.png
// (gnuplot) and docs/benchmarks.md (tables, plot, then the hand-written analysis that follows the
// marker line in the previous docs/benchmarks.md, kept as it is). A --quick run writes the same
// under docs/benchmarks-quick.* and leaves the full run's files alone.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { execFileSync } from 'child_process';
import { REPO_ROOT } from '../common/config';
import type { Figures, Results, Row } from './results';
import type { Spread } from './stats';

const DOCS = path.join(REPO_ROOT, 'docs');
const base = (r: Results) => (r.quick ? 'benchmarks-quick' : 'benchmarks');
export const ANALYSIS_MARKER = '<!-- analysis: kept across runs -->';

const ms = (s?: Spread) => (s && s.n ? `${s.median} (${s.min}–${s.max})` : '–');
const MODE_LABEL: Record<Row, string> = {
  floor: 'floor (bare criu dump + restore, tmpfs)',
  lazy: 'lazy (fastmig --mode lazy, Temporal)',
  lazyCriu: 'lazy (CRIU level: post-copy, page server)',
  warm: 'warm (fastmig default, Temporal)',
  cold: 'cold (FastFreeze-style, Temporal)',
  warmKept: 'warm, with a kept directory (--keep, see notes)',
  warmDocker: 'warm (docker)',
  coldDocker: 'cold (docker)',
  direct: 'warm steps driven directly (no Temporal)',
  restart: 'restart from scratch (state lost)',
};

const TABLE_HEAD = '| state | mode | downtime (probe) | freeze → answering | total | restore step | all pages moved |';
const tableRow = (state: string, label: string, f: Figures) =>
  `| ${state} | ${label} | ${ms(f.downtimeMs)} | ${ms(f.freezeToResumeMs)} | ${ms(f.totalMs)} | ${ms(f.restoreMs)} | ${ms(f.pagesDoneMs)} |`;

/** `--link`: the shaped figures beside the unshaped ones of the same size. */
function shapedSection(r: Results, L: string[]): void {
  const s = r.shaped!;
  const plain = r.sizes[s.sizeMiB] ?? {};
  L.push('', `## On a shaped link (${s.rate})`, '');
  L.push(
    `Every host's link (and the control plane's) limited to ${s.rate} with tc (\`stack up --link ${s.rate}\`; rate only, no added delay or loss). ` +
      'warm: fastmig\'s warm migration between the two hosts, the image over the link from agent to agent, the stored copy to S3 over it too. ' +
      'lazy: fastmig\'s lazy migration of the same service (its small images over the link first, its pages pulled over it afterwards). ' +
      'lazy (CRIU level, full runs only): CRIU alone, a bare tree dumped with --lazy-pages on one host and restored on the other. ' +
      'The unshaped rows of the same size come from the tables above (their CRIU-level lazy row on loopback).',
    '',
  );
  L.push(TABLE_HEAD, '| --- | --- | --- | --- | --- | --- | --- |');
  const at = `${s.sizeMiB} MiB`;
  if (s.rows.warm) L.push(tableRow(at, `warm, ${s.rate}`, s.rows.warm));
  if (plain.warm) L.push(tableRow(at, 'warm, unshaped', plain.warm));
  if (s.rows.lazy) L.push(tableRow(at, `lazy (fastmig), ${s.rate}`, s.rows.lazy));
  if (s.rows.lazyCriu) L.push(tableRow(at, `lazy (CRIU level, host to host), ${s.rate}`, s.rows.lazyCriu));
  if (plain.lazyCriu) L.push(tableRow(at, 'lazy (CRIU level, loopback), unshaped', plain.lazyCriu));
  if (plain.lazy) L.push(tableRow(at, 'lazy (fastmig), unshaped', plain.lazy));
  if (s.rows.warm?.phases) L.push('', `Phases of the warm migration on ${s.rate} (median ms): ${Object.entries(s.rows.warm.phases).map(([k, v]) => `${k} ${v}`).join(', ')}`);
}

function plot(r: Results): string | null {
  const PNG = `${base(r)}-downtime.png`;
  // A docker series shares its process twin's colour, dashed with square points, drawn a little to
  // the right of the same size so the two runtimes' points and bars do not cover each other.
  const STYLE: Partial<Record<Row, string>> = {
    floor: 'lc rgb "#2b8a3e" pt 7', lazyCriu: 'lc rgb "#7048e8" dt 3 pt 6', lazy: 'lc rgb "#7048e8" pt 7', warm: 'lc rgb "#1c7ed6" pt 7', cold: 'lc rgb "#e8590c" pt 7',
    warmDocker: 'lc rgb "#1c7ed6" dt 2 pt 5', coldDocker: 'lc rgb "#e8590c" dt 2 pt 5', restart: 'lc rgb "#868e96" pt 7',
  };
  const modes = Object.keys(STYLE) as Row[];
  const sizes = Object.keys(r.sizes).map(Number).sort((a, b) => a - b);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fastmig-plot-'));
  try {
    const series = modes.filter((m) => sizes.some((s) => r.sizes[s][m]));
    series.forEach((m, i) => {
      const rows = sizes.filter((s) => r.sizes[s][m]).map((s) => {
        const d = (r.sizes[s][m] as Figures).downtimeMs;
        return `${s} ${d.median} ${d.min} ${d.max}`;
      });
      fs.writeFileSync(path.join(tmp, `${i}.dat`), rows.join('\n') + '\n');
    });
    const x = (m: Row) => (m.endsWith('Docker') ? '($1*1.1)' : '1');
    const plots = series.map((m, i) => `'${tmp}/${i}.dat' using ${x(m)}:2:3:4 with yerrorlines lw 2 ${STYLE[m]} title '${MODE_LABEL[m]}'`);
    const script = [
      `set terminal pngcairo size 1000,560 font 'Sans,11'`,
      `set output '${path.join(DOCS, PNG)}'`,
      `set title 'Downtime seen by a 5 ms probe vs live state (median, bars: min-max of ${r.runs} runs)'`,
      `set xlabel 'live state of the service (MiB)'`,
      `set ylabel 'downtime (ms)'`,
      `set logscale xy`,
      `set xtics (${sizes.map((s) => `'${s}' ${s}`).join(', ')})`,
      `set xrange [${sizes[0] / 1.5}:${sizes[sizes.length - 1] * 1.5}]`,
      `set grid`,
      `set key outside right top Left reverse width -8`, // beside the plot: seven labels inside would hide data
      `plot ${plots.join(', ')}`,
    ].join('\n');
    execFileSync('gnuplot', [], { input: script, stdio: ['pipe', 'ignore', 'pipe'] });
    return PNG;
  } catch (err) {
    r.notes.push(`plot not drawn: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    return null;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export function writeReport(r: Results): string {
  const MD = path.join(DOCS, `${base(r)}.md`);
  fs.writeFileSync(path.join(DOCS, `${base(r)}.json`), JSON.stringify(r, null, 2) + '\n');
  const png = plot(r);
  const previous = fs.existsSync(MD) ? fs.readFileSync(MD, 'utf8') : '';
  const analysis = r.quick
    ? 'How it is measured and what limits each ratio: see [benchmarks.md](benchmarks.md).'
    : previous.includes(ANALYSIS_MARKER) ? previous.slice(previous.indexOf(ANALYSIS_MARKER)) : `${ANALYSIS_MARKER}\n`;
  const sizes = Object.keys(r.sizes).map(Number).sort((a, b) => a - b);
  const L: string[] = [];
  L.push('# fastmig benchmarks', '');
  L.push(`Generated by \`npm run bench${r.quick ? ' -- --quick' : ''}\` on ${r.startedAt} (${r.cpus} CPUs, shared with other work: expect noise).`);
  L.push(`Every figure is the median of ${r.runs} runs with the spread (min–max) in brackets, in milliseconds unless named otherwise.`, '');
  L.push('## Ratios', '', '| ratio | value | goal |', '| --- | --- | --- |');
  const goals: Record<string, string> = {
    warmOverFloor: '≤ 1.25 (16 MiB)', coldOverWarm: '≥ 4 (warm ≤ 1/4 cold)', warmOverLazy: '≥ 10 at 1 GiB (both through fastmig)',
    lazyPagesAcrossMs: 'none set: freeze until the last page is on the target (largest size)', lazyServedWindowMs: 'none set: the target served while the source held the only whole copy', lazySizeMiB: '1024',
    restore16Over1: '≤ 1.5 (clients\' downtime)', temporalOverDirect: '≤ 1.05', daemonPrivateMiB: '≤ 10', throughputUnderDaemon: '≥ 0.98', concurrent20OverOne: '≤ 3',
    coldOverWarmDocker: 'none set: above 1 when warm hides the container start-up',
    keptOverWarm: 'none set: near 1 when only what changed during the freeze is copied in it',
    lazy256On100mbitMs: '≤ 1000 (lazy downtime, 256 MiB, every link at 100 Mbit/s)',
    warmOverFloor1G: '≤ 1.5 at 1 GiB (quick: the largest size)', largestSizeMiB: '1024', lazyGrowth: '≤ 1.5 (fastmig lazy: largest size over 16 MiB)',
    transferMBps: '≥ 1000 (warm, largest size, image bytes over the transfer phase)', cpuSecondsPerMigration: '≤ 0.3 (16 MiB)',
    throughputSpread: '< 0.05 ((max − min) / median under the daemon)', restore16Over1Criu: 'CRIU restore step alone, for comparison',
  };
  for (const [k, v] of Object.entries(r.ratios)) L.push(`| \`${k}\` | ${v ?? '–'} | ${goals[k] ?? ''} |`);
  L.push('', '## Downtime, freeze-to-resume and total time per mode and size', '');
  if (png) L.push(`![downtime vs state size](${png})`, '');
  if (png && sizes.some((s) => r.sizes[s].warmDocker || r.sizes[s].coldDocker)) {
    L.push('Dashed, with squares: the same service run as a container (docker runtime), drawn a little right of its size.', '');
  }
  L.push(
    'Migrations through fastmig (and the restarts) run on the stack\'s hosts, each in its own network namespace: the service moves from one host\'s ' +
      'address to the other\'s, and the probe (on this machine) follows it across the hosts\' bridge. The floor and lazy (CRIU level) rows are CRIU alone on bare ' +
      'processes in this machine\'s own network namespace, on loopback: no hosts and no network between them.',
    '',
  );
  L.push(TABLE_HEAD, '| --- | --- | --- | --- | --- | --- | --- |');
  for (const s of sizes) {
    for (const [m, f] of Object.entries(r.sizes[s]) as [Row, Figures][]) L.push(tableRow(`${s} MiB`, MODE_LABEL[m], f));
  }
  L.push('', 'Where the time of the Temporal-driven migrations goes (median ms per workflow phase):', '');
  for (const s of sizes) {
    for (const [m, f] of Object.entries(r.sizes[s]) as [Row, Figures][]) {
      if (f.phases) L.push(`- ${s} MiB ${m}: ${Object.entries(f.phases).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    }
  }
  L.push('', '## Multi-process services (warm migration driven directly, no extra state)', '', '| processes | CRIU restore step | downtime (probe) |', '| --- | --- | --- |');
  for (const [n, p] of Object.entries(r.procs)) L.push(`| ${n} | ${ms(p.restoreMs)} | ${ms(p.downtimeMs)} |`);
  if (r.daemon) {
    L.push('', '## Cost of the daemon', '');
    L.push(`- private memory of the daemon process (Private_Clean + Private_Dirty, smaps_rollup): **${r.daemon.daemonPrivateMiB.toFixed(2)} MiB**`);
    L.push(`- its helper processes outside the service tree (wrapper \`sh\`, \`unshare\`, the \`cat\` relaying output): ${r.daemon.helpersPrivateMiB.toFixed(2)} MiB`);
    L.push(`- idle CPU of the daemon over ${r.daemon.idleWindowMs / 1000} s: ${r.daemon.idleCpuPct.toFixed(2)} %`);
  }
  if (r.throughput) {
    L.push(`- throughput of the service (\`wrk -t1 -c8\`, GET /health, ${r.throughput.seconds} s rounds, alternated): bare ${ms(r.throughput.bare)} req/s, under the daemon ${ms(r.throughput.daemon)} req/s`);
  }
  if (r.concurrency) {
    L.push('', '## Concurrency', '', `One warm migration (${sizes[0]} MiB): ${ms(r.concurrency.one)} ms wall; ${r.concurrency.count} at once: ${r.concurrency.allMs} ms wall.`);
  }
  if (r.shaped) shapedSection(r, L);
  const comp = Object.entries(r.compression ?? {});
  if (comp.length) {
    L.push('', '## Compression of the image', '');
    L.push('The bench service\'s CRIU image at each size (whole, or 256 evenly spread 1 MiB slices of it), compressed in memory on one core. ' +
      'With `FASTMIG_PEER_COMPRESSION=auto` the agent-to-agent transfer streams through brotli 1 when a 2 MiB sample of the image shrinks below the threshold; ' +
      'the default is `none` (see the analysis below for the measured trade-off).', '');
    L.push('| state | image | brotli 1: ratio, MB/s in, MB/s out | gzip 1: ratio, MB/s in, MB/s out | 2 MiB sample (brotli 1) | auto picks |', '| --- | --- | --- | --- | --- | --- |');
    const c = (x: { ratio: number; compressMBps: number; decompressMBps: number }) => `${x.ratio}, ${x.compressMBps}, ${x.decompressMBps}`;
    for (const [s, f] of comp) L.push(`| ${s} MiB | ${f.imageMB} MB | ${c(f.brotli1)} | ${c(f.gzip1)} | ${f.sampleRatio} (threshold ${f.threshold}) | ${f.autoPicks} |`);
  }
  if (r.notes.length) L.push('', '## Notes from this run', '', ...r.notes.map((n) => `- ${n}`));
  L.push('', analysis.trimEnd(), '');
  fs.writeFileSync(MD, L.join('\n'));
  return path.relative(REPO_ROOT, MD);
}

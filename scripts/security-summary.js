// Sums up what the security tests recorded (one JSON line each): the distinct attacks tried and how
// each ended, then the fuzzers' totals on a line of their own. Fails unless every attack was
// refused, no attack name repeats, no fuzzed request crashed a server or was accepted, and jest passed.
const fs = require('fs');
const [file, jestStatus] = process.argv.slice(2);
const rows = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
const attacks = rows.filter((r) => r.kind === 'attack');
const fuzz = rows.filter((r) => r.kind === 'fuzz');
const byName = new Map();
for (const a of attacks) byName.set(a.name, [...(byName.get(a.name) ?? []), a]);
const repeated = [...byName].filter(([, list]) => list.length > 1).map(([name]) => name);
const accepted = attacks.filter((a) => !a.rejected);
for (const a of accepted) console.log(`ACCEPTED: ${a.name}${a.problems ? ` (${a.problems.join('; ')})` : ''}`);
for (const name of repeated) console.log(`REPEATED: ${name} (an attack counts once)`);
const rejected = [...byName.values()].filter((list) => list.every((a) => a.rejected)).length;

const sum = (f) => fuzz.reduce((n, r) => n + f(r), 0);
const requests = sum((r) => r.requests);
const pairs = sum((r) => r.pairs.length);
const reached = sum((r) => r.reached.length);
const crashes = sum((r) => r.crashes.length);
const fuzzAccepted = sum((r) => r.accepted.length);
for (const r of fuzz) {
  const missed = r.pairs.filter((p) => !r.reached.includes(p));
  const answered = Object.entries(r.statuses ?? {}).map(([s, n]) => `${n}× ${s}`).join(', ');
  console.log(`  ${r.surface}: ${r.requests} requests (answers: ${answered}), ${r.reached.length} of ${r.pairs.length} route×method pairs reached${missed.length ? ` (not: ${missed.join(', ')})` : ''}`);
  for (const c of r.crashes.slice(0, 5)) console.log(`  CRASH: ${r.surface}: ${c}`);
  for (const a of r.accepted.slice(0, 5)) console.log(`  ACCEPTED: ${r.surface}: ${a}`);
}
console.log(`fuzz: ${requests} requests sent, ${reached} of ${pairs} route×method pairs reached, ${crashes} crashes${fuzzAccepted ? `, ${fuzzAccepted} accepted` : ''}`);
console.log(`security: ${byName.size} distinct attacks tried, ${rejected} rejected cleanly, ${byName.size - rejected} accepted`);
const ok = attacks.length > 0 && !accepted.length && !repeated.length && fuzz.length > 0 && !crashes && !fuzzAccepted && jestStatus === '0';
process.exit(ok ? 0 : 1);

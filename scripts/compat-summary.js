// Counts the compatibility catalogue's results from Jest's JSON report (`--json --outputFile`) and
// the entries' own records (one JSON line each: version, sizes, the gap its client saw). A test is
// one server in one runtime; a server (counted once, whatever its runtimes) is migrated when every
// test of it passed, lost when one failed (its reason printed).
// Servers known not to move yet (test/compat/limits.ts) are not counted; their reasons are listed.
// Prints the table rows of docs/compatibility.md, then `compat: N servers, N migrated, N lost`.
const fs = require('fs');

const report = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const records = new Map();
for (const line of fs.readFileSync(process.argv[3], 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const r = JSON.parse(line);
  records.set(r.notYet ? r.id : `${r.id} [${r.runtime}]`, r);
}
const mib = (b) => (b == null ? '?' : `${(b / 1048576).toFixed(1)} MiB`);
const ms = (n) => (n == null ? '?' : `${n} ms`);
const servers = new Map();
const limits = new Map();
for (const suite of report.testResults) {
  for (const t of suite.assertionResults) {
    if (t.status !== 'passed' && t.status !== 'failed') continue; // skipped or pending: not run
    if (/ is not yet dumped here/.test(t.title)) limits.set(t.title.split(' ')[0], t);
    else servers.set(/^\S+ \[\w+\]/.exec(t.title)?.[0] ?? t.title, t);
  }
}
console.log('| server | kind | Debian version | runtime | image | kept files | processes | client-observed gap | workflow downtime | result |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
const lost = [];
const lostIds = new Set();
for (const [key, t] of servers) {
  const r = records.get(key) || {};
  const id = key.split(' ')[0];
  const ok = t.status === 'passed';
  if (!ok) lost.push(`${key}: ${r.reason || (t.failureMessages[0] || 'failed').split('\n')[0]}`);
  if (!ok) lostIds.add(id);
  console.log(`| ${id} | ${r.kind || '?'} | ${r.pkg || '?'} ${r.version || '?'} | ${r.runtime || '?'} | ${mib(r.imageBytes)} | ${r.runtime === 'docker' ? '—' : mib(r.keptBytes)} | ${r.runtime === 'docker' ? '—' : r.processes ?? '?'} | ${ms(r.gapMs)} | ${ms(r.workflowDowntimeMs)} | ${ok ? 'migrated' : 'lost'} |`);
}
for (const [id, t] of limits) {
  const r = records.get(id) || {};
  const as = t.status === 'passed' ? 'as documented' : 'NOT as documented, see above';
  console.log(`compat: not yet: ${id} (${r.pkg || '?'} ${r.version || '?'}), ${as}: ${r.reason || '?'}`);
}
// A suite that could not run at all (it did not load, or its set-up failed) is lost as one.
const broken = report.testResults.filter((s) => s.status === 'failed' && !s.assertionResults.some((t) => t.status === 'failed')).length;
for (const l of lost) console.log(`compat: lost ${l}`);
if (broken) console.log(`compat: ${broken} test file(s) could not run: see the output above`);
const pending = report.numPendingTests + report.numTodoTests;
if (pending) console.log(`compat: ${pending} servers skipped (not counted)`);
const ended = Math.max(report.startTime, ...report.testResults.map((t) => t.endTime || 0));
const secs = Math.round((ended - report.startTime) / 1000);
console.log(`compat: took ${Math.floor(secs / 60)} min ${secs % 60} s`);
const ids = new Set([...servers.keys()].map((k) => k.split(' ')[0]));
const runtimes = [...new Set([...records.values()].filter((r) => !r.notYet).map((r) => r.runtime))];
console.log(`compat: ${servers.size} runs (${runtimes.join(', ')} runtimes)`);
console.log(`compat: ${ids.size} servers, ${ids.size - lostIds.size} migrated, ${lostIds.size + broken} lost`);

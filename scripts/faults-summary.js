// Counts the fault matrix's results from Jest's JSON report (`--json --outputFile`): one scenario
// is one distinct fault × phase pair, survived when every run of it passed, lost when any failed.
// Prints `faults: N scenarios, N survived, N lost`, then, when pairs ran more than once, the
// repetitions on a line of their own, the lost pairs by name, and how long it took.
const fs = require('fs');

const report = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const runs = new Map();
for (const suite of report.testResults) {
  for (const t of suite.assertionResults) {
    if (t.status !== 'passed' && t.status !== 'failed') continue; // skipped or pending: not run
    const pair = t.title.replace(/ #\d+$/, '');
    if (!runs.has(pair)) runs.set(pair, []);
    runs.get(pair).push(t.status === 'passed');
  }
}
const pairs = [...runs.keys()];
const lostPairs = pairs.filter((p) => runs.get(p).includes(false));
// A suite that could not run at all (it did not load, or its set-up failed) is lost as one.
const broken = report.testResults.filter((s) => s.status === 'failed' && !s.assertionResults.some((t) => t.status === 'failed')).length;
console.log(`faults: ${pairs.length} scenarios, ${pairs.length - lostPairs.length} survived, ${lostPairs.length + broken} lost`);
const counts = pairs.map((p) => runs.get(p).length);
if (counts.some((c) => c > 1)) {
  const total = counts.reduce((a, b) => a + b, 0);
  const failed = pairs.reduce((n, p) => n + runs.get(p).filter((ok) => !ok).length, 0);
  const each = Math.min(...counts) === Math.max(...counts) ? String(counts[0]) : `${Math.min(...counts)}-${Math.max(...counts)}`;
  console.log(`faults: repetitions: ${each} runs of ${pairs.length} scenarios (${total} runs, ${failed} failed)`);
}
if (lostPairs.length) console.log(`faults: lost: ${lostPairs.join('; ')}`);
if (broken) console.log(`faults: ${broken} test file(s) could not run: see the output above`);
const pending = report.numPendingTests + report.numTodoTests;
if (pending) console.log(`faults: ${pending} runs skipped (not counted)`);
const ended = Math.max(report.startTime, ...report.testResults.map((t) => t.endTime || 0));
const secs = Math.round((ended - report.startTime) / 1000);
console.log(`faults: took ${Math.floor(secs / 60)} min ${secs % 60} s`);

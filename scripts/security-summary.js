// Sums up the bad inputs the security tests tried (one JSON line each) into the closing line.
const fs = require('fs');
const file = process.argv[2];
const rows = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
const rejected = rows.filter((r) => r.rejected).length;
for (const r of rows.filter((x) => !x.rejected)) console.log(`ACCEPTED: ${r.name}`);
console.log(`security: ${rows.length} bad inputs tried, ${rejected} rejected cleanly, ${rows.length - rejected} accepted`);
process.exit(rows.length > 0 && rejected === rows.length && process.argv[3] === '0' ? 0 : 1);

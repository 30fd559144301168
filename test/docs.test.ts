// The documentation that is generated from code stays in step with it.
import fs from 'fs';
import path from 'path';
import { REPO_ROOT } from '../common/config';
import { openapi } from '../api/openapi';

test('docs/api.md carries the OpenAPI description the API serves', () => {
  const text = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'api.md'), 'utf8');
  const json = text.slice(text.indexOf('```json') + 7, text.lastIndexOf('```'));
  expect(JSON.parse(json)).toEqual(openapi);
});

test('the README opens with exactly the two commands: the demo and the tests', () => {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const first = readme.slice(readme.indexOf('```bash') + 7, readme.indexOf('```', readme.indexOf('```bash') + 7));
  const commands = first.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
  expect(commands).toEqual(['npm run demo', 'npm test']);
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  expect(pkg.scripts.demo).toMatch(/demo\/run\.js/);
  expect(pkg.scripts.test).toMatch(/jest/);
});

test('docs/architecture.md traces one migration in at most 12 files, each named once, each real', () => {
  const text = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'architecture.md'), 'utf8');
  const trace = text.slice(text.indexOf('## One migration, traced'), text.indexOf('\n## ', text.indexOf('## One migration, traced') + 1));
  const named = [...trace.matchAll(/`([a-z-]+\/[a-z0-9-]+\.ts)`/g)].map((m) => m[1]);
  expect(named.length).toBeGreaterThan(5); // the section was found and names files
  expect(new Set(named).size).toBe(named.length);
  expect(named.length).toBeLessThanOrEqual(12);
  for (const f of named) expect(fs.existsSync(path.join(REPO_ROOT, f))).toBe(true);
});

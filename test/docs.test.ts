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

// The shape of the code base is checked like behaviour: small files, no import circles, and
// layers that only import downwards (workflows never reach Node built-ins or activity code).
import fs from 'fs';
import path from 'path';
import { REPO_ROOT } from '../common/config';

const tsconfig = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] };
const SOURCE_DIRS = tsconfig.include;
const MAX_LINES = 300;

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push(path.relative(REPO_ROOT, p));
    }
  };
  for (const d of SOURCE_DIRS) if (fs.existsSync(path.join(REPO_ROOT, d))) walk(path.join(REPO_ROOT, d));
  return out.sort();
}

/** Relative imports of a file (value and type imports alike: a type circle is a design circle too). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'";]*?from\s+'(\.[^']+)'|require\('(\.[^']+)'\)/g)) {
    const spec = m[1] ?? m[2];
    const base = path.join(path.dirname(file), spec);
    const hit = [`${base}.ts`, path.join(base, 'index.ts')].find((c) => fs.existsSync(path.join(REPO_ROOT, c)));
    if (hit) out.push(hit);
  }
  return out;
}

test(`no source file outside the tests is longer than ${MAX_LINES} lines`, () => {
  const files = sourceFiles();
  expect(files.length).toBeGreaterThan(50); // the walk really found the code base
  const long = files
    .map((f) => ({ f, lines: fs.readFileSync(path.join(REPO_ROOT, f), 'utf8').trimEnd().split('\n').length }))
    .filter((x) => x.lines > MAX_LINES)
    .map((x) => `${x.f}: ${x.lines}`);
  expect(long).toEqual([]);
});

test('no import circle among the source files', () => {
  const graph = new Map(sourceFiles().map((f) => [f, importsOf(f)]));
  expect([...graph.values()].flat().length).toBeGreaterThan(100); // imports were really resolved
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (f: string, trail: string[]) => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      cycles.push([...trail.slice(trail.indexOf(f)), f].join(' → '));
      return;
    }
    state.set(f, 'open');
    for (const g of graph.get(f) ?? []) visit(g, [...trail, f]);
    state.set(f, 'done');
  };
  for (const f of graph.keys()) visit(f, []);
  expect(cycles).toEqual([]);
});

test('workflows import no Node built-in and no activity or worker code at run time', () => {
  const workflows = sourceFiles().filter((f) => f.startsWith('workflows/'));
  const offending: string[] = [];
  for (const f of workflows) {
    const text = fs.readFileSync(path.join(REPO_ROOT, f), 'utf8');
    for (const m of text.matchAll(/^import\s+(type\s+)?[^'";]*?from\s+'([^']+)'/gm)) {
      const [, typeOnly, spec] = m;
      const builtin = /^(node:)?(fs|path|crypto|child_process|net|http|https|os|stream|zlib|events)(\/|$)/.test(spec);
      const upward = /^\.\.\/(activities|workers|agent|daemon|image|stack|cli|client|api)\//.test(spec);
      if (builtin || (upward && !typeOnly)) offending.push(`${f}: ${spec}`);
    }
  }
  expect(offending).toEqual([]);
});

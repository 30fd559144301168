// docker-compose.yml and the Dockerfile it builds: valid YAML, the services the README promises,
// agents with CRIU's capabilities (never privileged), and every file they name exists here.
import fs from 'fs';
import path from 'path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../common/config';

const compose = parse(fs.readFileSync(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
const services: Record<string, any> = compose.services;
const agents = Object.entries(services).filter(([, s]) => [].concat(s.command ?? [])[0] === 'host-agent');
const ownImage = Object.entries(services).filter(([, s]) => s.build);
const entrypointScript = fs.readFileSync(path.join(REPO_ROOT, 'scripts', 'compose-entrypoint.sh'), 'utf8');

test('it parses and has Temporal (server and UI), MinIO, the orchestrator and two host agents', () => {
  const images = Object.values(services).map((s) => String(s.image ?? ''));
  expect(images.some((i) => i.startsWith('temporalio/auto-setup'))).toBe(true);
  expect(images.some((i) => i.startsWith('temporalio/ui'))).toBe(true);
  expect(images.some((i) => i.startsWith('minio/minio'))).toBe(true);
  expect(services.orchestrator.command).toEqual(['orchestrator']);
  expect(agents.map(([, s]) => s.command[1]).sort()).toEqual(['hostA', 'hostB']);
  expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(['temporal-db', 'minio-data']));
});

test('host agents get exactly the capabilities CRIU needs, a shared state path and their own engine socket', () => {
  for (const [, s] of agents) {
    expect(s.privileged).toBeFalsy();
    expect([...s.cap_add].sort()).toEqual(['NET_ADMIN', 'SYS_ADMIN', 'SYS_PTRACE', 'SYS_TIME']);
    expect(s.security_opt).toContain('seccomp=unconfined');
    const home = s.environment.FASTMIG_HOME;
    expect(s.volumes).toContain(`${home}:${home}`);
    expect(s.volumes.some((v: string) => v.endsWith(`:${home}/docker/${s.command[1]}/d.sock`))).toBe(true);
  }
});

test('every entrypoint and command it names exists in the project', () => {
  expect(ownImage.length).toBeGreaterThanOrEqual(3);
  for (const [, s] of ownImage) {
    expect(fs.existsSync(path.join(REPO_ROOT, s.build === '.' ? 'Dockerfile' : path.join(s.build, 'Dockerfile')))).toBe(true);
    const [shell, script] = s.entrypoint;
    expect(shell).toBe('bash');
    expect(fs.existsSync(path.join(REPO_ROOT, script))).toBe(true);
    const role = s.command[0];
    expect(entrypointScript).toMatch(new RegExp(`^\\s*${role}\\)`, 'm'));
    // The role runs its entry point's compiled file.
    const entry = ({ orchestrator: 'workers/orchestrator', 'host-agent': 'agent/main' } as Record<string, string>)[role];
    expect(fs.existsSync(path.join(REPO_ROOT, `${entry}.ts`))).toBe(true);
    expect(entrypointScript).toContain(`dist/${entry}.js`);
  }
});

test('the Dockerfile copies only what exists and starts the same entry point', () => {
  const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
  for (const m of dockerfile.matchAll(/^COPY (.+) \S+$/gm)) {
    for (const src of m[1].split(/\s+/)) expect(fs.existsSync(path.join(REPO_ROOT, src))).toBe(true);
  }
  for (const m of dockerfile.matchAll(/bash (scripts\/[\w.-]+\.sh)/g)) expect(fs.existsSync(path.join(REPO_ROOT, m[1]))).toBe(true);
  expect(dockerfile).toMatch(/ENTRYPOINT \["bash", "scripts\/compose-entrypoint.sh"\]/);
});

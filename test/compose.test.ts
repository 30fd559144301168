// docker-compose.yml, the Dockerfile and the entry point they run, checked offline. This test does
// NOT start the containers: the machines it runs on reach no image registry, so no image can be
// pulled or built here. It checks what holds without them: pinned, maintained images; every
// command naming a file the build produces; the settings the code reads; ports, volumes, health.
import fs from 'fs';
import path from 'path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../common/config';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
const composeText = read('docker-compose.yml');
const compose = parse(composeText, { merge: true });
const services: Record<string, any> = compose.services;
const entries = Object.entries(services);
const list = (v: unknown): string[] => [].concat((v ?? []) as never).map(String);
const role = (s: any) => list(s.command)[0];
const ownImage = entries.filter(([, s]) => s.build);
const agents = ownImage.filter(([, s]) => role(s) === 'host-agent');
const entrypointScript = read('scripts/compose-entrypoint.sh');
const dockerfile = read('Dockerfile');
const tsconfig = JSON.parse(read('tsconfig.json'));

/** The service that runs `image` (a name without tag). */
const byImage = (image: string) => {
  const found = entries.find(([, s]) => String(s.image ?? '').split(':')[0] === image);
  if (!found) throw new Error(`no service runs ${image}`);
  return found[1];
};
const temporal = byImage('temporalio/temporal');
const s3 = byImage('versity/versitygw');
/** `--name=value` or `--name value` from a command line. */
const flag = (args: string[], name: string): string[] =>
  args.flatMap((a, i) => (a === `--${name}` ? [args[i + 1]] : a.startsWith(`--${name}=`) ? [a.slice(name.length + 3)] : []));
const portOf = (listen: string) => Number(listen.split(':').pop());
/** Published ports as [host address, host port, container port]. */
const published = (s: any) => list(s.ports).map((p) => {
  const [ip, host, container] = p.split(':');
  return [ip, Number(host), Number(container)] as const;
});
/** The names of the named volumes a service mounts, by container path. */
const namedMounts = (s: any) => new Map(list(s.volumes).filter((v) => !v.startsWith('/')).map((v) => [v.split(':')[1], v.split(':')[0]]));

test('it runs Temporal, the S3 server, the orchestrator, two host agents and the HTTP API', () => {
  expect(ownImage.map(([, s]) => role(s)).sort()).toEqual(['api', 'host-agent', 'host-agent', 'orchestrator']);
  expect(agents.map(([, s]) => s.command[1]).sort()).toEqual(['hostA', 'hostB']);
  expect(list(temporal.command).slice(0, 2)).toEqual(['server', 'start-dev']);
  expect(list(s3.command)).toContain('posix');
});

test('every image is pinned to a version, none is deleted, deprecated or AGPL', () => {
  // minio/minio: deleted from Docker Hub (and AGPL); temporalio/auto-setup: deprecated, no new builds.
  const gone = /^(minio\/|temporalio\/auto-setup)/;
  for (const [name, s] of entries) {
    if (s.build) {
      expect(s.image).toBe('fastmig:local');
      continue;
    }
    const [image, tag] = String(s.image).split(':');
    expect({ name, image, gone: gone.test(image) }).toEqual({ name, image, gone: false });
    expect({ name, tag }).toEqual({ name, tag: expect.stringMatching(/^v?\d+\.\d+\.\d+$/) });
  }
  expect(composeText).not.toMatch(/minio/i);
  // The same S3 server version the embedded stack builds.
  expect(s3.image).toBe(`versity/versitygw:${/^VERSITYGW_VERSION=(\S+)/m.exec(read('scripts/install-tools.sh'))![1]}`);
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

test('every role and health check runs a file that tsc builds from a folder the Dockerfile copies', () => {
  const copied = [...dockerfile.matchAll(/^COPY (\S+) \1$/gm)].map((m) => m[1]);
  const roleFile = (r: string) => {
    const m = new RegExp(`^\\s*${r}\\)[\\s\\S]*?exec node (dist/\\S+\\.js)`, 'm').exec(entrypointScript);
    if (!m) throw new Error(`compose-entrypoint.sh has no role ${r} that runs node dist/…`);
    return m[1];
  };
  for (const [name, s] of ownImage) {
    expect(s.entrypoint).toEqual(['bash', 'scripts/compose-entrypoint.sh']);
    // rootDir "." and outDir "dist": dist/<folder>/<file>.js is compiled from <folder>/<file>.ts.
    const built = roleFile(role(s));
    const source = built.replace(/^dist\//, '').replace(/\.js$/, '.ts');
    const folder = source.split('/')[0];
    expect({ name, source, exists: fs.existsSync(path.join(REPO_ROOT, source)) }).toEqual({ name, source, exists: true });
    // Where this checkout has been built, the file is in the build too.
    if (fs.existsSync(path.join(REPO_ROOT, 'dist', '.tsbuildinfo'))) expect(fs.existsSync(path.join(REPO_ROOT, built))).toBe(true);
    expect(tsconfig.compilerOptions).toMatchObject({ rootDir: '.', outDir: 'dist' });
    expect(tsconfig.include).toContain(folder);
    expect(copied).toContain(folder);
    expect(list(s.healthcheck?.test).slice(0, 4)).toEqual(['CMD', 'bash', 'scripts/compose-entrypoint.sh', 'healthy']);
  }
  expect(entrypointScript).toMatch(/^\s*healthy\)/m);
  // Agents start with the command that adds a machine, as the embedded stack's do.
  expect(roleFile('host-agent')).toBe('dist/cli/main.js');
  expect(entrypointScript).toMatch(/exec node dist\/cli\/main\.js agent --host "\$host"/);
  expect(read('stack/workers.ts')).toMatch(/'dist', 'cli', 'main\.js'\), 'agent', '--host'/);
  expect(entrypointScript).not.toMatch(/dist\/workers\/host-agent/);
});

test('the Dockerfile copies what exists, every folder tsc compiles, and starts the same entry point', () => {
  for (const m of dockerfile.matchAll(/^COPY (.+) \S+$/gm)) {
    for (const src of m[1].split(/\s+/)) expect({ src, exists: fs.existsSync(path.join(REPO_ROOT, src)) }).toEqual({ src, exists: true });
  }
  const copied = [...dockerfile.matchAll(/^COPY (\S+) \1$/gm)].map((m) => m[1]);
  expect(copied).toEqual(expect.arrayContaining(tsconfig.include));
  for (const m of dockerfile.matchAll(/bash (scripts\/[\w.-]+\.sh)/g)) expect(fs.existsSync(path.join(REPO_ROOT, m[1]))).toBe(true);
  expect(dockerfile).toMatch(/ENTRYPOINT \["bash", "scripts\/compose-entrypoint.sh"\]/);
  // The secrets file next to docker-compose.yml never enters the build context or the repository.
  expect(read('.dockerignore').split('\n')).toEqual(expect.arrayContaining(['.env', 'node_modules', 'dist', '.tools']));
  expect(read('.gitignore').split('\n')).toContain('.env');
});

test('fastmig services get the settings the code reads, and the secrets only from the env file', () => {
  const config = read('common/config.ts');
  // Every FASTMIG_ name the source reads, so a name set here that no code reads (stale, misspelt) fails.
  const readNames = new Set<string>();
  for (const dir of tsconfig.include as string[]) {
    for (const f of fs.readdirSync(path.join(REPO_ROOT, dir), { recursive: true }) as string[]) {
      if (!f.endsWith('.ts')) continue;
      for (const m of fs.readFileSync(path.join(REPO_ROOT, dir, f), 'utf8').matchAll(/FASTMIG_[A-Z0-9_]+/g)) readNames.add(m[0]);
    }
  }
  const secretNames = [...read('stack/secrets.ts').matchAll(/^\s+(FASTMIG_[A-Z0-9_]+): /gm)].map((m) => m[1]);
  expect(secretNames).toEqual(expect.arrayContaining(['FASTMIG_S3_ACCESS_KEY', 'FASTMIG_S3_SECRET_KEY', 'FASTMIG_CLUSTER_KEY', 'FASTMIG_API_TOKEN']));
  for (const name of ['FASTMIG_TEMPORAL_ADDRESS', 'FASTMIG_NAMESPACE', 'FASTMIG_S3_ENDPOINT', 'FASTMIG_S3_BUCKET', 'FASTMIG_HOSTS']) {
    expect(config).toContain(`'${name}'`);
  }
  for (const [name, s] of ownImage) {
    const env: Record<string, string> = s.environment;
    for (const k of Object.keys(env)) expect({ name, k, read: readNames.has(k) }).toEqual({ name, k, read: true });
    expect(Object.keys(env)).toEqual(expect.arrayContaining(['FASTMIG_TEMPORAL_ADDRESS', 'FASTMIG_NAMESPACE', 'FASTMIG_S3_ENDPOINT', 'FASTMIG_S3_BUCKET', 'FASTMIG_HOSTS', 'FASTMIG_HOME']));
    for (const secret of secretNames) expect({ name, secret, inYaml: secret in env }).toEqual({ name, secret, inYaml: false });
    expect(list(s.env_file)).toEqual(['.env']);
  }
  // The S3 server's root keys: interpolated from the same file, required, never a default value.
  expect(s3.environment).toEqual({
    ROOT_ACCESS_KEY_ID: expect.stringMatching(/^\$\{FASTMIG_S3_ACCESS_KEY:\?[^}]*\}$/),
    ROOT_SECRET_ACCESS_KEY: expect.stringMatching(/^\$\{FASTMIG_S3_SECRET_KEY:\?[^}]*\}$/),
  });
  expect(composeText).not.toMatch(/:-[^}]*\}/);
});

test('ports: the addresses fastmig is given reach the servers, and host-network ports do not collide', () => {
  const env = ownImage[0][1].environment;
  const temporalArgs = list(temporal.command);
  const s3Args = list(s3.command);
  const temporalPort = Number(flag(temporalArgs, 'port')[0]);
  const uiPort = Number(flag(temporalArgs, 'ui-port')[0]);
  const s3Port = portOf(flag(s3Args, 'port')[0]);
  expect(flag(temporalArgs, 'ip')).toEqual(['0.0.0.0']); // else the published port finds nobody
  expect(published(temporal)).toEqual([['127.0.0.1', portOf(env.FASTMIG_TEMPORAL_ADDRESS), temporalPort], ['127.0.0.1', expect.any(Number), uiPort]]);
  expect(env.FASTMIG_TEMPORAL_ADDRESS).toMatch(/^127\.0\.0\.1:\d+$/);
  expect(published(s3)).toEqual([['127.0.0.1', portOf(new URL(env.FASTMIG_S3_ENDPOINT).host), s3Port]]);
  expect(new URL(env.FASTMIG_S3_ENDPOINT).hostname).toBe('127.0.0.1');
  expect(list(temporal.healthcheck.test)).toContain(`127.0.0.1:${temporalPort}`);
  expect(list(s3.healthcheck.test)).toContain(`http://127.0.0.1:${s3Port}${flag(s3Args, 'health')[0]}`);
  // On the machine's network every listening port is the machine's: each one once.
  const taken = [...published(temporal), ...published(s3)].map(([, host]) => host);
  for (const [name, s] of ownImage) {
    expect(s.network_mode).toBe('host');
    const port = Number(s.environment.FASTMIG_METRICS_PORT ?? s.environment.FASTMIG_API_PORT);
    expect({ name, port }).toEqual({ name, port: expect.any(Number) });
    expect(list(s.healthcheck.test)[4]).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/`));
    taken.push(port);
  }
  expect(new Set(taken).size).toBe(taken.length);
  expect(services.api.environment.FASTMIG_API_PORT).toBeDefined();
});

test('the S3 data and the Temporal database live on named volumes', () => {
  const declared = Object.keys(compose.volumes);
  const s3Dir = list(s3.command).at(-1)!;
  const dbFile = flag(list(temporal.command), 'db-filename')[0];
  expect(declared).toContain(namedMounts(s3).get(s3Dir));
  expect(declared).toContain(namedMounts(temporal).get(path.posix.dirname(dbFile)));
  // The image runs as user temporal, who can write only to its home (see the compose file).
  expect(path.posix.dirname(dbFile)).toBe('/home/temporal');
  expect(declared.sort()).toEqual([namedMounts(s3).get(s3Dir), namedMounts(temporal).get('/home/temporal')].sort());
});

test('every service has a health check and starts only after what it needs is healthy', () => {
  for (const [name, s] of entries) {
    expect({ name, test: list(s.healthcheck?.test)[0] }).toEqual({ name, test: 'CMD' });
    for (const [dep, cond] of Object.entries<any>(s.depends_on ?? {})) {
      expect(services[dep]).toBeDefined();
      expect({ name, dep, condition: cond.condition }).toEqual({ name, dep, condition: 'service_healthy' });
    }
  }
  for (const [, s] of ownImage) expect(Object.keys(s.depends_on).sort()).toEqual(['s3', 'temporal']);
});

test('Temporal registers the search attributes the workflows set', () => {
  const registered = flag(list(temporal.command), 'search-attribute').sort();
  expect(registered).toEqual(Object.values(SEARCH_ATTRIBUTES).map((k) => `${k.name}=Keyword`).sort());
  expect(flag(list(temporal.command), 'namespace')).toEqual([ownImage[0][1].environment.FASTMIG_NAMESPACE]);
});

test('the README says what it starts, which secrets it needs, and that it was not started here', () => {
  const readme = read('README.md');
  const section = readme.slice(readme.indexOf('### docker-compose'), readme.indexOf('\n### ', readme.indexOf('### docker-compose') + 5));
  for (const word of [temporal.image, s3.image, '.env', 'FASTMIG_CLUSTER_KEY', 'FASTMIG_API_TOKEN', 'FASTMIG_S3_SECRET_KEY']) {
    expect(section).toContain(word);
  }
  expect(section).toMatch(/not (been )?started/);
});

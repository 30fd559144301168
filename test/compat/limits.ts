// Servers that cannot move here yet, and why: each runs as another user (it insists), and CRIU reads
// every dumped task's resource limits, which the kernel allows root only with CAP_SYS_RESOURCE
// (missing here) or the same uid. The catalogue deploys each the way its documentation says, checks
// that a migration fails with exactly that reason and leaves it running on its host, answering its
// client; they are not counted as migrated (docs/compatibility.md).
import fs from 'fs';
import { sh, until } from './client';
import type { Ctx } from './entry';

export interface KnownLimit {
  id: string;
  kind: string;
  pkg: string;
  /** The fixed port some servers insist on in their default configuration; a free one otherwise. */
  port?: number;
  command(ctx: Ctx): string[];
  /** Its own client, answering. */
  answers(ctx: Ctx): Promise<unknown>;
  /** CRIU's own words for why the dump fails. */
  why: RegExp;
}

const RLIMIT = /Can't get rlimit 0: Operation not permitted/;
/** Debian's PostgreSQL server programs, of whichever major version the release ships. */
const pg = () => `/usr/lib/postgresql/${fs.readdirSync('/usr/lib/postgresql').sort().pop()}/bin`;

export const LIMITS: KnownLimit[] = [
  {
    id: 'postgresql',
    kind: 'relational database, runs as postgres',
    pkg: 'postgresql',
    command: (c) => ['sh', '-c', `chown postgres ${c.dir} && { [ -d data ] || { runuser -u postgres -- ${pg()}/initdb -D ${c.dir}/data >/dev/null &&
  echo 'host all all 0.0.0.0/0 trust' >> data/pg_hba.conf; }; } &&
exec runuser -u postgres -- ${pg()}/postgres -D ${c.dir}/data -k ${c.dir} -c listen_addresses=* -p ${c.port}`],
    answers: (c) => until('psql answers', async () => (await sh('psql', ['-h', c.address, '-p', String(c.port), '-U', 'postgres', '-tAc', 'SELECT 40 + 2'])) === '42', 60_000, 500),
    why: RLIMIT,
  },
  {
    id: 'apache2',
    kind: 'web server, workers run as www-data',
    pkg: 'apache2',
    // Debian's configuration listens on port 80 (ports.conf); its own environment file names the user.
    port: 80,
    command: (c) => ['sh', '-c', `. /etc/apache2/envvars && export APACHE_LOG_DIR=${c.dir} APACHE_PID_FILE=${c.dir}/apache2.pid APACHE_RUN_DIR=${c.dir} APACHE_LOCK_DIR=${c.dir} &&
exec apache2 -D FOREGROUND`],
    answers: (c) => until('apache2 answers', async () => (await sh('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', `http://${c.address}:${c.port}/`])) === '200'),
    why: RLIMIT,
  },
];

// apache2 with Debian's own configuration (a copy of its configuration folder: the event MPM, a
// parent and two children of 25 threads each, its modules and its default site), started the way
// apache2ctl does (Debian's envvars, `apache2 -d <folder> -D FOREGROUND`) but as `www-data` from
// the start (`--user www-data`): apache2 then keeps running as the user it was started as (its
// `User` directive only applies to a parent started as root, which would switch its children, and
// root cannot switch without leaving other users' tasks it may not dump here). So what root alone
// may do is changed: the default site listens on the service's port (above 1024) instead of 80, and
// its pid file, lock and run directories and logs are in the kept directory. Checked as every web
// server of the catalogue (servers/web.ts).
import execa from 'execa';
import { writeFile, type CompatServer, type Ctx } from '../entry';
import { webServer, writeSite } from './web';

async function configure(c: Ctx, hostDir: string): Promise<void> {
  const conf = `${hostDir}/conf`;
  await execa('cp', ['-a', '/etc/apache2', conf]);
  // Debian's ports.conf and default site, on the service's port and serving the kept site.
  await execa('sed', ['-i', `s/^Listen 80$/Listen ${c.port}/`, `${conf}/ports.conf`]);
  await execa('sed', ['-i', '-e', `s/<VirtualHost \\*:80>/<VirtualHost *:${c.port}>/`, '-e', `s#DocumentRoot /var/www/html#DocumentRoot ${c.dir}/www#`, `${conf}/sites-available/000-default.conf`]);
  writeFile(`${conf}/conf-enabled/compat.conf`, `ServerName ${c.name}\n<Directory ${c.dir}/www>\n\tRequire all granted\n</Directory>\n`);
  writeSite(c, hostDir);
  for (const d of ['run', 'lock']) writeFile(`${hostDir}/${d}/.keep`, '');
}

export const apache2: CompatServer = {
  id: 'apache2',
  kind: 'web server, event MPM (parent and children), runs as `www-data`',
  pkg: 'apache2',
  user: 'www-data',
  prepare: configure,
  command: (c) => ['sh', '-c', `. /etc/apache2/envvars && export APACHE_LOG_DIR=${c.dir}/log APACHE_PID_FILE=${c.dir}/run/apache2.pid APACHE_RUN_DIR=${c.dir}/run APACHE_LOCK_DIR=${c.dir}/lock &&
exec apache2 -d ${c.dir}/conf -D FOREGROUND`],
  ...webServer('log/access.log'),
};

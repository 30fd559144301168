// nginx as Debian configures it (worker_processes auto: a master and one worker per core), but
// `user root;`: workers running as www-data cannot be dumped here (docs/compatibility.md).
import { writeFile, type CompatServer, type Ctx } from '../entry';
import { webServer, writeSite } from './web';

function configure(c: Ctx, hostDir: string): void {
  const d = c.dir;
  writeFile(`${hostDir}/nginx.conf`, `user root;
worker_processes auto;
pid ${d}/nginx.pid;
error_log stderr;
events { worker_connections 768; }
http {
  sendfile on;
  tcp_nopush on;
  types_hash_max_size 2048;
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log ${d}/log/access.log;
  client_body_temp_path ${d}/tmp/body;
  proxy_temp_path ${d}/tmp/proxy;
  fastcgi_temp_path ${d}/tmp/fastcgi;
  uwsgi_temp_path ${d}/tmp/uwsgi;
  scgi_temp_path ${d}/tmp/scgi;
  server {
    listen ${c.port} default_server;
    root ${d}/www;
    index index.html;
  }
}
`);
  writeSite(c, hostDir);
}

export const nginx: CompatServer = {
  id: 'nginx',
  kind: 'web server, master and workers',
  pkg: 'nginx',
  quick: true,
  prepare: async (c, hostDir) => configure(c, hostDir),
  command: (c) => ['nginx', '-e', 'stderr', '-c', `${c.dir}/nginx.conf`, '-g', 'daemon off;'],
  ...webServer('log/access.log'),
};

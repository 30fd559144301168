// lighttpd with Debian's defaults (one process, mime types from its create-mime script, access log),
// but without `server.username = "www-data"`: a process of another user cannot be dumped here.
import { writeFile, type CompatServer, type Ctx } from '../entry';
import { webServer, writeSite } from './web';

function configure(c: Ctx, hostDir: string): void {
  const d = c.dir;
  writeFile(`${hostDir}/lighttpd.conf`, `server.modules = ("mod_indexfile", "mod_access", "mod_staticfile", "mod_accesslog")
server.document-root = "${d}/www"
server.upload-dirs = ("${d}/tmp")
server.pid-file = "${d}/lighttpd.pid"
server.port = ${c.port}
server.bind = "0.0.0.0"
accesslog.filename = "${d}/log/access.log"
index-file.names = ("index.html")
static-file.exclude-extensions = (".php", ".pl", ".fcgi")
include_shell "/usr/share/lighttpd/create-mime.conf.pl"
`);
  writeSite(c, hostDir);
}

export const lighttpd: CompatServer = {
  id: 'lighttpd',
  kind: 'web server, one process',
  pkg: 'lighttpd',
  prepare: async (c, hostDir) => configure(c, hostDir),
  command: (c) => ['lighttpd', '-D', '-f', `${c.dir}/lighttpd.conf`],
  ...webServer('log/access.log'),
};

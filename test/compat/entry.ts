// What a catalogue entry says about one third-party server: the Debian packages it comes from, how
// its documentation says to run it (as a fastmig service), how its own client loads it, keeps using
// it while it moves, and checks it afterwards.
import fs from 'fs';
import path from 'path';
import { fastmigHome } from '../../common/config';

/** What an entry knows about its deployed service. */
export interface Ctx {
  /** The fastmig service's name (also the folder it keeps under /srv). */
  name: string;
  /** The TCP port its clients reach it on (process: also the one it listens on; docker: the published one). */
  port: number;
  /** Further free ports, for servers that listen on more than one. */
  ports: number[];
  /** Where clients reach it: the service's own address (process; it moves with the service), or its host's (docker); set once deployed. */
  address: string;
  /** `/srv/<name>`: the directory the service keeps, as its host sees it. */
  dir: string;
  /** What load() found out, for check(). */
  state: Record<string, unknown>;
}

/** The client keeps using the server through the move: what it saw. */
export interface Usage {
  /** When each operation the server acknowledged was answered (ms since epoch). */
  acks: number[];
  /** Ends the client's use (waits for its last operation); throws when the client saw something wrong. */
  stop(): Promise<void>;
}

export interface CompatServer {
  /** Short name: the service is deployed as `compat-<id>`. */
  id: string;
  /** What kind of server it stands for in the catalogue. */
  kind: string;
  /** The Debian package whose version the table reports. */
  pkg: string;
  /** process (default), or docker: a container of the catalogue's image (test/compat/image.ts). */
  runtime?: 'process' | 'docker';
  /** docker: the port it listens on inside the container (its documented default). */
  containerPort?: number;
  /** Part of the quick subset that `npm test` runs. */
  quick?: boolean;
  /** How many ports it needs besides `port`. */
  extraPorts?: number;
  /** Files on the source host's /srv/<name> before the deploy (configuration, an initialised data directory). */
  prepare?(ctx: Ctx, hostDir: string): Promise<void>;
  /** The command line (as its documentation runs it in the foreground), the environment and the working directory. */
  command(ctx: Ctx): string[];
  env?: Record<string, string>;
  /** Whether /srv/<name> travels with it (`--keep`); default true. */
  keep?: boolean;
  /** Waits until its own client can use it. */
  ready(ctx: Ctx): Promise<unknown>;
  /** A bounded load by its own client or benchmark tool, before the move. */
  load(ctx: Ctx): Promise<void>;
  /** The client's use while it moves. */
  use(ctx: Ctx): Usage;
  /** After the move, by its own client: its data, its counters, that it still takes writes. */
  check(ctx: Ctx, hostDir: string): Promise<void>;
}

/** What host `host` sees as /srv/<rel>, read from this machine (each host of the stack has its own /srv). */
export const srvOf = (host: string, rel: string) => path.join(fastmigHome(), 'srv', host, rel);

export function writeFile(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

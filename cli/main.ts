// The fastmig CLI. Every service operation runs as a Temporal workflow on the orchestrator, so the
// CLI holds no state: it parses and validates input, calls the client library (client/) or the
// dev stack (stack/), shows progress and prints the result. Bad input exits with code 2.
import { UserError } from '../client';
import { agent } from './agent';
import { Command, parseCommandLine } from './args';
import { deploy } from './deploy';
import { image } from './image';
import { print } from './output';
import { schedule } from './schedule';
import { evacuate, hosts, logs, migrate, remove, resume, status } from './services';
import { stack } from './stack-command';

const HELP = `fastmig — live migration of stateful services between hosts

Usage:
  fastmig stack up [--hosts hostA,hostB]     install (if needed) and start Temporal, S3, orchestrator, host agents
  fastmig stack down                         stop everything the stack started (data stays on disk)
  fastmig stack status [--json]
  fastmig agent --host <name> [--address <ip>]  run a host agent in the foreground (a machine of its own)
  fastmig deploy <service> --host <host> [--port <p>] [--cwd <dir>] [--env K=V]...
                 [--pre-restore <cmd>] [--post-checkpoint <cmd>] [--encrypt] [--restart '<json policy>'] [--memory-limit <MiB>]
                 [--keep <dir>]... [--user <name>]
                 [--checkpoint-every <seconds> [--checkpoint-keep N]] -- <command...>
  fastmig deploy <service> --host <host> --runtime docker --image <image> [--port <p>] [--volume <name>:<path>]... [-- <command...>]
  fastmig image import <name> <rootfs.tar> [--change 'CMD ["sh"]']...   put an image into every host's engine
  fastmig image load <archive.tar>                                       (a \`docker save\` archive)
  fastmig image list [--json]
  fastmig migrate <service> --to <host> [--mode warm|cold|lazy] [--on-lazy-failure resume-source|stop] [--json]
  fastmig status [<service>] [--json]
  fastmig logs <service> [--lines N]
  fastmig hosts [--json]
  fastmig remove <service>
  fastmig resume <service>                 run the copy a lazy migration left stopped (--on-lazy-failure stop)
  fastmig evacuate <host> [--to <host>]... [--parallel N] [--json]
  fastmig schedule create <name> --cron "<expr>" migrate <service> --to <host> [--mode warm|cold|lazy]
  fastmig schedule list [--json] | pause <name> | unpause <name> | trigger <name> | delete <name>

Examples:
  fastmig deploy kv --host hostA --port 18080 -- node server.js --port 18080
  fastmig deploy web --host hostA --runtime docker --image fastmig/musl:1 --port 8080
  fastmig migrate kv --to hostB
  fastmig status kv --json
  fastmig evacuate hostA --parallel 3
  fastmig schedule create nightly --cron "0 3 * * *" migrate kv --to hostB`;

const commands: Record<string, Command> = { stack, agent, deploy, image, migrate, status, logs, hosts, remove, resume, evacuate, schedule };

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    print(HELP, false);
    return cmd ? 0 : 2;
  }
  const command = Object.hasOwn(commands, cmd) ? commands[cmd] : undefined;
  if (!command) throw new UserError(`unknown command "${cmd}": run \`fastmig help\``);
  return command.run(parseCommandLine(rest, command.options));
}

if (require.main === module || process.argv[1]?.endsWith('bin/fastmig')) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`fastmig: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(err instanceof UserError ? 2 : 1);
    },
  );
}

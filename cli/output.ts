// The CLI's two outputs: progress and messages on stderr, results on stdout (JSON with --json).
export const say = (line: string) => process.stderr.write(`${line}\n`);
export const print = (v: unknown, json: boolean) => process.stdout.write(json ? `${JSON.stringify(v)}\n` : `${v}\n`);

#!/usr/bin/env node
/**
 * `netsensor <command>`: dispatches to cli/commands/<command>.ts, loaded lazily so `netsensor flows` never
 * pays for onnxruntime or SQLite. Every command exports `run(argv): Promise<number>` (the exit code) and
 * `summary`. A NetsensorError (or a command line node:util parseArgs refuses) becomes one line on stderr and
 * its exit code; anything else is a bug and prints a stack.
 */
import { isNetsensorError, NetsensorError } from '../common/errors.js';

const COMMANDS: Record<string, string> = {
  flows: 'write one record per finished flow of a capture (jsonl, csv or Suricata EVE)',
  detect: 'score the flows of a capture with the detection model',
  model: 'train, evaluate, inspect or publish detection models',
  sensor: 'run a sensor: live or replayed capture → detection → outbox → MQTT',
  gateway: 'run the gateway: broker, event store, correlation, alerts, API, dashboard, model updates',
  keys: 'generate and inspect model-signing keys',
  demo: 'embedded broker + gateway + a sensor replaying a bundled capture (what `npm start` runs)',
  version: 'the version, feature schema id and runtime (-V or --version: the version alone)',
};

export interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: netsensor <command> [options]   (netsensor <command> --help for its options)',
    '',
    ...Object.entries(COMMANDS).map(([c, s]) => `  ${c.padEnd(width)}  ${s}`),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    const { packageVersion } = await import('../common/version.js');
    if (name !== 'version') { process.stdout.write(`${packageVersion()}\n`); return 0; }
    if (rest.length) throw new NetsensorError('ERR_USAGE', 'version takes no arguments');
    const { SCHEMA_ID } = await import('../core/schema.js');
    process.stdout.write(`netsensor ${packageVersion()}\nfeature schema ${SCHEMA_ID}\nnode ${process.version} ${process.platform}/${process.arch}\n`);
    return 0;
  }
  if (!(name in COMMANDS)) {
    process.stderr.write(`netsensor: unknown command '${name}'\n${usage()}\n`);
    return 2;
  }
  const mod = (await import(`./commands/${name}.js`)) as Command;
  return mod.run(rest);
}

/** node:util parseArgs refusing a command line that its command did not check itself is bad usage all the same. */
function usageError(err: unknown): NetsensorError | undefined {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) return undefined;
  return new NetsensorError('ERR_USAGE', (err as Error).message.split('\n')[0], { cause: err });
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (thrown) => {
    const err = usageError(thrown) ?? thrown;
    if (isNetsensorError(err)) {
      process.stderr.write(`netsensor: ${err.message} [${err.code}]\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`netsensor: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
    // A command that failed has cleaned up before it threw; a handle it missed must not keep a failed server alive.
    setTimeout(() => process.exit(), 2000).unref();
  },
);

/**
 * `netsensor gateway [options]` runs the gateway until SIGINT/SIGTERM; SIGHUP reloads what may change safely.
 * `netsensor gateway add-sensor <id> --credentials FILE [--role R]` adds a sensor login to the embedded
 * broker's credentials file and prints the generated password once.
 */
import { parseArgs } from 'node:util';
import { NetsensorError } from '../../common/errors.js';
import { createLogger, type Logger } from '../../common/log.js';
import { configHelp, envNamesFor, loadConfigFromArgs, type GatewayConfig } from '../../gateway/config.js';
import type { ReloadPlan } from '../../gateway/reload.js';

export const summary = 'run the gateway: broker, event store, correlation, alerts, API, dashboard, model updates';

async function addSensor(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { credentials: { type: 'string' }, role: { type: 'string', default: 'sensor' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) { process.stdout.write(configHelp() + '\n'); return 0; }
  const id = positionals[0];
  const file = values.credentials ?? envNamesFor('mqtt.credentialsFile').map((n) => process.env[n]).find(Boolean);
  if (!id || positionals.length !== 1) throw new NetsensorError('ERR_USAGE', 'add-sensor needs exactly one sensor id');
  if (!file) throw new NetsensorError('ERR_USAGE', 'add-sensor needs --credentials FILE');
  const { addCredential, ROLES } = await import('../../gateway/credentials.js');
  if (!ROLES.includes(values.role as never)) throw new NetsensorError('ERR_USAGE', `--role must be one of ${ROLES.join(', ')}`);
  const password = await addCredential(file, id, values.role as 'sensor');
  process.stderr.write(`added ${values.role} '${id}' to ${file}; the password is shown once:\n`);
  process.stdout.write(`${password}\n`);
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'add-sensor') return addSensor(argv.slice(1));
  const args = loadConfigFromArgs(argv, process.env);
  if (args.help) { process.stdout.write(configHelp() + '\n'); return 0; }
  const { config } = args;
  const log = createLogger(args.logLevel ?? process.env.NETSENSOR_LOG_LEVEL ?? 'info');
  if (config.store.url) return runWorker(argv, config, log);
  const { Gateway } = await import('../../gateway/index.js');
  const gw = await Gateway.start(config, log);
  process.stderr.write(`netsensor gateway: dashboard http://${config.http.host}:${gw.httpPort}/  mqtt ${config.mqtt.broker ?? `mqtt://${config.mqtt.host}:${gw.mqttPort}`}\n`);
  // SIGHUP: read the configuration again (same file, environment and flags) and apply what may change safely.
  const reload = reloader(argv, log, (next) => gw.reload(next));
  process.on('SIGHUP', reload);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  process.off('SIGHUP', reload);
  await gw.stop();
  return 0;
}

/** One of several workers on a PostgreSQL store (store.url; docs/scale.md). */
async function runWorker(argv: string[], config: GatewayConfig, log: Logger): Promise<number> {
  const { ClusterWorker } = await import('../../gateway/cluster/worker.js');
  const w = await ClusterWorker.start(config, log);
  process.stderr.write(`netsensor gateway: worker ${w.id}  dashboard http://${config.http.host}:${w.httpPort}/  mqtt ${config.mqtt.broker}\n`);
  const reload = reloader(argv, log, (next) => w.reload(next));
  process.on('SIGHUP', reload);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.off('SIGHUP', reload);
  await w.stop();
  return 0;
}

/** The SIGHUP handler: loads the configuration again and applies it with `apply`; a bad one changes nothing. */
function reloader(argv: string[], log: Logger, apply: (next: GatewayConfig) => ReloadPlan): () => void {
  return () => {
    let next;
    try {
      const again = loadConfigFromArgs(argv, process.env);
      if (again.help) return;
      next = again.config;
    } catch (e) {
      log.error({ reason: (e as Error).message, code: (e as { code?: string }).code }, 'reload refused: the new configuration is invalid; running on with the previous one');
      return;
    }
    try {
      const plan = apply(next);
      log.info({ applied: plan.apply }, 'configuration reloaded');
      if (plan.restart.length) log.warn({ settings: plan.restart }, 'changed settings that take effect only after a restart were not applied');
    } catch (e) {
      log.error({ reason: (e as Error).message, code: (e as { code?: string }).code }, 'reload refused: a file it names is unusable; running on with the previous configuration');
    }
  };
}

/**
 * `netsensor gateway [options]` runs the gateway until SIGINT/SIGTERM.
 * `netsensor gateway add-sensor <id> --credentials FILE [--role R]` adds a sensor login to the embedded
 * broker's credentials file and prints the generated password once.
 */
import { parseArgs } from 'node:util';
import { NetsensorError } from '../../common/errors.js';
import { createLogger } from '../../common/log.js';
import type { DeepPartial, GatewayConfig } from '../../gateway/config.js';

export const summary = 'run the gateway: broker, event store, correlation, alerts, API, dashboard, model updates';

const HELP = `usage: netsensor gateway [options]
       netsensor gateway add-sensor <id> --credentials FILE [--role sensor|observer|admin]

Runs the gateway. By default an embedded MQTT 3.1.1 broker listens on 127.0.0.1:1883 and the API and
dashboard on http://127.0.0.1:8080/. Settings are layered: defaults < --config file < environment < flags.

options:
  --config FILE           JSON configuration file (see docs/gateway.md)
  --broker URL            use an external broker (mqtt://host:port or mqtts://host:port, MQTT v5) instead of
                          the embedded one; events are read through the shared subscription $share/<group>/...
  --share-group NAME      shared-subscription group with --broker (default netsensor)
  --mqtt-username NAME    login at the external broker (password: NETSENSOR_GW_MQTT_PASSWORD)
  --mqtt-host ADDR        embedded broker listen address (default 127.0.0.1)
  --mqtt-port N           embedded broker port (default 1883)
  --credentials FILE      embedded broker logins (id:scrypt-hash lines, made by add-sensor); without it only
                          anonymous clients from loopback are accepted
  --tls-cert FILE         serve MQTT over TLS with this certificate (with --tls-key; --tls-ca optional)
  --tls-key FILE
  --tls-ca FILE
  --http-host ADDR        API/dashboard listen address (default 127.0.0.1)
  --http-port N           API/dashboard port (default 8080)
  --token-required-on-loopback   require the API token from loopback clients too
                          (the token itself comes from NETSENSOR_GW_API_TOKEN or the config file)
  --db FILE               SQLite database (default ./netsensor-gateway.db)
  --retention-days N      delete events older than N days (default 30)
  --max-db-mb N           delete oldest events above this database size (default 1024)
  --window-s N            correlation window in seconds (default 300)
  --homeassistant         publish Home Assistant MQTT discovery
  --model-keys FILE       public keys (PEM or base64 lines) model uploads must be signed by (models.trustedKeysFile)
  --max-failure-rate X    halt a model rollout when this share of sensors fails it (default 0.25)
  --log-level LEVEL       trace|debug|info|warn|error (default info)
  -h, --help              this help

environment: NETSENSOR_GW_API_TOKEN, NETSENSOR_GW_BROKER, NETSENSOR_GW_MQTT_USERNAME,
  NETSENSOR_GW_MQTT_PASSWORD, NETSENSOR_GW_CREDENTIALS, NETSENSOR_GW_DB, NETSENSOR_GW_HTTP_PORT,
  NETSENSOR_GW_MODEL_KEYS
`;

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new NetsensorError('ERR_USAGE', `--${name} expects a number, got '${v}'`);
  return n;
}

async function addSensor(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { credentials: { type: 'string' }, role: { type: 'string', default: 'sensor' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) { process.stdout.write(HELP); return 0; }
  const id = positionals[0];
  const file = values.credentials ?? process.env.NETSENSOR_GW_CREDENTIALS;
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
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: false,
      options: {
        config: { type: 'string' }, broker: { type: 'string' }, 'share-group': { type: 'string' }, 'mqtt-username': { type: 'string' },
        'mqtt-host': { type: 'string' }, 'mqtt-port': { type: 'string' }, credentials: { type: 'string' },
        'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'tls-ca': { type: 'string' },
        'http-host': { type: 'string' }, 'http-port': { type: 'string' }, 'token-required-on-loopback': { type: 'boolean' },
        db: { type: 'string' }, 'retention-days': { type: 'string' }, 'max-db-mb': { type: 'string' }, 'window-s': { type: 'string' },
        homeassistant: { type: 'boolean' }, 'model-keys': { type: 'string' }, 'max-failure-rate': { type: 'string' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new NetsensorError('ERR_USAGE', `${(e as Error).message}\n${HELP}`);
  }
  const v = parsed.values;
  if (v.help) { process.stdout.write(HELP); return 0; }
  if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined)) throw new NetsensorError('ERR_USAGE', '--tls-cert and --tls-key go together');
  const maxMb = num('max-db-mb', v['max-db-mb']);
  const windowS = num('window-s', v['window-s']);
  const flags: DeepPartial<GatewayConfig> = {
    mqtt: {
      broker: v.broker, shareGroup: v['share-group'], username: v['mqtt-username'], host: v['mqtt-host'], port: num('mqtt-port', v['mqtt-port']),
      credentialsFile: v.credentials,
      tls: v['tls-cert'] ? { certFile: v['tls-cert'], keyFile: v['tls-key']!, caFile: v['tls-ca'] } : undefined,
    },
    http: { host: v['http-host'], port: num('http-port', v['http-port']), loopbackExempt: v['token-required-on-loopback'] ? false : undefined },
    store: { path: v.db, retentionDays: num('retention-days', v['retention-days']), maxBytes: maxMb === undefined ? undefined : Math.round(maxMb * 1024 * 1024) },
    correlation: { windowMs: windowS === undefined ? undefined : Math.round(windowS * 1000) },
    homeAssistant: { enabled: v.homeassistant ? true : undefined },
    models: { trustedKeysFile: v['model-keys'], maxFailureRate: num('max-failure-rate', v['max-failure-rate']) },
  };
  const { loadConfig } = await import('../../gateway/config.js');
  const config = loadConfig({ file: v.config, env: process.env, flags });
  const log = createLogger(v['log-level'] ?? process.env.NETSENSOR_LOG_LEVEL ?? 'info');
  const { Gateway } = await import('../../gateway/index.js');
  const gw = await Gateway.start(config, log);
  process.stderr.write(`netsensor gateway: dashboard http://${config.http.host}:${gw.httpPort}/  mqtt ${config.mqtt.broker ?? `mqtt://${config.mqtt.host}:${gw.mqttPort}`}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await gw.stop();
  return 0;
}

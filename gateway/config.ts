/**
 * Gateway configuration: its defaults and its table of settings in the one settings system
 * (common/settings.ts), which layers defaults ← config file (JSON) ← environment (NETSENSOR_GW_*) ← flags.
 * Validation runs once at start-up, refuses unknown keys at any depth and names the offending key and what it
 * received (never a secret).
 */
import {
  configError, defineSettings, envNamesOf, parseFlags, resolveSettings, type DeepPartial, type Setting, type SettingKind,
} from '../common/settings.js';
import { settingsHelp } from '../common/settings-help.js';
import { hostname } from 'node:os';
import { ID_PATTERN } from '../protocol/topics.js';
import { resolveSecret } from './secrets.js';
import { postgresOptions } from './store/postgres-connection.js';
import { parseAllowEntry } from '../common/address-list.js';
import { parsePlaybooks, RESPONSE_MODES, type Playbook, type ResponseMode } from './response/playbooks.js';
import { parseSuppressions, type Suppression } from './suppression.js';

export type { DeepPartial };

export interface GatewayConfig {
  mqtt: {
    /** undefined = embedded broker; otherwise mqtt://host:port or mqtts://host:port (MQTT v5, shared subscription). */
    broker?: string;
    /** Embedded broker listen address. */
    host: string;
    port: number;
    /** File of `id:scrypt-hash[:role]` lines; without it only anonymous loopback clients may connect. */
    credentialsFile?: string;
    /** Embedded broker over TLS; `requireClientCert`: mutual TLS, clients need a certificate issued by `caFile`. */
    tls?: { certFile: string; keyFile: string; caFile?: string; requireClientCert?: boolean };
    /** External broker: the gateway's own login and the shared-subscription group. */
    username?: string;
    password?: string;
    /** File holding `password` (or the systemd credential `mqtt-password`). */
    passwordFile?: string;
    /** External broker over mqtts://: CA to verify it by, the gateway's client certificate, verification. */
    brokerTls: { caFile?: string; certFile?: string; keyFile?: string; verify: boolean };
    shareGroup: string;
    clientId: string;
  };
  http: {
    host: string;
    port: number;
    /** Bearer token required from non-loopback clients; without one, only loopback clients are served. */
    token?: string;
    /** File holding `token` (or the systemd credential `api-token`). */
    tokenFile?: string;
    /** Loopback clients need no token (set false to require it everywhere). */
    loopbackExempt: boolean;
  };
  store: {
    path: string;
    /** Events older than this are deleted (alerts are kept until they too are older). */
    retentionDays: number;
    /** When the database file passes this size the oldest events are deleted first. */
    maxBytes: number;
    retentionIntervalMs: number;
    /** PostgreSQL instead of SQLite (postgres://user@host:port/database): the store several workers share (docs/scale.md). */
    url?: string;
    /** File holding the PostgreSQL password (never in the URL). */
    passwordFile?: string;
    /** CA certificates the PostgreSQL server is verified against; set, the connection is TLS. */
    caFile?: string;
  };
  /** Several workers on one PostgreSQL store and one external broker (store.url; docs/scale.md). */
  cluster: {
    /** This worker's name: lease holder, MQTT client id netsensor-worker-<id> (stable, so a restart resumes its session). */
    workerId: string;
    /** The leader renews its lease every third of this; another worker takes over once it expired. */
    leaseMs: number;
  };
  correlation: {
    /** Events of the same source and class closer than this join one alert. */
    windowMs: number;
    /** Distinct destination hosts from one source inside the window that make a sweep / lateral-movement alert. */
    sweepHosts: number;
    /** Distinct destination ports on one host from one source inside the window that make a port-scan alert. */
    scanPorts: number;
    /** Sensors that must report the same source+class before the alert's severity is raised one step. */
    multiSensor: number;
    /** Distinct one-shot sources (no other event in the window) against one host that make a fan_in alert. */
    fanInSources: number;
    /** Least time between two update messages of one alert on MQTT (creation and escalation are sent at once). */
    updateIntervalMs: number;
  };
  homeAssistant: {
    enabled: boolean;
    discoveryPrefix: string;
    /** The dashboard as Home Assistant links it; default http://<http.host or this host's name>:<http.port>/. */
    configurationUrl?: string;
  };
  /** Names this gateway on MQTT (netsensor/v1/gateway/<id>/status) and in Home Assistant. */
  gatewayId: string;
  /** Suricata EVE JSON output of alerts (gateway/eve-output.ts, docs/gateway.md). */
  eve: {
    /** Append one EVE alert record per alert and per escalation to this file; SIGHUP reopens it. */
    file?: string;
    /** Also send each record to this syslog server (udp://host:port). */
    syslog?: string;
    /** Community ID seed (0 unless every tool whose logs are joined uses another). */
    communityIdSeed: number;
  };
  /** Model distribution (OTA, docs/ota.md). */
  models: {
    /** Public keys (PEM or base64 lines) an upload must be signed by; without it uploads are checked for shape only. */
    trustedKeysFile?: string;
    /** Halt a rollout when failed / tried sensors passes this (0..1). */
    maxFailureRate: number;
    /** Cap on the first stage, percent of a channel's sensors (the signed --rollout applies when lower). */
    maxFirstStagePercent: number;
  };
  /** Automated response (docs/response.md). Off by default. */
  response: {
    mode: ResponseMode;
    /** The gateway's Ed25519 response signing key (PKCS#8 PEM, mode 0600); sensors pin its public half. */
    keyFile?: string;
    /** Playbooks, JSON (gateway/response/playbooks.ts). */
    playbooks: Playbook[];
    /** Critical hosts never named by an action: addresses or address/prefix (the gateway's own addresses always are). */
    allowlist: string[];
    /** Act on anomaly-only alerts (class `anomaly`, no model class) too. */
    anomalyActions: boolean;
    /** Most actions active or waiting for approval at once. */
    maxActive: number;
    /** Most actions started per minute. */
    maxPerMinute: number;
    /** A command is void this long after it was signed. */
    commandValidityMs: number;
  };
  /** Operator suppressions: alerts stored but not announced (gateway/suppression.ts). */
  suppress: Suppression[];
  /** A sensor is shown offline when nothing was heard from it for this long (the last will usually says it sooner). */
  sensorStaleMs: number;
}

export const defaults: GatewayConfig = {
  mqtt: { host: '127.0.0.1', port: 1883, shareGroup: 'netsensor', clientId: '', brokerTls: { verify: true } },
  http: { host: '127.0.0.1', port: 8080, loopbackExempt: true },
  store: { path: 'netsensor-gateway.db', retentionDays: 30, maxBytes: 1024 * 1024 * 1024, retentionIntervalMs: 60_000 },
  cluster: { workerId: defaultGatewayId(), leaseMs: 10_000 },
  correlation: { windowMs: 5 * 60_000, sweepHosts: 10, scanPorts: 20, multiSensor: 2, fanInSources: 10, updateIntervalMs: 10_000 },
  homeAssistant: { enabled: false, discoveryPrefix: 'homeassistant' },
  eve: { communityIdSeed: 0 },
  models: { maxFailureRate: 0.25, maxFirstStagePercent: 100 },
  response: { mode: 'off', playbooks: [], allowlist: [], anomalyActions: false, maxActive: 32, maxPerMinute: 10, commandValidityMs: 30_000 },
  suppress: [],
  sensorStaleMs: 5 * 60_000,
  gatewayId: defaultGatewayId(),
};

/** The host's name, reduced to the id alphabet (topics and Home Assistant node ids). */
function defaultGatewayId(): string {
  const id = hostname().replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return ID_PATTERN.test(id) ? id : 'gateway';
}

const S = (path: string, kind: SettingKind, flag: Setting['flag'], help: string, extra: Partial<Setting> = {}): Setting => ({ path, kind, flag, help, ...extra });
const DAY_MS = 86_400_000;

/**
 * Every gateway setting, once. Environment names are derived (NETSENSOR_GW_ + path); the names the gateway
 * read before that scheme stay honoured as aliases (docs/gateway.md lists them).
 */
export const SETTINGS: readonly Setting[] = [
  S('mqtt.broker', 'string', 'broker', 'use an external broker (mqtt://host:port or mqtts://host:port, MQTT v5) instead of the embedded one; events are read through the shared subscription $share/<group>/...',
    { pattern: /^mqtts?:\/\/[^/\s]+(:\d+)?\/?$/, url: true, envAliases: ['NETSENSOR_GW_BROKER'] }),
  S('mqtt.shareGroup', 'string', 'share-group', 'shared-subscription group with --broker (letters, digits, _ or -)', { pattern: /^[A-Za-z0-9_-]{1,64}$/ }),
  S('mqtt.username', 'string', 'mqtt-username', 'login at the external broker'),
  S('mqtt.password', 'string', undefined, 'password at the external broker (environment or file: flags show in ps)', { secret: true }),
  S('mqtt.passwordFile', 'file', 'mqtt-password-file', 'file holding the external broker password (one line, not readable by others); default: the systemd credential mqtt-password'),
  S('mqtt.brokerTls.caFile', 'file', 'broker-ca', 'CA certificates the external broker (mqtts://) is verified against (default: the system\'s)'),
  S('mqtt.brokerTls.certFile', 'file', 'broker-cert', 'client certificate the gateway presents to the external broker (with --broker-key)'),
  S('mqtt.brokerTls.keyFile', 'file', 'broker-key', 'private key of the client certificate'),
  S('mqtt.brokerTls.verify', 'bool', { name: 'broker-no-verify', sets: false }, 'verify the external broker\'s certificate and name (the flag turns it off: testing only)'),
  S('mqtt.clientId', 'string', undefined, 'MQTT client id at the external broker (default: netsensor-gateway-<gatewayId>, stable so that a restarted gateway resumes its broker session)'),
  S('mqtt.host', 'string', 'mqtt-host', 'embedded broker listen address'),
  S('mqtt.port', 'int', 'mqtt-port', 'embedded broker port', { min: 0, max: 65535 }),
  S('mqtt.credentialsFile', 'file', 'credentials', 'embedded broker logins (id:scrypt-hash lines, made by add-sensor); without it only anonymous clients from loopback are accepted',
    { envAliases: ['NETSENSOR_GW_CREDENTIALS'] }),
  S('mqtt.tls.certFile', 'file', 'tls-cert', 'serve MQTT over TLS with this certificate (with --tls-key)'),
  S('mqtt.tls.keyFile', 'file', 'tls-key', 'private key of the TLS certificate'),
  S('mqtt.tls.caFile', 'file', 'tls-ca', 'CA certificates for TLS (optional; with --tls-require-client-cert the CA client certificates must come from)'),
  S('mqtt.tls.requireClientCert', 'bool', { name: 'tls-require-client-cert', sets: true }, 'mutual TLS: refuse clients without a certificate issued by --tls-ca'),
  S('http.host', 'string', 'http-host', 'API/dashboard listen address'),
  S('http.port', 'int', 'http-port', 'API/dashboard port', { min: 0, max: 65535 }),
  S('http.token', 'string', undefined, 'bearer token required from non-loopback API clients, ≥ 16 characters (environment or file: flags show in ps)',
    { secret: true, minLength: 16, envAliases: ['NETSENSOR_GW_API_TOKEN'] }),
  S('http.tokenFile', 'file', 'token-file', 'file holding the API token (one line, not readable by others); default: the systemd credential api-token'),
  S('http.loopbackExempt', 'bool', { name: 'token-required-on-loopback', sets: false }, 'loopback clients need no token (the flag requires the token from loopback too)'),
  S('store.path', 'string', 'db', 'SQLite database', { envAliases: ['NETSENSOR_GW_DB'] }),
  S('store.retentionDays', 'number', 'retention-days', 'delete events older than this many days', { min: 0, exclusiveMin: true }),
  S('store.maxBytes', 'int', { name: 'max-db-mb', scale: 1024 * 1024 }, 'delete the oldest events above this database size (bytes; the flag takes MiB)', { min: 1024 * 1024, max: Number.MAX_SAFE_INTEGER }),
  S('store.url', 'string', 'store-url', 'PostgreSQL store shared by several gateway workers: postgres://user@host:port/database (no password here; needs --broker; docs/scale.md)',
    { pattern: /^postgres(ql)?:\/\/\S+$/, url: true }),
  S('store.passwordFile', 'file', 'store-password-file', 'file holding the PostgreSQL password (one line, not readable by others)'),
  S('store.caFile', 'file', 'store-ca', 'connect to PostgreSQL over TLS, verifying the server against these CA certificates'),
  S('cluster.workerId', 'string', 'worker-id', 'this worker\'s name among several on one PostgreSQL store (default: the host name)', { pattern: ID_PATTERN }),
  S('cluster.leaseMs', 'int', undefined, 'leader lease (ms): renewed every third of it, taken over by another worker once expired', { min: 1000, max: 600_000 }),
  S('store.retentionIntervalMs', 'int', undefined, 'how often retention runs (ms)', { min: 100, max: DAY_MS }),
  S('correlation.windowMs', 'int', { name: 'window-s', scale: 1000 }, 'correlation window (ms; the flag takes seconds)', { min: 1, max: DAY_MS }),
  S('correlation.sweepHosts', 'int', undefined, 'distinct hosts from one source within the window that make a sweep alert', { min: 2, max: 1_000_000 }),
  S('correlation.scanPorts', 'int', undefined, 'distinct ports on one host from one source within the window that make a port-scan alert', { min: 2, max: 65536 }),
  S('correlation.multiSensor', 'int', undefined, 'sensors reporting the same source and class that raise the severity a step', { min: 2, max: 1000 }),
  S('correlation.fanInSources', 'int', undefined, 'distinct one-shot sources against one host that make a fan_in alert', { min: 2, max: 1_000_000 }),
  S('correlation.updateIntervalMs', 'int', undefined, 'least time between two update messages of one alert (ms)', { min: 0, max: DAY_MS }),
  S('homeAssistant.enabled', 'bool', { name: 'homeassistant', sets: true }, 'publish Home Assistant MQTT discovery'),
  S('homeAssistant.discoveryPrefix', 'string', undefined, 'Home Assistant discovery topic prefix'),
  S('homeAssistant.configurationUrl', 'string', undefined, 'dashboard URL Home Assistant links the devices to (default http://<http host or host name>:<http port>/)',
    { pattern: /^https?:\/\/\S+$/, url: true }),
  S('gatewayId', 'string', 'gateway-id', 'this gateway\'s id on MQTT (netsensor/v1/gateway/<id>/status) and in Home Assistant (default: the host name)', { pattern: ID_PATTERN }),
  S('eve.file', 'string', 'eve-file', 'append a Suricata EVE JSON alert record per alert and per escalation to this file (reopened on SIGHUP, for logrotate)'),
  S('eve.syslog', 'string', 'eve-syslog', 'also send each EVE record to this syslog server: udp://host:port (RFC 5424, facility local5)',
    { pattern: /^udp:\/\/[^/\s]+(:\d+)?\/?$/, url: true }),
  S('eve.communityIdSeed', 'int', undefined, 'Community ID seed of the EVE records', { min: 0, max: 65535 }),
  S('models.trustedKeysFile', 'file', 'model-keys', 'public keys (PEM or base64 lines) model uploads must be signed by', { envAliases: ['NETSENSOR_GW_MODEL_KEYS'] }),
  S('models.maxFailureRate', 'number', 'max-failure-rate', 'halt a model rollout when this share of sensors fails it (0..1)', { min: 0, max: 1 }),
  S('models.maxFirstStagePercent', 'int', undefined, 'cap on the first rollout stage, percent of a channel\'s sensors', { min: 1, max: 100 }),
  S('response.mode', 'enum', 'response', 'automated response: off | dry-run (record what would be done) | approve (wait for approval through the API) | auto', { values: RESPONSE_MODES }),
  S('response.keyFile', 'file', 'response-key', 'Ed25519 key response commands are signed with (netsensor keys generate; sensors pin its signing.pub)'),
  S('response.playbooks', 'json', undefined, 'playbooks: a JSON list of {name, match, action, ttlS, minSeverity, minSensors, minFlows, sensors, mode} (docs/response.md)'),
  S('response.allowlist', 'list', 'response-allow', 'critical hosts no action may name: address or address/prefix; repeat or comma-separate'),
  S('response.anomalyActions', 'bool', undefined, 'let anomaly-only alerts trigger playbooks too'),
  S('response.maxActive', 'int', undefined, 'most response actions active or awaiting approval at once', { min: 1, max: 1024 }),
  S('response.maxPerMinute', 'int', undefined, 'most response actions started per minute', { min: 1, max: 10_000 }),
  S('response.commandValidityMs', 'int', undefined, 'a signed command is void this long after signing (ms)', { min: 1000, max: 3_600_000 }),
  S('suppress', 'json', undefined, 'alerts to store but not announce (a site\'s own known false alarms): a JSON list of {name, class, src, dest, sensor, until, reason}; reloaded on SIGHUP (docs/gateway.md)'),
  S('sensorStaleMs', 'int', undefined, 'a sensor is shown offline after this long without a message (ms)', { min: 1000, max: 30 * DAY_MS }),
];

const TABLE = defineSettings<GatewayConfig>({ envPrefix: 'NETSENSOR_GW_', defaults, settings: SETTINGS });

/** Environment names read for a setting: the derived one, then the older alias if there is one. */
export const envNamesFor = (path: string): string[] => envNamesOf(TABLE, SETTINGS.find((s) => s.path === path)!);

/** Rules that involve more than one setting; secrets read from their files or systemd credentials. */
function validateWhole(c: GatewayConfig, env: NodeJS.ProcessEnv): GatewayConfig {
  const tls = c.mqtt.tls as Partial<NonNullable<GatewayConfig['mqtt']['tls']>> | undefined;
  c.response.playbooks = parsePlaybooks(c.response.playbooks);
  c.suppress = parseSuppressions(c.suppress);
  for (const entry of c.response.allowlist) {
    const problem = parseAllowEntry(entry);
    if (problem) throw configError(`response.allowlist: ${problem}`);
  }
  const acting = c.response.mode === 'off' ? [] : [c.response.mode, ...c.response.playbooks.map((p) => p.mode ?? c.response.mode)].filter((m) => m !== 'dry-run');
  if (acting.length > 0 && !c.response.keyFile) {
    throw configError(`response mode ${acting[0]} needs response.keyFile (--response-key): commands are signed`);
  }
  if (tls && (tls.certFile === undefined || tls.keyFile === undefined)) throw configError('mqtt.tls.certFile (--tls-cert) and mqtt.tls.keyFile (--tls-key) go together');
  if (tls?.requireClientCert && !tls.caFile) throw configError('mqtt.tls.requireClientCert needs mqtt.tls.caFile (--tls-ca): the CA client certificates must be issued by');
  const b = c.mqtt.brokerTls;
  if ((b.certFile === undefined) !== (b.keyFile === undefined)) throw configError('mqtt.brokerTls.certFile (--broker-cert) and mqtt.brokerTls.keyFile (--broker-key) go together');
  const usesBrokerTls = b.caFile !== undefined || b.certFile !== undefined || !b.verify;
  if (usesBrokerTls && !c.mqtt.broker?.startsWith('mqtts://')) throw configError('mqtt.brokerTls.* applies to an external broker over TLS: set mqtt.broker (--broker) to mqtts://host:port');
  if (c.store.url) postgresOptions({ url: c.store.url }); // its shape, and no password in it (named without echoing it)
  if (c.store.url && !c.mqtt.broker) throw configError('store.url (several workers on PostgreSQL) needs an external broker: set mqtt.broker (--broker)');
  c.http.token = resolveSecret({ value: 'http.token', file: 'http.tokenFile', credential: 'api-token', current: c.http.token, currentFile: c.http.tokenFile }, env);
  if (c.http.token !== undefined && c.http.token.length < 16) throw configError('http.token (from its file): expected at least 16 characters', { key: 'http.token' });
  c.mqtt.password = resolveSecret({ value: 'mqtt.password', file: 'mqtt.passwordFile', credential: 'mqtt-password', current: c.mqtt.password, currentFile: c.mqtt.passwordFile }, env);
  return c;
}

/** defaults < file < environment < `flags` (programmatic values), validated. */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; flags?: DeepPartial<GatewayConfig> } = {}): GatewayConfig {
  return validateWhole(resolveSettings(TABLE, { file: opts.file, env: opts.env, overrides: opts.flags }), opts.env ?? {});
}

export type ParsedArgs = { help: true } | { help: false; logLevel?: string; config: GatewayConfig };

/** `netsensor gateway [options]`: defaults < --config file < environment < flags. */
export function loadConfigFromArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedArgs {
  const flags = parseFlags(TABLE, argv, { 'log-level': { type: 'string' } });
  if (flags.help) return { help: true };
  const config = validateWhole(resolveSettings(TABLE, { file: flags.config as string | undefined, env, flags }), env);
  return { help: false, logLevel: flags['log-level'] as string | undefined, config };
}

export function configHelp(): string {
  return settingsHelp(TABLE, {
    intro: [
      'usage: netsensor gateway [options]',
      '       netsensor gateway add-sensor <id> --credentials FILE [--role sensor|observer|admin]',
      '',
      'Runs the gateway. By default an embedded MQTT 3.1.1 broker listens on 127.0.0.1:1883 and the API and',
      'dashboard on http://127.0.0.1:8080/ (docs/gateway.md).',
    ],
    commandOptions: [['--log-level LEVEL', 'trace|debug|info|warn|error (default info; env NETSENSOR_LOG_LEVEL)']],
  });
}

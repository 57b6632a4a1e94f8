/**
 * Gateway configuration: one `defaults` object, one validator, and one loader that layers
 * defaults ← config file (JSON) ← environment (NETSENSOR_GW_*) ← command-line flags.
 * Validation runs once at start-up and names the offending key and what it received.
 */
import { readFileSync } from 'node:fs';
import { NetsensorError } from '../common/errors.js';

export interface GatewayConfig {
  mqtt: {
    /** undefined = embedded broker; otherwise mqtt://host:port or mqtts://host:port (MQTT v5, shared subscription). */
    broker?: string;
    /** Embedded broker listen address. */
    host: string;
    port: number;
    /** File of `id:scrypt-hash[:role]` lines; without it only anonymous loopback clients may connect. */
    credentialsFile?: string;
    tls?: { certFile: string; keyFile: string; caFile?: string };
    /** External broker: the gateway's own login and the shared-subscription group. */
    username?: string;
    password?: string;
    shareGroup: string;
    clientId: string;
  };
  http: {
    host: string;
    port: number;
    /** Bearer token required from non-loopback clients; without one, only loopback clients are served. */
    token?: string;
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
  homeAssistant: { enabled: boolean; discoveryPrefix: string };
  /** Model distribution (OTA, docs/ota.md). */
  models: {
    /** Public keys (PEM or base64 lines) an upload must be signed by; without it uploads are checked for shape only. */
    trustedKeysFile?: string;
    /** Halt a rollout when failed / tried sensors passes this (0..1). */
    maxFailureRate: number;
    /** Cap on the first stage, percent of a channel's sensors (the signed --rollout applies when lower). */
    maxFirstStagePercent: number;
  };
  /** A sensor is shown offline when nothing was heard from it for this long (the last will usually says it sooner). */
  sensorStaleMs: number;
}

export const defaults: GatewayConfig = {
  mqtt: { host: '127.0.0.1', port: 1883, shareGroup: 'netsensor', clientId: `netsensor-gateway-${process.pid}` },
  http: { host: '127.0.0.1', port: 8080, loopbackExempt: true },
  store: { path: 'netsensor-gateway.db', retentionDays: 30, maxBytes: 1024 * 1024 * 1024, retentionIntervalMs: 60_000 },
  correlation: { windowMs: 5 * 60_000, sweepHosts: 10, scanPorts: 20, multiSensor: 2, fanInSources: 10, updateIntervalMs: 10_000 },
  homeAssistant: { enabled: false, discoveryPrefix: 'homeassistant' },
  models: { maxFailureRate: 0.25, maxFirstStagePercent: 100 },
  sensorStaleMs: 5 * 60_000,
};

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

function bad(key: string, want: string, got: unknown): never {
  throw new NetsensorError('ERR_CONFIG', `config ${key}: expected ${want}, got ${JSON.stringify(got)}`);
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Deep merge of plain objects; `undefined` in `over` keeps the base value. */
export function merge<T>(base: T, over: unknown): T {
  if (!isPlainObject(over)) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? merge(out[k], v) : v;
  }
  return out as T;
}

const int = (key: string, v: unknown, min: number, max: number) => {
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) bad(key, `an integer in [${min}, ${max}]`, v);
};
const str = (key: string, v: unknown, optional = false) => {
  if (optional && v === undefined) return;
  if (typeof v !== 'string' || v.length === 0) bad(key, 'a non-empty string', v);
};
const bool = (key: string, v: unknown) => {
  if (typeof v !== 'boolean') bad(key, 'true or false', v);
};

export function validateConfig(c: GatewayConfig): GatewayConfig {
  const known = new Set(Object.keys(defaults));
  for (const k of Object.keys(c)) if (!known.has(k)) bad(k, `one of ${[...known].join(', ')}`, 'unknown key');
  if (c.mqtt.broker !== undefined && !/^mqtts?:\/\/[^/\s]+(:\d+)?\/?$/.test(c.mqtt.broker)) bad('mqtt.broker', 'mqtt://host[:port] or mqtts://host[:port]', c.mqtt.broker);
  str('mqtt.host', c.mqtt.host);
  int('mqtt.port', c.mqtt.port, 0, 65535);
  str('mqtt.credentialsFile', c.mqtt.credentialsFile, true);
  if (c.mqtt.tls !== undefined) {
    if (!isPlainObject(c.mqtt.tls)) bad('mqtt.tls', '{certFile, keyFile, caFile?}', c.mqtt.tls);
    str('mqtt.tls.certFile', c.mqtt.tls.certFile);
    str('mqtt.tls.keyFile', c.mqtt.tls.keyFile);
    str('mqtt.tls.caFile', c.mqtt.tls.caFile, true);
  }
  str('mqtt.username', c.mqtt.username, true);
  str('mqtt.password', c.mqtt.password, true);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(String(c.mqtt.shareGroup))) bad('mqtt.shareGroup', 'letters, digits, _ or -', c.mqtt.shareGroup);
  str('mqtt.clientId', c.mqtt.clientId);
  str('http.host', c.http.host);
  int('http.port', c.http.port, 0, 65535);
  if (c.http.token !== undefined && (typeof c.http.token !== 'string' || c.http.token.length < 16)) bad('http.token', 'a string of at least 16 characters', '<redacted>');
  bool('http.loopbackExempt', c.http.loopbackExempt);
  str('store.path', c.store.path);
  if (typeof c.store.retentionDays !== 'number' || !(c.store.retentionDays > 0)) bad('store.retentionDays', 'a positive number', c.store.retentionDays);
  int('store.maxBytes', c.store.maxBytes, 1024 * 1024, Number.MAX_SAFE_INTEGER);
  int('store.retentionIntervalMs', c.store.retentionIntervalMs, 100, 86_400_000);
  int('correlation.windowMs', c.correlation.windowMs, 1, 86_400_000);
  int('correlation.sweepHosts', c.correlation.sweepHosts, 2, 1_000_000);
  int('correlation.scanPorts', c.correlation.scanPorts, 2, 65536);
  int('correlation.multiSensor', c.correlation.multiSensor, 2, 1000);
  int('correlation.fanInSources', c.correlation.fanInSources, 2, 1_000_000);
  int('correlation.updateIntervalMs', c.correlation.updateIntervalMs, 0, 86_400_000);
  bool('homeAssistant.enabled', c.homeAssistant.enabled);
  str('homeAssistant.discoveryPrefix', c.homeAssistant.discoveryPrefix);
  str('models.trustedKeysFile', c.models.trustedKeysFile, true);
  if (typeof c.models.maxFailureRate !== 'number' || !(c.models.maxFailureRate >= 0 && c.models.maxFailureRate <= 1)) bad('models.maxFailureRate', 'a number in [0, 1]', c.models.maxFailureRate);
  int('models.maxFirstStagePercent', c.models.maxFirstStagePercent, 1, 100);
  int('sensorStaleMs', c.sensorStaleMs, 1000, 86_400_000 * 30);
  return c;
}

/** Environment variables the gateway reads (documented in docs/gateway.md). */
export function configFromEnv(env: NodeJS.ProcessEnv): DeepPartial<GatewayConfig> {
  const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
  return {
    mqtt: {
      broker: env.NETSENSOR_GW_BROKER || undefined,
      username: env.NETSENSOR_GW_MQTT_USERNAME || undefined,
      password: env.NETSENSOR_GW_MQTT_PASSWORD || undefined,
      credentialsFile: env.NETSENSOR_GW_CREDENTIALS || undefined,
    },
    http: { token: env.NETSENSOR_GW_API_TOKEN || undefined, port: num(env.NETSENSOR_GW_HTTP_PORT) },
    store: { path: env.NETSENSOR_GW_DB || undefined },
    models: { trustedKeysFile: env.NETSENSOR_GW_MODEL_KEYS || undefined },
  };
}

export function readConfigFile(path: string): DeepPartial<GatewayConfig> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new NetsensorError('ERR_CONFIG', `cannot read config file ${path}: ${(e as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text);
    if (!isPlainObject(parsed)) throw new Error('top level is not an object');
    return parsed as DeepPartial<GatewayConfig>;
  } catch (e) {
    throw new NetsensorError('ERR_CONFIG', `config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** defaults ← file ← env ← flags, then validated. */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; flags?: DeepPartial<GatewayConfig> } = {}): GatewayConfig {
  let c = structuredClone(defaults);
  if (opts.file) c = merge(c, readConfigFile(opts.file));
  c = merge(c, configFromEnv(opts.env ?? {}));
  c = merge(c, opts.flags ?? {});
  return validateConfig(c);
}

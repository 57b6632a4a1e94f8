/**
 * Sensor configuration: its defaults and its table of settings in the one settings system (common/settings.ts),
 * plus the rules that involve more than one setting.
 *
 * Sources, later wins: defaults < JSON file (--config / NETSENSOR_CONFIG) < environment NETSENSOR_* < flags.
 * Every setting has a dotted path in the file (`outbox.maxRows`), an environment variable derived from it
 * (`NETSENSOR_OUTBOX_MAX_ROWS`) and a flag (`--outbox-max-rows`; the common ones have short names such as
 * `--broker`). Anything wrong becomes one NetsensorError('ERR_CONFIG') naming the setting, where it came from
 * and what was received; the CLI prints it as one line and exits 2.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { loadPublicKeysFrom } from '../common/keys.js';
import { parseAllowEntry } from '../common/address-list.js';
import { configError, defineSettings, deriveEnvName, parseFlags, resolveSettings, type Setting, type SettingKind } from '../common/settings.js';
import { settingsHelp } from '../common/settings-help.js';
import { ID_PATTERN } from '../protocol/topics.js';
import { MAX_BATCH_BYTES, MAX_EVENTS_PER_BATCH } from '../protocol/event.js';

export type ReplayMode = 'realtime' | 'fast';
export type MqttVersionSetting = 'auto' | 4 | 5;

export interface SensorConfig {
  id: string;
  capture: {
    iface?: string;
    filter?: string;
    pcap?: string;
    replay: ReplayMode;
    /**
     * Bytes kept per packet. Headers (and a DNS question) are all the features need; small also matters
     * because with --immediate-mode libpcap uses fixed-size ring slots of ~snaplen: 256 KiB slots would make
     * an 8 MiB kernel buffer hold 32 packets, and any stall of the reader would drop a burst.
     */
    snaplen: number;
    /** Kernel capture buffer (tcpdump -B), KiB. */
    bufferKiB: number;
    /** Live capture restart backoff (tcpdump died): doubles from min to max. */
    restartMinMs: number;
    restartMaxMs: number;
    /** How often tcpdump is asked (SIGUSR1) for its pcap statistics (kernel drops). */
    statsIntervalMs: number;
  };
  core: {
    maxFlows: number;
    maxHosts: number;
    /** No reply yet / half-open: short, so floods and scans surface within seconds. */
    unansweredS: number;
    /** Interim records for long flows: a slow exfiltration is scored while it runs. */
    interimS: number;
    /**
     * Lone flows (one unanswered packet) per target and second that get a record each; beyond it a flood's lone flows
     * are folded into one record per target every 100 ms (assembly/flow/lone-flows.ts). 0 = a record per flow.
     */
    loneFlowsPerS: number;
    /** Live mode: core.advance(now) cadence, so idle flows expire without traffic. */
    advanceIntervalMs: number;
  };
  detect: {
    model?: string;
    /** Override of the model's class threshold (probability of a non-benign class). */
    classThreshold?: number;
    /** Override of the model's anomaly threshold (anomaly score ≥ this). */
    anomalyThreshold?: number;
    /** Rows per inference batch. */
    batchRows: number;
    /** `episodes` (default): flow verdicts are evidence, published once an episode passes its threshold (detection/);
     *  `flows`: every alerting flow is an event (diagnostics; what sensors before episodes did). */
    publish: 'episodes' | 'flows';
    /** Least time between two published updates of one episode (capture clock). */
    updateIntervalMs: number;
  };
  baseline: {
    /** Learning period of the site baseline (s of capture time; 0 = no baseline). */
    learnS: number;
    /** New endpoints learned per device per hour after the learning period. */
    driftPerHour: number;
  };
  broker: {
    url: string;
    mqttVersion: MqttVersionSetting;
    username?: string;
    password?: string;
    ca?: string;
    cert?: string;
    key?: string;
    rejectUnauthorized: boolean;
    keepaliveS: number;
    connectTimeoutMs: number;
    reconnectMinMs: number;
    reconnectMaxMs: number;
  };
  outbox: {
    db: string;
    maxRows: number;
    maxBytes: number;
    batchMaxEvents: number;
    batchMaxBytes: number;
    flushIntervalMs: number;
    /** Unacknowledged batches allowed on the wire at once. */
    inflight: number;
  };
  /** Signed model updates (docs/ota.md). Disabled while no key is pinned. */
  ota: {
    channel: string;
    /** Public keys the sensor trusts: key files (PEM or base64 lines) or inline base64 keys. */
    pinnedKeys: string[];
    /** Applied models and the anti-rollback state (created 0700). */
    stateDir: string;
  };
  /** Containment on the forwarding box (docs/response.md): nftables actions the gateway signs. Off by default. */
  response: {
    enabled: boolean;
    /** The gateway's response public key (file: PEM / base64, or inline base64); required when enabled. */
    gatewayKey?: string;
    /** Critical hosts never blocked: addresses or address/prefix (the box's own addresses, default routes, DNS servers and the broker always are). */
    allowlist: string[];
    /** The last accepted command sequence number (replay protection). */
    stateDir: string;
    /** rate_limit: packets per second let through per limited source. */
    ratePps: number;
    /** Most actions the sensor holds at once. */
    maxActions: number;
  };
  heartbeatS: number;
  metrics: { port: number; host: string };
  /** SIGTERM: bound on flushing + publishing before the database is closed. */
  shutdownTimeoutMs: number;
}

function defaultId(): string {
  const h = hostname().replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return ID_PATTERN.test(h) ? h : 'sensor';
}

export const defaults: SensorConfig = {
  id: defaultId(),
  capture: { replay: 'fast', snaplen: 1024, bufferKiB: 16384, restartMinMs: 500, restartMaxMs: 30_000, statsIntervalMs: 5_000 },
  // unanswered 1 s and a 250 ms tick: a flood's or a scan's first flows end (and are scored) within about a second
  core: { maxFlows: 262_144, maxHosts: 65_536, unansweredS: 1, interimS: 30, loneFlowsPerS: 32, advanceIntervalMs: 250 },
  detect: { batchRows: 1024, publish: 'episodes', updateIntervalMs: 1000 },
  baseline: { learnS: 86_400, driftPerHour: 4 },
  broker: {
    url: 'mqtt://localhost:1883', mqttVersion: 'auto', rejectUnauthorized: true, keepaliveS: 15,
    connectTimeoutMs: 10_000, reconnectMinMs: 500, reconnectMaxMs: 30_000,
  },
  outbox: {
    db: 'netsensor-sensor.db', maxRows: 100_000, maxBytes: 64 * 1024 * 1024,
    batchMaxEvents: 100, batchMaxBytes: 64 * 1024, flushIntervalMs: 200, inflight: 4,
  },
  ota: { channel: 'stable', pinnedKeys: [], stateDir: 'netsensor-ota' },
  response: { enabled: false, allowlist: [], stateDir: 'netsensor-response', ratePps: 50, maxActions: 256 },
  heartbeatS: 30,
  metrics: { port: 0, host: '0.0.0.0' },
  shutdownTimeoutMs: 5_000,
};

const S = (path: string, kind: SettingKind, flag: string, help: string, extra: Partial<Setting> = {}): Setting => ({ path, kind, flag, help, ...extra });

/** Every setting, once. Order = order in --help. */
export const SETTINGS: readonly Setting[] = [
  S('id', 'string', 'id', 'sensor id (topic-safe: letters, digits, _ . -)', { pattern: ID_PATTERN }),
  S('capture.iface', 'string', 'iface', 'capture this interface live (tcpdump)'),
  S('capture.filter', 'string', 'filter', 'BPF filter for live capture'),
  S('capture.pcap', 'file', 'pcap', 'replay this capture file (pcap or pcapng) instead'),
  S('capture.replay', 'enum', 'replay', 'replay pace for --pcap: realtime | fast', { values: ['realtime', 'fast'] }),
  S('capture.snaplen', 'int', 'snaplen', 'live capture snap length (bytes)', { min: 64, max: 262144 }),
  S('capture.bufferKiB', 'int', 'capture-buffer-kib', 'kernel capture buffer (tcpdump -B), KiB', { min: 256, max: 4_194_304 }),
  S('capture.restartMinMs', 'int', 'capture-restart-min-ms', 'first restart delay after tcpdump dies', { min: 10, max: 600_000 }),
  S('capture.restartMaxMs', 'int', 'capture-restart-max-ms', 'longest restart delay', { min: 10, max: 3_600_000 }),
  S('capture.statsIntervalMs', 'int', 'capture-stats-interval-ms', 'how often kernel drop counters are read', { min: 100, max: 3_600_000 }),
  S('core.maxFlows', 'int', 'max-flows', 'flow table size', { min: 16, max: 16_777_216 }),
  S('core.maxHosts', 'int', 'max-hosts', 'host table size', { min: 16, max: 16_777_216 }),
  S('core.unansweredS', 'number', 'unanswered-s', 'timeout of flows with no reply yet (s)', { min: 0.1, max: 3600 }),
  S('core.interimS', 'number', 'interim-s', 'interim record period for long flows (s, 0 = off)', { min: 0, max: 3600 }),
  S('core.loneFlowsPerS', 'int', 'lone-flows-per-s', 'lone flows (one unanswered packet) per target and second scored one by one; beyond, folded (0 = never fold)', { min: 0, max: 1_000_000 }),
  S('core.advanceIntervalMs', 'int', 'advance-interval-ms', 'live: idle-expiry tick (ms)', { min: 50, max: 60_000 }),
  S('detect.model', 'file', 'model', 'ONNX model file (default: the shipped model)'),
  S('detect.classThreshold', 'number', 'class-threshold', 'override the model class threshold (0..1)', { min: 0, max: 1 }),
  S('detect.anomalyThreshold', 'number', 'anomaly-threshold', 'override the model anomaly threshold (≥ 0)', { min: 0, max: 1e9 }),
  S('detect.batchRows', 'int', 'detect-batch-rows', 'rows per inference batch', { min: 1, max: 65_536 }),
  S('detect.publish', 'enum', 'publish', 'what becomes a risk event: episodes (evidence over time) | flows (every alerting flow)', { values: ['episodes', 'flows'] }),
  S('detect.updateIntervalMs', 'int', 'episode-update-ms', 'least time between two updates of one episode (ms)', { min: 100, max: 3_600_000 }),
  S('baseline.learnS', 'number', 'baseline-learn-s', 'site baseline learning period (s; 0 = off)', { min: 0, max: 31_536_000 }),
  S('baseline.driftPerHour', 'int', 'baseline-drift-per-hour', 'new endpoints learned per device per hour after learning', { min: 0, max: 10_000 }),
  S('broker.url', 'string', 'broker', 'MQTT broker URL (mqtt://, mqtts://, ws://, wss://)', { pattern: /^(mqtts?|wss?|tcp|tls):\/\/[^\s]+$/, url: true }),
  S('broker.mqttVersion', 'mqtt-version', 'mqtt-version', 'MQTT protocol: 4 (3.1.1), 5, or auto (5, falling back to 4)'),
  S('broker.username', 'string', 'username', 'MQTT username'),
  S('broker.password', 'string', 'password', 'MQTT password (prefer the environment or the file)', { secret: true }),
  S('broker.ca', 'file', 'ca', 'CA certificate file (PEM) for TLS'),
  S('broker.cert', 'file', 'cert', 'client certificate file (PEM)'),
  S('broker.key', 'file', 'key', 'client private key file (PEM)'),
  S('broker.rejectUnauthorized', 'bool', 'reject-unauthorized', 'verify the broker certificate (true|false)'),
  S('broker.keepaliveS', 'int', 'keepalive-s', 'MQTT keepalive (s)', { min: 1, max: 65_535 }),
  S('broker.connectTimeoutMs', 'int', 'connect-timeout-ms', 'MQTT connect timeout (ms)', { min: 100, max: 600_000 }),
  S('broker.reconnectMinMs', 'int', 'reconnect-min-ms', 'first reconnect delay (ms; doubles, with jitter)', { min: 10, max: 600_000 }),
  S('broker.reconnectMaxMs', 'int', 'reconnect-max-ms', 'longest reconnect delay (ms)', { min: 10, max: 3_600_000 }),
  S('outbox.db', 'string', 'db', 'outbox SQLite file'),
  S('outbox.maxRows', 'int', 'outbox-max-rows', 'outbox cap in events (then: drop oldest lowest-severity)', { min: 1, max: 1e9 }),
  S('outbox.maxBytes', 'int', 'outbox-max-bytes', 'outbox cap in encoded bytes', { min: 1024, max: 1e12 }),
  S('outbox.batchMaxEvents', 'int', 'batch-max-events', 'events per MQTT batch', { min: 1, max: MAX_EVENTS_PER_BATCH }),
  S('outbox.batchMaxBytes', 'int', 'batch-max-bytes', 'bytes per MQTT batch', { min: 1024, max: MAX_BATCH_BYTES }),
  S('outbox.flushIntervalMs', 'int', 'flush-interval-ms', 'longest wait before a partial batch is sent (ms)', { min: 1, max: 60_000 }),
  S('outbox.inflight', 'int', 'inflight', 'unacknowledged batches allowed at once', { min: 1, max: 1000 }),
  S('ota.channel', 'string', 'ota-channel', 'model update channel to follow', { pattern: ID_PATTERN }),
  S('ota.pinnedKeys', 'list', 'ota-key', 'pinned model-signing public key: file (PEM / base64 lines) or base64; repeat or comma-separate (none = OTA off)'),
  S('ota.stateDir', 'string', 'ota-state-dir', 'directory of applied models and anti-rollback state'),
  S('response.enabled', 'bool', 'response', 'apply the gateway\'s signed response commands with nftables (true|false; needs root / CAP_NET_ADMIN on the forwarding box)'),
  S('response.gatewayKey', 'string', 'response-key', 'the gateway\'s response public key: file (PEM / base64) or base64'),
  S('response.allowlist', 'list', 'response-allow', 'critical hosts never blocked: address or address/prefix; repeat or comma-separate'),
  S('response.stateDir', 'string', 'response-state-dir', 'directory of the response replay-protection state'),
  S('response.ratePps', 'int', 'response-rate-pps', 'rate_limit: packets per second let through per limited source', { min: 1, max: 1_000_000 }),
  S('response.maxActions', 'int', 'response-max-actions', 'most response actions held at once', { min: 1, max: 1024 }),
  S('heartbeatS', 'number', 'heartbeat-s', 'retained status heartbeat period (s)', { min: 0.1, max: 86_400 }),
  S('metrics.port', 'int', 'metrics-port', 'Prometheus endpoint port (0 = off)', { min: 0, max: 65_535 }),
  S('metrics.host', 'string', 'metrics-host', 'Prometheus endpoint address'),
  S('shutdownTimeoutMs', 'int', 'shutdown-timeout-ms', 'SIGTERM: longest flush + publish before exit (ms)', { min: 0, max: 600_000 }),
];

const TABLE = defineSettings<SensorConfig>({ envPrefix: 'NETSENSOR_', configEnv: 'NETSENSOR_CONFIG', defaults, settings: SETTINGS });

export const envName = (path: string): string => deriveEnvName(TABLE.envPrefix, path);

const bad = (message: string) => configError(message);

export interface ParsedArgs { help: boolean; config: SensorConfig }

/**
 * Parses flags (argv without the command name) and merges every source. Throws ERR_CONFIG on any problem.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedArgs {
  const flags = parseFlags(TABLE, argv);
  if (flags.help) return { help: true, config: structuredClone(defaults) };
  const config = resolveSettings(TABLE, { file: flags.config as string | undefined, env, flags });
  validateWhole(config);
  return { help: false, config };
}

/** Rules that involve more than one setting. */
function validateWhole(c: SensorConfig): void {
  if (c.capture.iface && c.capture.pcap) throw bad('capture: choose --iface or --pcap, not both');
  if (!c.capture.iface && !c.capture.pcap) throw bad('capture: one of --iface IF or --pcap FILE is required');
  if (c.capture.filter && !c.capture.iface) throw bad('capture.filter (--filter) applies to live capture (--iface) only');
  if (c.capture.restartMinMs > c.capture.restartMaxMs) throw bad('capture.restartMinMs must not exceed capture.restartMaxMs');
  if (c.broker.reconnectMinMs > c.broker.reconnectMaxMs) throw bad('broker.reconnectMinMs must not exceed broker.reconnectMaxMs');
  if (c.outbox.batchMaxBytes > c.outbox.maxBytes) throw bad('outbox.batchMaxBytes must not exceed outbox.maxBytes');
  if ((c.broker.cert === undefined) !== (c.broker.key === undefined)) throw bad('broker.cert and broker.key go together (client certificate)');
  if (c.broker.password !== undefined && c.broker.username === undefined) throw bad('broker.password needs broker.username');
  for (const [path, f] of [['broker.ca', c.broker.ca], ['broker.cert', c.broker.cert], ['broker.key', c.broker.key], ['capture.pcap', c.capture.pcap], ['detect.model', c.detect.model]] as const) {
    if (f === undefined) continue;
    try {
      accessSync(f, constants.R_OK);
    } catch (e) {
      throw bad(`${path}: cannot read ${f} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    if (!statSync(f).isFile()) throw bad(`${path}: ${f} is not a regular file`);
  }
  if (c.response.enabled && c.response.gatewayKey === undefined) throw bad('response.enabled needs response.gatewayKey (the gateway\'s response public key)');
  if (c.response.gatewayKey !== undefined) {
    try {
      loadPublicKeysFrom(c.response.gatewayKey);
    } catch (e) {
      throw bad(`response.gatewayKey: ${(e as Error).message}`);
    }
  }
  for (const entry of c.response.allowlist) {
    const problem = parseAllowEntry(entry);
    if (problem) throw bad(`response.allowlist: ${problem}`);
  }
  for (const entry of c.ota.pinnedKeys) {
    try {
      loadPublicKeysFrom(entry);
    } catch (e) {
      throw bad(`ota.pinnedKeys: ${entry.length > 60 ? entry.slice(0, 60) + '…' : entry}: ${(e as Error).message}`);
    }
  }
}

export function configHelp(): string {
  return settingsHelp(TABLE, {
    intro: [
      'usage: netsensor sensor [--config FILE] (--iface IF [--filter BPF] | --pcap FILE [--replay realtime|fast])',
      '                        [--broker URL] [--id ID] [--db FILE] [--model FILE] [--metrics-port N] [options]',
    ],
  });
}

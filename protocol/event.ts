/**
 * Risk event wire schema, v1: what a sensor publishes (CBOR batches on netsensor/v1/sensors/<id>/events) and
 * what the gateway validates. One definition for both sides.
 *
 * Severity follows Suricata: 1 = high, 2 = medium, 3 = low.
 */
import { encode as cborEncode, decode as cborDecode } from 'cbor-x';
import { NetsensorError } from '../common/errors.js';
import { checkEpisode, type Episode } from './episode.js';
import { ID_PATTERN } from './topics.js';

export const EVENT_VERSION = 1;
export const MAX_BATCH_BYTES = 256 * 1024;
export const MAX_EVENTS_PER_BATCH = 500;
/**
 * Latest time an event may carry (ms since the epoch): the end of the year 9999, the last one an ISO 8601 date
 * writes with four digits. Date itself stops at 8.64e15 and throws beyond it (toISOString: "Invalid time value"),
 * so a time past this bound is refused at the door rather than crashing whatever formats it later.
 */
export const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export interface FlowKey {
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  proto: number;
  vlan: number;
  first_seen_ms: number;
  last_seen_ms: number;
  end_reason: string;
  src2dst_packets: number;
  src2dst_bytes: number;
  dst2src_packets: number;
  dst2src_bytes: number;
}

export interface RiskEvent {
  v: 1;
  /** UUIDv7: globally unique and time-ordered; the gateway stores each id once. */
  id: string;
  sensor: string;
  /** When the event was created, ms since the epoch. */
  ts: number;
  flow: FlowKey;
  /** Model class (e.g. 'scan'), or 'anomaly' when only the anomaly threshold was passed. */
  class: string;
  /** Probability of `class` (0..1). */
  score: number;
  /** Anomaly score: reconstruction error divided by the model's threshold (≥ 1 = anomalous). */
  anomaly: number;
  severity: 1 | 2 | 3;
  model: string;
  /** A few summary features by schema name. */
  features: Record<string, number>;
  /** Features that contributed most, with their contribution (largest first). */
  top: Array<[string, number]>;
  /** The episode this event reports (protocol/episode.ts); absent in single-flow events of older sensors. */
  episode?: Episode;
}

export interface EventBatch {
  v: 1;
  sensor: string;
  /** Sensor-local batch counter, for diagnostics only (ids carry the identity). */
  seq: number;
  events: RiskEvent[];
}

export const SEVERITY_NAMES = { 1: 'high', 2: 'medium', 3: 'low' } as const;

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const CLASS_PATTERN = /^[a-z][a-z0-9_]{0,31}$/;
const FEATURE_NAME = /^[a-z0-9_]{1,64}$/;

export type RejectReason =
  | 'oversize'
  | 'not_cbor'
  | 'not_object'
  | 'unknown_version'
  | 'bad_sensor'
  | 'sensor_mismatch'
  | 'bad_events'
  | 'too_many_events'
  | 'bad_seq'
  | 'bad_event';

export class EventRejected extends NetsensorError {
  readonly reason: RejectReason;
  constructor(reason: RejectReason, message: string) {
    super('ERR_EVENT_INVALID', `${reason}: ${message}`);
    this.reason = reason;
  }
}

export function encodeBatch(batch: EventBatch): Buffer {
  return Buffer.from(cborEncode(batch));
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
const isFiniteNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isPort = (x: unknown) => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 65535;
/** A time in ms since the epoch that every consumer (Date, ISO strings, SQLite) can hold. */
const isTime = (x: unknown): x is number => isFiniteNum(x) && x >= 0 && x <= MAX_TIME_MS;
/** Packet and byte counts: whole numbers a double holds exactly. */
const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const isIp = (x: unknown) => typeof x === 'string' && x.length >= 2 && x.length <= 45 && /^[0-9a-fA-F:.]+$/.test(x);

function checkFlow(f: unknown): string | undefined {
  if (!isObj(f)) return 'flow is not an object';
  if (!isIp(f.src_ip) || !isIp(f.dst_ip)) return 'flow addresses invalid';
  if (!isPort(f.src_port) || !isPort(f.dst_port)) return 'flow ports invalid';
  if (!Number.isInteger(f.proto) || (f.proto as number) < 0 || (f.proto as number) > 255) return 'flow proto invalid';
  if (!Number.isInteger(f.vlan) || (f.vlan as number) < 0 || (f.vlan as number) > 4095) return 'flow vlan invalid';
  for (const k of ['first_seen_ms', 'last_seen_ms'] as const) if (!isTime(f[k])) return `flow ${k} is not a time in [0, ${MAX_TIME_MS}]`;
  for (const k of ['src2dst_packets', 'src2dst_bytes', 'dst2src_packets', 'dst2src_bytes'] as const) {
    if (!isCount(f[k])) return `flow ${k} is not a count`;
  }
  if (typeof f.end_reason !== 'string' || f.end_reason.length > 32) return 'flow end_reason invalid';
  return undefined;
}

/** Validates one event; returns a reason string or undefined when valid. */
export function checkEvent(e: unknown, sensorId: string): string | undefined {
  if (!isObj(e)) return 'event is not an object';
  if (e.v !== EVENT_VERSION) return 'event version unknown';
  if (typeof e.id !== 'string' || !UUID_V7.test(e.id)) return 'id is not a UUIDv7';
  if (e.sensor !== sensorId) return 'event sensor differs from batch sensor';
  if (!isTime(e.ts) || e.ts === 0) return `ts is not a time in (0, ${MAX_TIME_MS}]`;
  const fe = checkFlow(e.flow);
  if (fe) return fe;
  if (typeof e.class !== 'string' || !CLASS_PATTERN.test(e.class)) return 'class invalid';
  if (!isFiniteNum(e.score) || e.score < 0 || e.score > 1) return 'score invalid';
  if (!isFiniteNum(e.anomaly) || e.anomaly < 0) return 'anomaly invalid';
  if (e.severity !== 1 && e.severity !== 2 && e.severity !== 3) return 'severity invalid';
  if (typeof e.model !== 'string' || e.model.length === 0 || e.model.length > 128) return 'model invalid';
  if (!isObj(e.features)) return 'features invalid';
  const fk = Object.keys(e.features);
  if (fk.length > 64) return 'too many features';
  for (const k of fk) if (!FEATURE_NAME.test(k) || !isFiniteNum(e.features[k])) return `feature ${k.slice(0, 64)} invalid`;
  if (!Array.isArray(e.top) || e.top.length > 16) return 'top invalid';
  for (const t of e.top) if (!Array.isArray(t) || t.length !== 2 || typeof t[0] !== 'string' || !FEATURE_NAME.test(t[0]) || !isFiniteNum(t[1])) return 'top entry invalid';
  if (e.episode !== undefined) return checkEpisode(e.episode);
  return undefined;
}

/**
 * Decodes and validates a batch received on `netsensor/v1/sensors/<topicSensor>/events`.
 * Throws EventRejected with a stable reason; never anything else.
 */
export function decodeBatch(payload: Uint8Array, topicSensor: string): EventBatch {
  if (payload.byteLength > MAX_BATCH_BYTES) throw new EventRejected('oversize', `${payload.byteLength} bytes > ${MAX_BATCH_BYTES}`);
  let raw: unknown;
  try {
    raw = cborDecode(payload);
  } catch (e) {
    throw new EventRejected('not_cbor', (e as Error).message?.slice(0, 120) ?? 'decode failed');
  }
  if (!isObj(raw)) throw new EventRejected('not_object', 'batch is not a map');
  if (raw.v !== EVENT_VERSION) throw new EventRejected('unknown_version', `v=${String(raw.v).slice(0, 16)}`);
  if (typeof raw.sensor !== 'string' || !ID_PATTERN.test(raw.sensor)) throw new EventRejected('bad_sensor', 'sensor id invalid');
  if (raw.sensor !== topicSensor) throw new EventRejected('sensor_mismatch', `batch sensor ${raw.sensor} on topic of ${topicSensor}`);
  if (!Number.isSafeInteger(raw.seq) || (raw.seq as number) < 0) throw new EventRejected('bad_seq', 'seq is not a non-negative integer');
  if (!Array.isArray(raw.events)) throw new EventRejected('bad_events', 'events is not an array');
  if (raw.events.length > MAX_EVENTS_PER_BATCH) throw new EventRejected('too_many_events', `${raw.events.length} events`);
  for (let i = 0; i < raw.events.length; i++) {
    const why = checkEvent(raw.events[i], raw.sensor);
    if (why) throw new EventRejected('bad_event', `event ${i}: ${why}`);
  }
  return raw as unknown as EventBatch;
}

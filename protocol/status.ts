/**
 * The sensor status message: JSON, retained on netsensor/v1/sensors/<id>/status. The sensor publishes it on
 * connect and every heartbeat, sets `{"state":"offline"}` as its last will and sends it (with `ts`) when it
 * stops. The gateway's registry reads it; CBOR is accepted too. A malformed one parses to undefined.
 */
import { decode as cborDecode } from 'cbor-x';

export type SensorState = 'online' | 'offline';

export interface SensorStatus {
  state: SensorState;
  /** When the sensor sent it, ms since the epoch. */
  ts?: number;
  /** Version of the detection model in use. */
  model?: string;
  /** Package version of the sensor. */
  version?: string;
  /** MQTT protocol version of the connection. */
  mqtt?: 4 | 5;
  /** The sensor's own counters (packets, flows, outbox depth …): numbers or strings. */
  counters?: Record<string, unknown>;
}

/** The last will: what the broker publishes when the sensor's connection dies. */
export const OFFLINE_STATUS = JSON.stringify({ state: 'offline' });

export const MAX_STATUS_BYTES = 64 * 1024;
const MAX_MODEL_CHARS = 128;
const MAX_COUNTERS = 64;
const MAX_COUNTER_NAME = 64;

export function encodeStatus(s: SensorStatus): string {
  return JSON.stringify(s);
}

/** What the gateway keeps of a status: bounded, typed fields only (a sensor is not trusted to be sane). */
export interface ParsedStatus {
  state: SensorState;
  ts?: number;
  model?: string;
  /** The sensor's software version (semver-like, bounded). */
  version?: string;
  counters?: Record<string, number | string>;
}

export function parseStatus(payload: Uint8Array): ParsedStatus | undefined {
  if (payload.length === 0 || payload.length > MAX_STATUS_BYTES) return undefined;
  let v: unknown;
  try {
    v = payload[0] === 0x7b /* { */ ? JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8')) : cborDecode(payload);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (o.state !== 'online' && o.state !== 'offline') return undefined;
  const out: ParsedStatus = { state: o.state };
  if (typeof o.ts === 'number' && Number.isFinite(o.ts)) out.ts = o.ts;
  if (typeof o.model === 'string' && o.model.length <= MAX_MODEL_CHARS) out.model = o.model;
  if (typeof o.version === 'string' && /^[0-9A-Za-z.+-]{1,64}$/.test(o.version)) out.version = o.version;
  if (typeof o.counters === 'object' && o.counters !== null && !Array.isArray(o.counters)) {
    const c: Record<string, number | string> = {};
    for (const [k, x] of Object.entries(o.counters).slice(0, MAX_COUNTERS)) if (typeof x === 'number' || typeof x === 'string') c[k.slice(0, MAX_COUNTER_NAME)] = x;
    out.counters = c;
  }
  return out;
}

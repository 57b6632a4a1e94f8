/**
 * A flow record = the key columns (models/schema.ts RECORD_KEY_COLUMNS: who talked to whom, when, how much, why
 * it ended) followed by every feature of the schema, in schema order. A feature whose name equals a key column
 * (protocol, dst_port, the packet/byte counters) is written once, as the key column — same value.
 *
 * Values are formatted once here for both exports: integers as integers, other feature values to 6 decimals,
 * timestamps in milliseconds with µs precision.
 */
import { FEATURES, NUM_FEATURES, RECORD_KEY_COLUMNS } from '../../models/schema.js';
import type { FlowKey } from '../core.js';

type KeyColumn = (typeof RECORD_KEY_COLUMNS)[number];

/** CICFlowMeter names of the key columns that have one (the others come from the feature schema's `cic`). */
const CIC_KEY_NAMES: Partial<Record<KeyColumn, string>> = {
  src_ip: 'Source IP',
  src_port: 'Source Port',
  dst_ip: 'Destination IP',
};

/** keyValues() writes the key columns in this order; a schema change that reorders them must update it. */
const KEY_ORDER = 'src_ip,src_port,dst_ip,dst_port,protocol,vlan_id,first_seen_ms,last_seen_ms,src2dst_packets,src2dst_bytes,dst2src_packets,dst2src_bytes,end_reason';
if (RECORD_KEY_COLUMNS.join(',') !== KEY_ORDER) throw new Error('models/schema.ts RECORD_KEY_COLUMNS changed: update sensor/flows/record.ts keyValues()');

export interface RecordLayout {
  /** output column names, key columns first */
  names: string[];
  keyColumns: readonly KeyColumn[];
  /** schema indexes of the feature columns written after the key columns */
  featureIndexes: number[];
}

export function recordLayout(opts: { cicNames?: boolean } = {}): RecordLayout {
  const keySet = new Set<string>(RECORD_KEY_COLUMNS);
  const featureIndexes: number[] = [];
  for (let i = 0; i < NUM_FEATURES; i++) if (!keySet.has(FEATURES[i].name)) featureIndexes.push(i);
  const cicOf = (name: string): string => {
    if (!opts.cicNames) return name;
    const f = FEATURES.find((d) => d.name === name);
    return f?.cic ?? CIC_KEY_NAMES[name as KeyColumn] ?? name;
  };
  const names = [...RECORD_KEY_COLUMNS.map(cicOf), ...featureIndexes.map((i) => cicOf(FEATURES[i].name))];
  if (new Set(names).size !== names.length) throw new Error('duplicate record column names');
  return { names, keyColumns: RECORD_KEY_COLUMNS, featureIndexes };
}

/**
 * A float32 feature value: integers exactly; other values rounded to 6 decimals (µs for the `_ms` features,
 * finer than float32 itself above 10), tiny non-zero magnitudes with 7 significant digits. Non-integer
 * float32 values are below 2^24, so `v * 1e6` stays exact in a double.
 */
export function formatFeature(v: number): string {
  if (Number.isInteger(v)) return String(v);
  if (v !== v || v === Infinity || v === -Infinity) return '';
  if (v > -1e-3 && v < 1e-3) return String(+v.toPrecision(7));
  return String(Math.round(v * 1e6) / 1e6);
}

/** Milliseconds since the epoch, to the microsecond. */
export function formatTimeMs(v: number): string {
  return String(Math.round(v * 1000) / 1000);
}

/** Key column values in RECORD_KEY_COLUMNS order, as text (strings unquoted). */
export function keyValues(k: FlowKey): string[] {
  return [
    k.src_ip, String(k.src_port), k.dst_ip, String(k.dst_port), String(k.protocol), String(k.vlan_id),
    formatTimeMs(k.first_seen_ms), formatTimeMs(k.last_seen_ms),
    String(k.src2dst_packets), String(k.src2dst_bytes), String(k.dst2src_packets), String(k.dst2src_bytes),
    k.end_reason,
  ];
}

/** Key columns that are text (quoted in JSON). */
export const TEXT_KEY_COLUMNS: ReadonlySet<string> = new Set(['src_ip', 'dst_ip', 'end_reason']);

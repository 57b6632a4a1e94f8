/**
 * A flow record = the key columns (core/schema.ts RECORD_KEY_COLUMNS: who talked to whom, when, how much, why
 * it ended) followed by every feature of the schema, in schema order. A feature whose name equals a key column
 * (protocol, dst_port, the packet/byte counters) is written once, as the key column — same value.
 *
 * Values are formatted once here for both exports: integers as integers, other feature values to 6 decimals,
 * timestamps in milliseconds with µs precision.
 */
import { FEATURES, NUM_FEATURES, RECORD_KEY_COLUMNS } from '../schema.js';
import type { KeyRecord } from '../host.js';
import type { TextBuffer } from './text-buffer.js';

type KeyColumn = (typeof RECORD_KEY_COLUMNS)[number];

/** CICFlowMeter names of the key columns that have one (the others come from the feature schema's `cic`). */
const CIC_KEY_NAMES: Partial<Record<KeyColumn, string>> = {
  src_ip: 'Source IP',
  src_port: 'Source Port',
  dst_ip: 'Destination IP',
};

/** writeKeyColumns() writes the key columns in this order; a schema change that reorders them must update it. */
const KEY_ORDER = 'src_ip,src_port,dst_ip,dst_port,protocol,vlan_id,first_seen_ms,last_seen_ms,src2dst_packets,src2dst_bytes,dst2src_packets,dst2src_bytes,end_reason';
if (RECORD_KEY_COLUMNS.join(',') !== KEY_ORDER) throw new Error('core/schema.ts RECORD_KEY_COLUMNS changed: update core/export/record.ts writeKeyColumns()');

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

function textCol(tb: TextBuffer, prefix: Uint8Array, s: string, quote: boolean): void {
  tb.bytes(prefix);
  if (quote) tb.byte(34);
  tb.ascii(s);
  if (quote) tb.byte(34);
}
function intCol(tb: TextBuffer, prefix: Uint8Array, v: number): void {
  tb.bytes(prefix);
  tb.int(v);
}
function timeCol(tb: TextBuffer, prefix: Uint8Array, v: number): void {
  tb.bytes(prefix);
  tb.fixed(v, 3, 1e3);
}

/**
 * Writes the key columns, each after its prefix (`,` or `"name":`), into a TextBuffer — the fast path of both
 * exports. `quote` wraps the text columns in double quotes (JSON).
 */
export function writeKeyColumns(tb: TextBuffer, k: KeyRecord, p: Uint8Array[], quote: boolean): void {
  textCol(tb, p[0], k.src_ip, quote);
  intCol(tb, p[1], k.src_port);
  textCol(tb, p[2], k.dst_ip, quote);
  intCol(tb, p[3], k.dst_port);
  intCol(tb, p[4], k.protocol);
  intCol(tb, p[5], k.vlan_id);
  timeCol(tb, p[6], k.first_seen_ms);
  timeCol(tb, p[7], k.last_seen_ms);
  intCol(tb, p[8], k.src2dst_packets);
  intCol(tb, p[9], k.src2dst_bytes);
  intCol(tb, p[10], k.dst2src_packets);
  intCol(tb, p[11], k.dst2src_bytes);
  textCol(tb, p[12], k.end_reason, quote);
}

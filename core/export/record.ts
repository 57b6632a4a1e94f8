/**
 * A flow record = the key columns (core/schema.ts RECORD_KEY_COLUMNS: who talked to whom, when, how much, why
 * it ended) followed by every feature of the schema, in schema order. A feature whose name equals a key column
 * (protocol, dst_port, the packet/byte counters) is written once, as the key column — same value.
 *
 * Values are formatted once here for both exports: integers as integers, other feature values to 6 decimals,
 * timestamps in milliseconds with µs precision.
 */
import { FEATURES, NUM_FEATURES, RECORD_KEY_COLUMNS } from '../schema.js';
import { KEY_RECORD } from '../abi.js';
import { endReasonOf, formatAddress, isV4Mapped } from '../host.js';
import type { PrefixTable, TextBuffer } from './text-buffer.js';

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

function textCol(tb: TextBuffer, t: PrefixTable, j: number, s: string, quote: boolean): void {
  tb.prefix(t, j);
  if (quote) tb.byte(34);
  tb.ascii(s);
  if (quote) tb.byte(34);
}
/** An address column straight from the key's 16 bytes: IPv4 digit by digit (no string), IPv6 via formatAddress(). */
function addressCol(tb: TextBuffer, t: PrefixTable, j: number, m: Uint8Array, at: number, quote: boolean): void {
  tb.prefix(t, j);
  if (quote) tb.byte(34);
  if (isV4Mapped(m, at)) {
    tb.int(m[at + 12]);
    tb.byte(46);
    tb.int(m[at + 13]);
    tb.byte(46);
    tb.int(m[at + 14]);
    tb.byte(46);
    tb.int(m[at + 15]);
  } else {
    tb.ascii(formatAddress(m, at));
  }
  if (quote) tb.byte(34);
}
function intCol(tb: TextBuffer, t: PrefixTable, j: number, v: number): void {
  tb.prefix(t, j);
  tb.int(v);
}
function timeCol(tb: TextBuffer, t: PrefixTable, j: number, v: number): void {
  tb.prefix(t, j);
  tb.fixed(v, 3, 1e3);
}

const K = KEY_RECORD.offset;

/**
 * Writes the key columns of KEY_RECORD `r` of `m` (a batch's keyBytes; `dv` views the same bytes), each after its
 * prefix (`,` or `"name":`), into a TextBuffer — the fast path of both exports: no key object or address string.
 * `quote` wraps the text columns in double quotes (JSON).
 */
export function writeKeyColumns(tb: TextBuffer, m: Uint8Array, dv: DataView, r: number, p: PrefixTable, quote: boolean): void {
  const k = r * KEY_RECORD.bytes;
  addressCol(tb, p, 0, m, k + K.src, quote);
  intCol(tb, p, 1, dv.getUint16(k + K.src_port, true));
  addressCol(tb, p, 2, m, k + K.dst, quote);
  intCol(tb, p, 3, dv.getUint16(k + K.dst_port, true));
  intCol(tb, p, 4, m[k + K.protocol]);
  intCol(tb, p, 5, dv.getUint16(k + K.vlan_id, true));
  timeCol(tb, p, 6, dv.getFloat64(k + K.first_seen_ms, true));
  timeCol(tb, p, 7, dv.getFloat64(k + K.last_seen_ms, true));
  intCol(tb, p, 8, dv.getFloat64(k + K.src2dst_packets, true));
  intCol(tb, p, 9, dv.getFloat64(k + K.src2dst_bytes, true));
  intCol(tb, p, 10, dv.getFloat64(k + K.dst2src_packets, true));
  intCol(tb, p, 11, dv.getFloat64(k + K.dst2src_bytes, true));
  textCol(tb, p, 12, endReasonOf(m[k + K.end_reason]), quote);
}

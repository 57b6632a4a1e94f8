/**
 * A flow record = the key columns (core/schema.ts RECORD_KEY_COLUMNS: who talked to whom, when, how much, why
 * it ended) followed by every feature of the schema, in schema order. A feature whose name equals a key column
 * (protocol, dst_port, the packet/byte counters) is written once, as the key column — same value.
 *
 * How a value is written — integers as integers, other feature values to 6 decimals, timestamps in milliseconds
 * with µs precision — is formatFeature() below; JSON Lines and CSV rows are written by the record formatter
 * (wasm-format.ts), which follows it and hands it the rare values it does not format itself.
 */
import { FEATURES, NUM_FEATURES, RECORD_KEY_COLUMNS } from '../schema.js';

type KeyColumn = (typeof RECORD_KEY_COLUMNS)[number];

/** CICFlowMeter names of the key columns that have one (the others come from the feature schema's `cic`). */
const CIC_KEY_NAMES: Partial<Record<KeyColumn, string>> = {
  src_ip: 'Source IP',
  src_port: 'Source Port',
  dst_ip: 'Destination IP',
};

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

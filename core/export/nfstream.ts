/**
 * The NFStream naming mode of the CSV export (`netsensor flows --format csv --nfstream-names`): the columns of
 * `NFStreamer(statistical_analysis=True, n_dissections=0, accounting_mode=1)` — its names, its order — so code
 * written against NFStream's DataFrame reads these rows. accounting_mode 1 counts IP bytes, as netsensor does;
 * standard deviations are sample deviations (n − 1), as NFStream's. Values come from the flow key and the
 * schema's features (core/schema.ts, by name); a column netsensor does not measure (MAC addresses, tunnel id,
 * per-direction first/last times) is left empty (docs/flows.md).
 */
import type { FlowBatch, KeyRecord } from '../host.js';
import { cell, rowFeatures, type FeatureOf, type Value } from './columns.js';
import type { FlowWriter, TextSink } from './writer.js';

type Column = [name: string, value: ((k: KeyRecord, f: FeatureOf, row: number) => Value) | undefined];

const DIRS = ['bidirectional', 'src2dst', 'dst2src'] as const;
const packetsOf = (k: KeyRecord, dir: (typeof DIRS)[number]) =>
  dir === 'src2dst' ? k.src2dst_packets : dir === 'dst2src' ? k.dst2src_packets : k.src2dst_packets + k.dst2src_packets;
const sample = (pop: number, n: number) => (n > 1 ? pop * Math.sqrt(n / (n - 1)) : 0);

/** NFStream's expiration_id: 0 idle, 1 active timeout, -1 anything else (its "custom" expiration). */
const expiration = (k: KeyRecord) => (k.end_reason === 'idle' || k.end_reason === 'unanswered' ? 0 : k.end_reason === 'active' ? 1 : -1);

function stats(quantity: 'ps' | 'piat_ms'): Column[] {
  const out: Column[] = [];
  for (const dir of DIRS) {
    for (const stat of ['min', 'mean', 'stddev', 'max'] as const) {
      const name = `${dir}_${stat}_${quantity}`;
      // n values: one size per packet, one inter-arrival time per packet after the first
      const n = (k: KeyRecord) => packetsOf(k, dir) - (quantity === 'piat_ms' ? 1 : 0);
      out.push([name, stat === 'stddev' ? (k, f) => sample(f(name), n(k)) : (_k, f) => f(name)]);
    }
  }
  return out;
}

function flags(): Column[] {
  const out: Column[] = [];
  for (const dir of DIRS) for (const flag of ['syn', 'cwr', 'ece', 'urg', 'ack', 'psh', 'rst', 'fin']) out.push([`${dir}_${flag}_packets`, (_k, f) => f(`${dir}_${flag}_packets`)]);
  return out;
}

export const NFSTREAM_COLUMNS: readonly Column[] = [
  ['id', (_k, _f, row) => row],
  ['expiration_id', (k) => expiration(k)],
  ['src_ip', (k) => k.src_ip], ['src_mac', undefined], ['src_oui', undefined], ['src_port', (k) => k.src_port],
  ['dst_ip', (k) => k.dst_ip], ['dst_mac', undefined], ['dst_oui', undefined], ['dst_port', (k) => k.dst_port],
  ['protocol', (k) => k.protocol], ['ip_version', (k) => k.ip_version], ['vlan_id', (k) => k.vlan_id], ['tunnel_id', undefined],
  ['bidirectional_first_seen_ms', (k) => k.first_seen_ms], ['bidirectional_last_seen_ms', (k) => k.last_seen_ms],
  ['bidirectional_duration_ms', (k) => Math.round((k.last_seen_ms - k.first_seen_ms) * 1000) / 1000],
  ['bidirectional_packets', (k) => k.src2dst_packets + k.dst2src_packets], ['bidirectional_bytes', (k) => k.src2dst_bytes + k.dst2src_bytes],
  ['src2dst_first_seen_ms', undefined], ['src2dst_last_seen_ms', undefined], ['src2dst_duration_ms', undefined],
  ['src2dst_packets', (k) => k.src2dst_packets], ['src2dst_bytes', (k) => k.src2dst_bytes],
  ['dst2src_first_seen_ms', undefined], ['dst2src_last_seen_ms', undefined], ['dst2src_duration_ms', undefined],
  ['dst2src_packets', (k) => k.dst2src_packets], ['dst2src_bytes', (k) => k.dst2src_bytes],
  ...stats('ps'),
  ...stats('piat_ms'),
  ...flags(),
];

export const NFSTREAM_MISSING: readonly string[] = NFSTREAM_COLUMNS.filter(([, v]) => v === undefined).map(([n]) => n);

export function nfstreamCsvWriter(out: TextSink): FlowWriter {
  const names = NFSTREAM_COLUMNS.map(([n]) => n);
  out.write(names.join(',') + '\n');
  return {
    names,
    write(batch: FlowBatch, firstRow: number): void {
      const lines: string[] = [];
      for (let r = 0; r < batch.rows; r++) {
        const k = batch.keys[r];
        const f = rowFeatures(batch, r);
        const row = firstRow + r;
        lines.push(NFSTREAM_COLUMNS.map(([, v]) => cell(v?.(k, f, row))).join(','));
      }
      if (lines.length) out.write(lines.join('\n') + '\n');
    },
  };
}

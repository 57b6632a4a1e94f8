/**
 * The CIC-IDS2017 dialect of the CSV export (`netsensor flows --format csv --cic-names`): the 85 columns of the
 * CIC-IDS2017 "TrafficLabelling" CSVs, in their order and with their names (including "CWE Flag Count" and the
 * second "Fwd Header Length"), in CICFlowMeter's units: times in microseconds, packet lengths as transport
 * payload lengths, standard deviations as sample deviations (n − 1).
 *
 * Each column is computed from the flow key and the schema's features (core/schema.ts, looked up by name: a
 * renamed feature throws instead of writing a wrong column). A column netsensor cannot compute with CIC's meaning is left empty,
 * never approximated (docs/flows.md lists them): a model trained on CIC data must not read a look-alike value.
 */
import type { FlowBatch, KeyRecord } from '../host.js';
import { cell, rowFeatures, type FeatureOf, type Value } from './columns.js';
import type { FlowWriter, TextSink } from './writer.js';

type Column = [name: string, value: ((k: KeyRecord, f: FeatureOf, durUs: number) => Value) | undefined];

const isIcmp = (k: KeyRecord) => k.protocol === 1 || k.protocol === 58;
const perSecond = (n: number, durUs: number): Value => (durUs > 0 ? n / (durUs / 1e6) : undefined);
const us = (ms: number) => ms * 1000;
const wholeUs = (ms: number) => Math.round(ms * 1000);
/** Population → sample standard deviation for n values (CICFlowMeter uses Apache Commons' sample deviation). */
const sampleStd = (pop: number, n: number) => (n > 1 ? pop * Math.sqrt(n / (n - 1)) : 0);

/** Inter-arrival statistics of one direction ('bidirectional', 'src2dst', 'dst2src') in µs; n = packets − 1. */
function iat(dir: string, stat: 'total' | 'mean' | 'std' | 'max' | 'min', packets: (k: KeyRecord) => number): Column[1] {
  return (k, f) => {
    const n = packets(k) - 1;
    if (n < 1) return 0;
    const mean = us(f(`${dir}_mean_piat_ms`));
    // Totals, maxima and minima are whole µs in CICFlowMeter (µs timestamps); float32 ms carries noise below that.
    if (stat === 'total') return Math.round(mean * n);
    if (stat === 'mean') return mean;
    if (stat === 'std') return sampleStd(us(f(`${dir}_stddev_piat_ms`)), n);
    return Math.round(us(f(`${dir}_${stat}_piat_ms`)));
  };
}

const all = (k: KeyRecord) => k.src2dst_packets + k.dst2src_packets;
const fwd = (k: KeyRecord) => k.src2dst_packets;
const bwd = (k: KeyRecord) => k.dst2src_packets;
const payload = (f: FeatureOf) => f('src2dst_payload_bytes') + f('dst2src_payload_bytes');
const two = (n: number) => String(n).padStart(2, '0');

/** CICFlowMeter's "dd/MM/yyyy hh:mm:ss a", in UTC. */
export function cicTimestamp(ms: number): string {
  const d = new Date(Math.floor(ms));
  const h = d.getUTCHours();
  return `${two(d.getUTCDate())}/${two(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ${two(h % 12 || 12)}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${h < 12 ? 'AM' : 'PM'}`;
}

const MISSING = undefined;

/** The CIC-IDS2017 header, column by column; `undefined` = netsensor has no value with this meaning. */
export const CIC_COLUMNS: readonly Column[] = [
  ['Flow ID', (k) => `${k.src_ip}-${k.dst_ip}-${isIcmp(k) ? 0 : k.src_port}-${isIcmp(k) ? 0 : k.dst_port}-${k.protocol}`],
  ['Source IP', (k) => k.src_ip],
  ['Source Port', (k) => (isIcmp(k) ? 0 : k.src_port)],
  ['Destination IP', (k) => k.dst_ip],
  ['Destination Port', (k) => (isIcmp(k) ? 0 : k.dst_port)],
  ['Protocol', (k) => k.protocol],
  ['Timestamp', (k) => cicTimestamp(k.first_seen_ms)],
  ['Flow Duration', (_k, _f, durUs) => durUs],
  ['Total Fwd Packets', (k) => k.src2dst_packets],
  ['Total Backward Packets', (k) => k.dst2src_packets],
  ['Total Length of Fwd Packets', (_k, f) => f('src2dst_payload_bytes')],
  ['Total Length of Bwd Packets', (_k, f) => f('dst2src_payload_bytes')],
  ['Fwd Packet Length Max', MISSING], ['Fwd Packet Length Min', MISSING], ['Fwd Packet Length Mean', MISSING], ['Fwd Packet Length Std', MISSING],
  ['Bwd Packet Length Max', MISSING], ['Bwd Packet Length Min', MISSING], ['Bwd Packet Length Mean', MISSING], ['Bwd Packet Length Std', MISSING],
  ['Flow Bytes/s', (_k, f, durUs) => perSecond(payload(f), durUs)],
  ['Flow Packets/s', (k, _f, durUs) => perSecond(all(k), durUs)],
  ['Flow IAT Mean', iat('bidirectional', 'mean', all)],
  ['Flow IAT Std', iat('bidirectional', 'std', all)],
  ['Flow IAT Max', iat('bidirectional', 'max', all)],
  ['Flow IAT Min', iat('bidirectional', 'min', all)],
  ['Fwd IAT Total', iat('src2dst', 'total', fwd)],
  ['Fwd IAT Mean', iat('src2dst', 'mean', fwd)],
  ['Fwd IAT Std', iat('src2dst', 'std', fwd)],
  ['Fwd IAT Max', iat('src2dst', 'max', fwd)],
  ['Fwd IAT Min', iat('src2dst', 'min', fwd)],
  ['Bwd IAT Total', iat('dst2src', 'total', bwd)],
  ['Bwd IAT Mean', iat('dst2src', 'mean', bwd)],
  ['Bwd IAT Std', iat('dst2src', 'std', bwd)],
  ['Bwd IAT Max', iat('dst2src', 'max', bwd)],
  ['Bwd IAT Min', iat('dst2src', 'min', bwd)],
  ['Fwd PSH Flags', (_k, f) => f('src2dst_psh_packets')],
  ['Bwd PSH Flags', (_k, f) => f('dst2src_psh_packets')],
  ['Fwd URG Flags', (_k, f) => f('src2dst_urg_packets')],
  ['Bwd URG Flags', (_k, f) => f('dst2src_urg_packets')],
  ['Fwd Header Length', MISSING],
  ['Bwd Header Length', MISSING],
  ['Fwd Packets/s', (k, _f, durUs) => perSecond(k.src2dst_packets, durUs)],
  ['Bwd Packets/s', (k, _f, durUs) => perSecond(k.dst2src_packets, durUs)],
  ['Min Packet Length', MISSING], ['Max Packet Length', MISSING], ['Packet Length Mean', MISSING], ['Packet Length Std', MISSING],
  ['Packet Length Variance', MISSING],
  ['FIN Flag Count', (_k, f) => f('bidirectional_fin_packets')],
  ['SYN Flag Count', (_k, f) => f('bidirectional_syn_packets')],
  ['RST Flag Count', (_k, f) => f('bidirectional_rst_packets')],
  ['PSH Flag Count', (_k, f) => f('bidirectional_psh_packets')],
  ['ACK Flag Count', (_k, f) => f('bidirectional_ack_packets')],
  ['URG Flag Count', (_k, f) => f('bidirectional_urg_packets')],
  ['CWE Flag Count', (_k, f) => f('bidirectional_cwr_packets')],
  ['ECE Flag Count', (_k, f) => f('bidirectional_ece_packets')],
  // CICFlowMeter divides the packet counts as integers.
  ['Down/Up Ratio', (k) => (k.src2dst_packets > 0 ? Math.floor(k.dst2src_packets / k.src2dst_packets) : 0)],
  ['Average Packet Size', (k, f) => (all(k) > 0 ? payload(f) / all(k) : 0)],
  ['Avg Fwd Segment Size', (k, f) => (k.src2dst_packets > 0 ? f('src2dst_payload_bytes') / k.src2dst_packets : 0)],
  ['Avg Bwd Segment Size', (k, f) => (k.dst2src_packets > 0 ? f('dst2src_payload_bytes') / k.dst2src_packets : 0)],
  ['Fwd Header Length', MISSING],
  ['Fwd Avg Bytes/Bulk', MISSING], ['Fwd Avg Packets/Bulk', MISSING], ['Fwd Avg Bulk Rate', MISSING],
  ['Bwd Avg Bytes/Bulk', MISSING], ['Bwd Avg Packets/Bulk', MISSING], ['Bwd Avg Bulk Rate', MISSING],
  ['Subflow Fwd Packets', MISSING], ['Subflow Fwd Bytes', MISSING], ['Subflow Bwd Packets', MISSING], ['Subflow Bwd Bytes', MISSING],
  ['Init_Win_bytes_forward', (_k, f) => f('src2dst_init_win_bytes')],
  ['Init_Win_bytes_backward', (_k, f) => f('dst2src_init_win_bytes')],
  ['act_data_pkt_fwd', (_k, f) => f('src2dst_data_packets')],
  ['min_seg_size_forward', MISSING],
  ['Active Mean', (_k, f) => us(f('active_mean_ms'))],
  ['Active Std', MISSING],
  ['Active Max', (_k, f) => wholeUs(f('active_max_ms'))],
  ['Active Min', (_k, f) => wholeUs(f('active_min_ms'))],
  ['Idle Mean', (_k, f) => us(f('idle_mean_ms'))],
  ['Idle Std', MISSING],
  ['Idle Max', (_k, f) => wholeUs(f('idle_max_ms'))],
  ['Idle Min', (_k, f) => wholeUs(f('idle_min_ms'))],
  ['Label', undefined],
];

/** Names of the CIC columns left empty (docs/flows.md explains each group). */
export const CIC_MISSING: readonly string[] = CIC_COLUMNS.filter(([n, v]) => v === undefined && n !== 'Label').map(([n]) => n);

export function cicCsvWriter(out: TextSink, opts: { label?: string } = {}): FlowWriter {
  const names = CIC_COLUMNS.map(([n]) => n);
  const label = opts.label ?? '';
  if (/[",\n\r]/.test(label)) throw new Error('a CIC label cannot contain a comma, a quote or a line break');
  out.write(names.join(',') + '\n');
  return {
    names,
    write(batch: FlowBatch): void {
      const lines: string[] = [];
      for (let r = 0; r < batch.rows; r++) {
        const k = batch.keys[r];
        const f = rowFeatures(batch, r);
        const durUs = Math.round((k.last_seen_ms - k.first_seen_ms) * 1000);
        lines.push(CIC_COLUMNS.map(([n, v]) => (n === 'Label' ? label : cell(v?.(k, f, durUs)))).join(','));
      }
      if (lines.length) out.write(lines.join('\n') + '\n');
    },
  };
}

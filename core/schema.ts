/**
 * The flow-feature schema: the ONE definition of what a finished-flow row contains.
 *
 * Every consumer derives from this table:
 *  - the WASM core (scripts/gen-assembly.ts writes assembly/generated/schema.ts with one slot constant per
 *    feature, and a hash the host checks at load time so a stale .wasm is refused),
 *  - the CSV/JSONL export (column order and names, CICFlowMeter aliases),
 *  - training (model input order) and the ONNX metadata (`feature_schema_id`),
 *  - the OTA compatibility check (a model whose schema id differs is refused).
 *
 * Changing, adding or reordering a feature changes SCHEMA_ID. Units are SI-ish and explicit in the name
 * suffix where NFStream has one: `_ms` milliseconds, `_ps` packet size (IP total length, bytes),
 * `_piat_ms` packet inter-arrival time. Host-window features are damped (decayed) statistics in the style of
 * Kitsune's AfterImage: each observation's weight halves every `w` seconds (w = 1 s, 10 s, 100 s). They describe
 * the flow's hosts as of the flow's last packet, whenever its row is written (HOST_WINDOW_NOTE, printed in
 * docs/features.md).
 */
import { createHash } from 'node:crypto';

export interface FeatureDef {
  /** NFStream-style name: direction, statistic, quantity, unit. */
  name: string;
  unit: string;
  description: string;
  /** CICFlowMeter column name where the meaning is the same (CSV export with --cic-names). */
  cic?: string;
}

const DIRS = [
  ['bidirectional', 'both directions', ''],
  ['src2dst', 'initiator → responder', 'Fwd'],
  ['dst2src', 'responder → initiator', 'Bwd'],
] as const;

function statBlock(
  quantity: 'ps' | 'piat_ms',
  unit: string,
  what: string,
  cic: (dir: string, stat: string) => string | undefined,
): FeatureDef[] {
  const out: FeatureDef[] = [];
  for (const [dir, dirText, cicDir] of DIRS) {
    for (const [stat, statText, cicStat] of [
      ['min', 'minimum', 'Min'],
      ['mean', 'mean', 'Mean'],
      ['max', 'maximum', 'Max'],
      ['stddev', 'population standard deviation', 'Std'],
    ] as const) {
      out.push({
        name: `${dir}_${stat}_${quantity}`,
        unit,
        description: `${statText} ${what}, ${dirText}`,
        cic: cic(cicDir, cicStat),
      });
    }
  }
  return out;
}

const TCP_FLAGS = ['syn', 'cwr', 'ece', 'urg', 'ack', 'psh', 'rst', 'fin'] as const;

function flagBlock(): FeatureDef[] {
  const out: FeatureDef[] = [];
  for (const [dir, dirText, cicDir] of DIRS) {
    for (const flag of TCP_FLAGS) {
      const cicAll = dir === 'bidirectional' ? `${flag.toUpperCase()} Flag Count` : undefined;
      const cicDirFlag = dir !== 'bidirectional' && (flag === 'psh' || flag === 'urg') ? `${cicDir} ${flag.toUpperCase()} Flags` : undefined;
      out.push({
        name: `${dir}_${flag}_packets`,
        unit: 'packets',
        description: `TCP packets with ${flag.toUpperCase()} set, ${dirText}`,
        cic: cicAll ?? cicDirFlag,
      });
    }
  }
  return out;
}

/** A flow samples its hosts' windows at most this often (packet time), on its own packets. */
export const HOST_SNAPSHOT_EVERY_MS = 1;

/** What "as of the flow's last packet" means for every host-window feature (assembly/features/host-snapshot.ts). */
export const HOST_WINDOW_NOTE = [
  "Host-window features describe the flow's two hosts as of the flow's last packet, not as of when its row is",
  'written (an answered UDP flow is written a whole idle timeout later): what the hosts did after the last packet',
  "is never in the row. The windows are sampled on the flow's own packets — its first, then at most every",
  `${HOST_SNAPSHOT_EVERY_MS} ms of packet time, and before each interim row — stored with 8 significant bits`,
  '(bfloat16, ≤ 0.4 % relative error), and the counts are decayed from the sample to the last packet; host',
  `activity in that last < ${HOST_SNAPSHOT_EVERY_MS} ms is left out. A flow that ends unanswered or reset by its`,
  "responder counts in its own initiator's failed flows; other flows count there from when they end.",
].join(' ');

/** Host-behaviour window half-lives in seconds; the decay factor is 2^(-Δt / halfLife). */
export const HOST_WINDOWS_S = [1, 10, 100] as const;

/** Pair-memory horizon: a contact older than this counts as a first contact again (assembly/features/pairs.ts). */
export const PAIR_HORIZON_S = 300;

function hostBlock(): FeatureDef[] {
  const out: FeatureDef[] = [];
  for (const w of HOST_WINDOWS_S) {
    const p = `src_host_w${w}s`;
    const d = `dst_host_w${w}s`;
    const hl = `(half-life ${w} s, as of the flow's last packet — see the note above the table)`;
    out.push(
      { name: `${p}_packets`, unit: 'packets', description: `damped count of packets sent by the flow's initiator host, in any flow ${hl}` },
      { name: `${p}_mean_ps`, unit: 'bytes', description: `damped mean size of packets sent by the initiator host ${hl}` },
      { name: `${p}_stddev_ps`, unit: 'bytes', description: `damped standard deviation of sizes of packets sent by the initiator host ${hl}` },
      { name: `${p}_flows`, unit: 'flows', description: `damped count of flows started by the initiator host ${hl}` },
      { name: `${p}_dst_hosts`, unit: 'hosts', description: `damped count of first contacts from the initiator to a destination host it had not contacted within the pair-memory horizon (${PAIR_HORIZON_S} s; a contact is recorded when a flow starts) ${hl}` },
      { name: `${p}_dst_ports`, unit: 'ports', description: `damped count of first contacts from the initiator to a (destination host, port, protocol) it had not contacted within the pair-memory horizon (${PAIR_HORIZON_S} s) ${hl}` },
      { name: `${p}_failed_flows`, unit: 'flows', description: `damped count of the initiator's flows that got no reply or were reset by the responder, counted when such a flow ends — the flow itself too if it fails ${hl}` },
      { name: `${d}_packets`, unit: 'packets', description: `damped count of packets received by the flow's responder host, in any flow ${hl}` },
      { name: `${d}_flows`, unit: 'flows', description: `damped count of flows towards the responder host ${hl}` },
      { name: `${d}_src_hosts`, unit: 'hosts', description: `damped count of first contacts to the responder from a source host not seen within the pair-memory horizon (${PAIR_HORIZON_S} s) ${hl}` },
    );
  }
  return out;
}

export const FEATURES: readonly FeatureDef[] = Object.freeze([
  { name: 'duration_ms', unit: 'ms', description: 'last_seen - first_seen', cic: 'Flow Duration' },
  { name: 'protocol', unit: 'code', description: 'IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, other)', cic: 'Protocol' },
  { name: 'ip_version', unit: 'code', description: '4 or 6' },
  { name: 'dst_port', unit: 'code', description: "responder's port (0 for portless protocols)", cic: 'Destination Port' },
  { name: 'bidirectional_packets', unit: 'packets', description: 'packets, both directions' },
  { name: 'bidirectional_bytes', unit: 'bytes', description: 'IP total length summed, both directions' },
  { name: 'src2dst_packets', unit: 'packets', description: 'packets initiator → responder', cic: 'Total Fwd Packets' },
  { name: 'src2dst_bytes', unit: 'bytes', description: 'IP total length summed, initiator → responder' },
  { name: 'dst2src_packets', unit: 'packets', description: 'packets responder → initiator', cic: 'Total Backward Packets' },
  { name: 'dst2src_bytes', unit: 'bytes', description: 'IP total length summed, responder → initiator' },
  ...statBlock('ps', 'bytes', 'packet size (IP total length)', (d, s) =>
    d ? `${d} Packet Length ${s}` : s === 'Min' ? 'Packet Length Min' : s === 'Max' ? 'Packet Length Max' : s === 'Mean' ? 'Packet Length Mean' : 'Packet Length Std'),
  ...statBlock('piat_ms', 'ms', 'packet inter-arrival time', (d, s) => (d ? `${d} IAT ${s}` : `Flow IAT ${s}`)),
  ...flagBlock(),
  { name: 'src2dst_init_win_bytes', unit: 'bytes', description: "TCP window of the initiator's first packet (unscaled; -1 if it sent no TCP packet)", cic: 'Init_Win_bytes_forward' },
  { name: 'dst2src_init_win_bytes', unit: 'bytes', description: "TCP window of the responder's first packet (unscaled; -1 if it sent no TCP packet)", cic: 'Init_Win_bytes_backward' },
  { name: 'src2dst_header_bytes', unit: 'bytes', description: 'transport + IP header bytes summed, initiator → responder', cic: 'Fwd Header Length' },
  { name: 'dst2src_header_bytes', unit: 'bytes', description: 'transport + IP header bytes summed, responder → initiator', cic: 'Bwd Header Length' },
  { name: 'src2dst_tcp_mss', unit: 'bytes', description: "MSS option of the initiator's SYN (0 if absent)" },
  { name: 'src2dst_tcp_wscale', unit: 'code', description: "window-scale option of the initiator's SYN (-1 if absent)" },
  { name: 'src2dst_payload_bytes', unit: 'bytes', description: 'transport payload bytes, initiator → responder' },
  { name: 'dst2src_payload_bytes', unit: 'bytes', description: 'transport payload bytes, responder → initiator' },
  { name: 'src2dst_data_packets', unit: 'packets', description: 'packets with transport payload, initiator → responder', cic: 'act_data_pkt_fwd' },
  { name: 'dst2src_data_packets', unit: 'packets', description: 'packets with transport payload, responder → initiator' },
  { name: 'active_min_ms', unit: 'ms', description: 'minimum active period: first to last packet of a run where each packet follows the previous by less than the activity gap (default 5 s); zero-length runs are not counted, the run open at the last packet is', cic: 'Active Min' },
  { name: 'active_mean_ms', unit: 'ms', description: 'mean active period', cic: 'Active Mean' },
  { name: 'active_max_ms', unit: 'ms', description: 'maximum active period', cic: 'Active Max' },
  { name: 'active_stddev_ms', unit: 'ms', description: 'standard deviation of active periods', cic: 'Active Std' },
  { name: 'idle_min_ms', unit: 'ms', description: 'minimum idle gap: time between consecutive packets when it is ≥ the activity gap (default 5 s)', cic: 'Idle Min' },
  { name: 'idle_mean_ms', unit: 'ms', description: 'mean idle gap', cic: 'Idle Mean' },
  { name: 'idle_max_ms', unit: 'ms', description: 'maximum idle gap', cic: 'Idle Max' },
  { name: 'idle_stddev_ms', unit: 'ms', description: 'standard deviation of idle gaps', cic: 'Idle Std' },
  { name: 'bidirectional_packets_per_s', unit: 'packets/s', description: 'packets / duration (0 for single-instant flows)', cic: 'Flow Packets/s' },
  { name: 'bidirectional_bytes_per_s', unit: 'bytes/s', description: 'bytes / duration (0 for single-instant flows)', cic: 'Flow Bytes/s' },
  { name: 'dst2src_src2dst_bytes_ratio', unit: 'ratio', description: 'dst2src_bytes / src2dst_bytes (0 when src2dst_bytes is 0)', cic: 'Down/Up Ratio' },
  { name: 'ip_fragments', unit: 'packets', description: 'IP fragments (v4 MF/offset or v6 fragment header) seen in the flow' },
  { name: 'icmp_type', unit: 'code', description: 'ICMP/ICMPv6 type of the first packet (-1 for other protocols)' },
  { name: 'icmp_code', unit: 'code', description: 'ICMP/ICMPv6 code of the first packet (-1 for other protocols)' },
  { name: 'dns_queries', unit: 'messages', description: 'DNS queries (QR=0) seen in the flow (UDP port 53)' },
  { name: 'dns_responses', unit: 'messages', description: 'DNS responses (QR=1) seen in the flow' },
  { name: 'dns_qtype', unit: 'code', description: "QTYPE of the first DNS message's question (the query's, or the response's if the query was not seen; 0 if none)" },
  { name: 'dns_rcode', unit: 'code', description: 'RCODE of the last response (-1 if none)' },
  { name: 'dns_answers', unit: 'records', description: 'answer records summed over responses' },
  { name: 'dns_qname_len', unit: 'bytes', description: "length of the first DNS message's query name in dotted form" },
  { name: 'dns_qname_labels', unit: 'labels', description: "labels in the first DNS message's query name" },
  { name: 'dns_qname_max_label_len', unit: 'bytes', description: "longest label of the first DNS message's query name" },
  { name: 'dns_qname_entropy', unit: 'bits/char', description: "Shannon entropy of the characters of the first DNS message's query name" },
  ...hostBlock(),
]);

/** Bumped by hand when the meaning of an existing feature changes without a name change. */
export const SCHEMA_VERSION = 2; // 2: host windows as of the flow's last packet, not as of the row's emission

export const FEATURE_NAMES: readonly string[] = FEATURES.map((f) => f.name);
export const NUM_FEATURES = FEATURES.length;

/** Stable id: version + names + units. Two schemas with the same id produce interchangeable rows. */
export const SCHEMA_ID = `nsf${SCHEMA_VERSION}-${createHash('sha256')
  .update(FEATURES.map((f) => `${f.name}:${f.unit}`).join('\n'))
  .digest('hex')
  .slice(0, 12)}`;

/** 32-bit form of the id, compiled into the WASM core so the host can refuse a stale build. */
export const SCHEMA_HASH32 = parseInt(SCHEMA_ID.slice(-8), 16) >>> 0;

export function featureIndex(name: string): number {
  const i = FEATURE_NAMES.indexOf(name);
  if (i < 0) throw new Error(`unknown feature ${name}`);
  return i;
}

/** Columns of a flow record that precede the features (the flow key, times and counters). */
export const RECORD_KEY_COLUMNS = [
  'src_ip', 'src_port', 'dst_ip', 'dst_port', 'protocol', 'vlan_id',
  'first_seen_ms', 'last_seen_ms',
  'src2dst_packets', 'src2dst_bytes', 'dst2src_packets', 'dst2src_bytes',
  'end_reason',
] as const;

/** Why a flow record was emitted. Order = numeric code written by the WASM core. */
export const END_REASONS = ['idle', 'active', 'fin', 'rst', 'eviction', 'end_of_input', 'shutdown', 'interim', 'unanswered'] as const;
export type EndReason = (typeof END_REASONS)[number];

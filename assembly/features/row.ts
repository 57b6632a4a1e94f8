/**
 * Writes one finished-flow row: the KeyRecord (declared in core/abi.ts) and every feature of
 * core/schema.ts, in schema order, computed exactly as the schema's descriptions say. Reads the flow slot
 * and its host-window snapshot (host-snapshot.ts), not the hosts' windows as they are now; never modifies the
 * flow (interim rows are written mid-flow).
 */
import * as S from '../generated/schema';
import { Flow, ST_S2D_WIN_SET, ST_D2S_WIN_SET, OFF_FLAGS_S2D, OFF_FLAGS_D2S, OFF_PS_S2D, OFF_PS_D2S, OFF_IAT_BI, OFF_IAT_S2D, OFF_IAT_D2S, OFF_ACTIVE, OFF_IDLE } from '../flow/flow';
import { statMean, statMin, statMax, statStd, statMerge, statAdd, mergedMean, mergedMin, mergedMax, mergedStd } from './stats';
import { rowFeatures, rowKey, outFreeRows, takeRow, ROW_BYTES } from './output';
import { putHostSnapshot } from './host-snapshot';
import { KeyRecord, KEY_FLAG_HIDDEN_OPTIONS, HIDDEN_OPTION_PACKETS } from '../generated/abi';

/** Scratch statistic block (static): the open active period joined to the active statistics for a row. */
const scratch: usize = memory.data(32);

// @ts-ignore: decorator
@inline function put(row: usize, f: i32, v: f64): void {
  store<f32>(row + (<usize>f << 2), <f32>v);
}

function putStats(row: usize, first: i32, p: usize): void {
  put(row, first, statMin(p));
  put(row, first + 1, statMean(p));
  put(row, first + 2, statMax(p));
  put(row, first + 3, statStd(p));
}

/**
 * Appends the row of flow f (table slot `slot`) ending with `reason` (flags bit 0 = interim). `failed`: the flow
 * ends unanswered or reset by its responder (host-snapshot.ts). False when the output is full.
 */
export function writeRow(f: Flow, slot: i32, reason: u8, flags: u8, failed: bool): bool {
  if (outFreeRows() <= 0) return false;
  const r = takeRow();
  writeRowAt(rowKey(r), rowFeatures(r), f, slot, reason, flags, failed);
  return true;
}

/** The same into any KeyRecord + feature row (lone-flows.ts keeps a folded group's row aside). */
export function writeRowAt(keyAt: usize, row: usize, f: Flow, slot: i32, reason: u8, flags: u8, failed: bool): void {
  const fp = changetype<usize>(f);
  const key = changetype<KeyRecord>(keyAt);
  key.src = load<v128>(fp, offsetof<Flow>('srcA')); // the 16-byte address forms
  key.dst = load<v128>(fp, offsetof<Flow>('dstA'));
  key.src_port = f.srcPort;
  key.dst_port = f.dstPort;
  key.protocol = f.proto;
  key.ip_version = f.ipVersion;
  key.end_reason = reason;
  key.flags = f.hiddenOptionPackets >= <u32>HIDDEN_OPTION_PACKETS ? flags | <u8>KEY_FLAG_HIDDEN_OPTIONS : flags;
  key.vlan_id = f.vlan;
  key.folded = 0;
  key.flow_seq = f.seq;
  key.first_seen_ms = f.firstMs;
  key.last_seen_ms = f.lastMs;
  key.src2dst_packets = <f64>f.s2dPackets;
  key.src2dst_bytes = f.s2dBytes;
  key.dst2src_packets = <f64>f.d2sPackets;
  key.dst2src_bytes = f.d2sBytes;

  memory.fill(row, 0, ROW_BYTES);
  const duration = f.lastMs - f.firstMs;
  const packets = <f64>f.s2dPackets + <f64>f.d2sPackets;
  const bytes = f.s2dBytes + f.d2sBytes;
  put(row, S.F_DURATION_MS, duration);
  put(row, S.F_PROTOCOL, f.proto);
  put(row, S.F_IP_VERSION, f.ipVersion);
  // the schema's dst_port is 0 for portless protocols: ICMP's key ports (identifier, type × 256) stay in the record
  put(row, S.F_DST_PORT, f.proto == 1 || f.proto == 58 ? 0 : f.dstPort);
  put(row, S.F_BIDIRECTIONAL_PACKETS, packets);
  put(row, S.F_BIDIRECTIONAL_BYTES, bytes);
  put(row, S.F_SRC2DST_PACKETS, f.s2dPackets);
  put(row, S.F_SRC2DST_BYTES, f.s2dBytes);
  put(row, S.F_DST2SRC_PACKETS, f.d2sPackets);
  put(row, S.F_DST2SRC_BYTES, f.d2sBytes);

  statMerge(fp + OFF_PS_S2D, fp + OFF_PS_D2S);
  put(row, S.F_BIDIRECTIONAL_MIN_PS, mergedMin);
  put(row, S.F_BIDIRECTIONAL_MEAN_PS, mergedMean);
  put(row, S.F_BIDIRECTIONAL_MAX_PS, mergedMax);
  put(row, S.F_BIDIRECTIONAL_STDDEV_PS, mergedStd);
  putStats(row, S.F_SRC2DST_MIN_PS, fp + OFF_PS_S2D);
  putStats(row, S.F_DST2SRC_MIN_PS, fp + OFF_PS_D2S);
  putStats(row, S.F_BIDIRECTIONAL_MIN_PIAT_MS, fp + OFF_IAT_BI);
  putStats(row, S.F_SRC2DST_MIN_PIAT_MS, fp + OFF_IAT_S2D);
  putStats(row, S.F_DST2SRC_MIN_PIAT_MS, fp + OFF_IAT_D2S);

  for (let k = 0; k < 8; k++) {
    const a = load<u32>(fp + OFF_FLAGS_S2D + (<usize>k << 2));
    const b = load<u32>(fp + OFF_FLAGS_D2S + (<usize>k << 2));
    put(row, S.F_SRC2DST_SYN_PACKETS + k, a);
    put(row, S.F_DST2SRC_SYN_PACKETS + k, b);
    put(row, S.F_BIDIRECTIONAL_SYN_PACKETS + k, <f64>a + <f64>b);
  }

  put(row, S.F_SRC2DST_INIT_WIN_BYTES, f.state & ST_S2D_WIN_SET ? <i32>f.s2dInitWin : -1);
  put(row, S.F_DST2SRC_INIT_WIN_BYTES, f.state & ST_D2S_WIN_SET ? <i32>f.d2sInitWin : -1);
  put(row, S.F_SRC2DST_HEADER_BYTES, f.s2dHeaderBytes);
  put(row, S.F_DST2SRC_HEADER_BYTES, f.d2sHeaderBytes);
  put(row, S.F_SRC2DST_TCP_MSS, f.tcpMss);
  put(row, S.F_SRC2DST_TCP_WSCALE, f.tcpWscale);
  put(row, S.F_SRC2DST_PAYLOAD_BYTES, f.s2dPayloadBytes);
  put(row, S.F_DST2SRC_PAYLOAD_BYTES, f.d2sPayloadBytes);
  put(row, S.F_SRC2DST_DATA_PACKETS, f.s2dDataPackets);
  put(row, S.F_DST2SRC_DATA_PACKETS, f.d2sDataPackets);

  // Active periods: the closed ones, plus the one still open at the last packet (CICFlowMeter counts only
  // periods longer than zero). Done on a scratch copy so the flow is untouched.
  memory.copy(scratch, fp + OFF_ACTIVE, 32);
  const open = f.lastMs - f.activeStartMs;
  if (open > 0) statAdd(scratch, open);
  putStats(row, S.F_ACTIVE_MIN_MS, scratch);
  putStats(row, S.F_IDLE_MIN_MS, fp + OFF_IDLE);

  if (duration > 0) {
    put(row, S.F_BIDIRECTIONAL_PACKETS_PER_S, packets * 1000 / duration);
    put(row, S.F_BIDIRECTIONAL_BYTES_PER_S, bytes * 1000 / duration);
  }
  if (f.s2dBytes > 0) put(row, S.F_DST2SRC_SRC2DST_BYTES_RATIO, f.d2sBytes / f.s2dBytes);
  put(row, S.F_IP_FRAGMENTS, f.fragments);
  put(row, S.F_ICMP_TYPE, f.icmpType);
  put(row, S.F_ICMP_CODE, f.icmpCode);
  put(row, S.F_DNS_QUERIES, f.dnsQueries);
  put(row, S.F_DNS_RESPONSES, f.dnsResponses);
  put(row, S.F_DNS_QTYPE, f.dnsQtype);
  put(row, S.F_DNS_RCODE, f.dnsRcode);
  put(row, S.F_DNS_ANSWERS, f.dnsAnswers);
  put(row, S.F_DNS_QNAME_LEN, f.dnsQnameLen);
  put(row, S.F_DNS_QNAME_LABELS, f.dnsQnameLabels);
  put(row, S.F_DNS_QNAME_MAX_LABEL_LEN, f.dnsQnameMaxLabel);
  put(row, S.F_DNS_QNAME_ENTROPY, f.dnsQnameEntropy);
  putHostSnapshot(row, slot, f, failed);
}


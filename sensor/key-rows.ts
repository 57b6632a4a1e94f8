/**
 * A batch's flow keys as the core wrote them (KEY_RECORDs, core/abi.ts), read field by field. The pipeline's
 * per-row path reads the numbers it needs straight from the bytes; address strings (the costly part of a key)
 * are made only for rows that become evidence, events or observations.
 */
import { KEY_FLAG_HIDDEN_OPTIONS, KEY_FLAG_INTERIM, KEY_FLAG_MIXED_SOURCES, KEY_RECORD } from '../core/abi.js';
import { endReasonOf, formatAddress } from '../core/host.js';
import type { FlowRecordKey } from '../detection/risk-event.js';

const K = KEY_RECORD.offset;
export const KEY_ROW_BYTES = KEY_RECORD.bytes;

export class KeyRows {
  private readonly dv: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  interim(r: number): boolean { return (this.bytes[r * KEY_ROW_BYTES + K.flags] & KEY_FLAG_INTERIM) !== 0; }
  /** Lone flows folded into this record besides its own (assembly/flow/lone-flows.ts). */
  folded(r: number): number { return this.dv.getUint16(r * KEY_ROW_BYTES + K.folded, true); }
  /** The folded flows came from other initiators than the record's own. */
  mixedSources(r: number): boolean { return (this.bytes[r * KEY_ROW_BYTES + K.flags] & KEY_FLAG_MIXED_SOURCES) !== 0; }
  /** Data in IPv6 options of unassigned types (core/abi.ts KEY_FLAG_HIDDEN_OPTIONS). */
  hiddenOptions(r: number): boolean { return (this.bytes[r * KEY_ROW_BYTES + K.flags] & KEY_FLAG_HIDDEN_OPTIONS) !== 0; }
  protocol(r: number): number { return this.bytes[r * KEY_ROW_BYTES + K.protocol]; }
  srcPort(r: number): number { return this.dv.getUint16(r * KEY_ROW_BYTES + K.src_port, true); }
  dstPort(r: number): number { return this.dv.getUint16(r * KEY_ROW_BYTES + K.dst_port, true); }
  src2dstPackets(r: number): number { return this.dv.getFloat64(r * KEY_ROW_BYTES + K.src2dst_packets, true); }
  dst2srcPackets(r: number): number { return this.dv.getFloat64(r * KEY_ROW_BYTES + K.dst2src_packets, true); }
  src2dstBytes(r: number): number { return this.dv.getFloat64(r * KEY_ROW_BYTES + K.src2dst_bytes, true); }
  dst2srcBytes(r: number): number { return this.dv.getFloat64(r * KEY_ROW_BYTES + K.dst2src_bytes, true); }
  durationMs(r: number): number {
    const k = r * KEY_ROW_BYTES;
    return this.dv.getFloat64(k + K.last_seen_ms, true) - this.dv.getFloat64(k + K.first_seen_ms, true);
  }

  /** Sets `to` to the wire form (protocol/event.ts) of row `r`, in place. */
  setWire(to: FlowRecordKey, r: number): void {
    const m = this.bytes, dv = this.dv, k = r * KEY_ROW_BYTES;
    to.src_ip = formatAddress(m, k + K.src);
    to.dst_ip = formatAddress(m, k + K.dst);
    to.src_port = dv.getUint16(k + K.src_port, true);
    to.dst_port = dv.getUint16(k + K.dst_port, true);
    to.proto = m[k + K.protocol];
    to.end_reason = endReasonOf(m[k + K.end_reason]);
    to.vlan = dv.getUint16(k + K.vlan_id, true) & 0x0fff;
    to.first_seen_ms = dv.getFloat64(k + K.first_seen_ms, true);
    to.last_seen_ms = dv.getFloat64(k + K.last_seen_ms, true);
    to.src2dst_packets = dv.getFloat64(k + K.src2dst_packets, true);
    to.src2dst_bytes = dv.getFloat64(k + K.src2dst_bytes, true);
    to.dst2src_packets = dv.getFloat64(k + K.dst2src_packets, true);
    to.dst2src_bytes = dv.getFloat64(k + K.dst2src_bytes, true);
  }

  /** The wire form of row `r` as a new object (an event keeps it). */
  wire(r: number): FlowRecordKey {
    const to = emptyWireKey();
    this.setWire(to, r);
    return to;
  }
}

export function emptyWireKey(): FlowRecordKey {
  return {
    src_ip: '', dst_ip: '', src_port: 0, dst_port: 0, proto: 0, end_reason: 'idle', vlan: 0, first_seen_ms: 0, last_seen_ms: 0,
    src2dst_packets: 0, src2dst_bytes: 0, dst2src_packets: 0, dst2src_bytes: 0,
  };
}

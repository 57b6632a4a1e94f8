/**
 * The parts of Suricata's EVE JSON that flow records and alerts share: the timestamp format, the flow tuple
 * (ports, or ICMP type and code), `flow_id`, `community_id`, `app_proto` and the `flow{}` block. Field names
 * and types follow Suricata's EVE JSON Schema (additionalProperties false: nothing of netsensor's own at the
 * top level).
 */
import { communityDigest, icmpCounterpart } from './community-id.js';
import { createHash } from 'node:crypto';

/** Suricata's protocol names (its known_proto table). */
const PROTO_NAMES: Record<number, string> = { 1: 'ICMP', 2: 'IGMP', 6: 'TCP', 17: 'UDP', 47: 'GRE', 50: 'ESP', 58: 'IPv6-ICMP', 132: 'SCTP' };

export const eveProto = (proto: number): string => PROTO_NAMES[proto] ?? String(proto);

const isIcmp = (proto: number) => proto === 1 || proto === 58;

/** Suricata's timestamp: local time with microseconds and a numeric zone; always UTC here (`+0000`). */
export function eveTimestamp(ms: number): string {
  const us = Math.round(ms * 1000);
  const s = Math.floor(us / 1e6);
  return `${new Date(s * 1000).toISOString().slice(0, 19)}.${String(us - s * 1e6).padStart(6, '0')}+0000`;
}

export interface EveKey {
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  proto: number;
  vlan: number;
  first_seen_ms: number;
}

/**
 * ICMP type and code of the initiator, read from the flow key: netsensor keys ICMP in its port columns from the
 * requester's side (docs/flows.md) — `dst_port` is the request type × 256 for a request/reply pair, type × 256 +
 * code for any other type; a pair without identifier begun by its reply has the request type × 256 in
 * `src_port` and 0 in `dst_port`, its initiator having sent the reply.
 */
export function icmpOfKey(proto: number, k: Pick<EveKey, 'src_port' | 'dst_port'>): { type: number; code: number } {
  if (k.dst_port !== 0) return { type: k.dst_port >> 8, code: k.dst_port & 255 };
  const request = k.src_port >> 8;
  return { type: icmpCounterpart(proto, request) ?? request, code: 0 };
}

/** The EVE tuple fields in Suricata's order; ICMP gets icmp_type/icmp_code (and the reply's type when answered) instead of ports. */
export interface EveTuple {
  flow_id: number;
  src_ip: string;
  src_port?: number;
  dest_ip: string;
  dest_port?: number;
  proto: string;
  icmp_type?: number;
  icmp_code?: number;
  response_icmp_type?: number;
  response_icmp_code?: number;
  community_id: string;
  vlan?: number[];
}

export interface TupleOptions {
  /** The responder answered (an ICMP pair then has a response type). */
  answered?: boolean;
  communityIdSeed?: number;
}

/**
 * flow_id: 52 bits of SHA-1 over the Community ID digest, the VLAN id and the first packet's time in µs — the
 * same flow gives the same id in `flows --format eve` and in an alert about it; two flows of one 5-tuple differ.
 * 52 bits so JSON readers that hold numbers as doubles keep it exact.
 */
function flowId(digest: Buffer, vlan: number, firstSeenMs: number): number {
  const extra = Buffer.alloc(10);
  extra.writeUInt16BE(vlan);
  extra.writeBigUInt64BE(BigInt(Math.max(0, Math.round(firstSeenMs * 1000))), 2);
  const h = createHash('sha1').update(digest).update(extra).digest();
  return (h.readUInt32BE(0) & 0xfffff) * 2 ** 32 + h.readUInt32BE(4) || 1;
}

export function eveTuple(k: EveKey, o: TupleOptions = {}): EveTuple {
  const icmp = isIcmp(k.proto) ? icmpOfKey(k.proto, k) : undefined;
  const digest = communityDigest({
    proto: k.proto, srcIp: k.src_ip, dstIp: k.dst_ip,
    srcPort: icmp ? icmp.type : k.src_port, dstPort: icmp ? icmp.code : k.dst_port,
  }, o.communityIdSeed);
  const t: EveTuple = { flow_id: flowId(digest, k.vlan, k.first_seen_ms), src_ip: k.src_ip } as EveTuple;
  if (!icmp) t.src_port = k.src_port;
  t.dest_ip = k.dst_ip;
  if (!icmp) t.dest_port = k.dst_port;
  t.proto = eveProto(k.proto);
  if (icmp) {
    t.icmp_type = icmp.type;
    t.icmp_code = icmp.code;
    const reply = icmpCounterpart(k.proto, icmp.type);
    if (o.answered && reply !== undefined) { t.response_icmp_type = reply; t.response_icmp_code = 0; }
  }
  t.community_id = `1:${digest.toString('base64')}`;
  if (k.vlan > 0) t.vlan = [k.vlan];
  return t;
}

export interface EveFlowCounts {
  src2dst_packets: number;
  src2dst_bytes: number;
  dst2src_packets: number;
  dst2src_bytes: number;
  first_seen_ms: number;
  last_seen_ms: number;
}

/** The `flow{}` counters and times (bytes are IP bytes: netsensor does not count link-layer headers). */
export function eveFlowCounts(f: EveFlowCounts) {
  return {
    pkts_toserver: f.src2dst_packets,
    pkts_toclient: f.dst2src_packets,
    bytes_toserver: f.src2dst_bytes,
    bytes_toclient: f.dst2src_bytes,
    start: eveTimestamp(f.first_seen_ms),
    end: eveTimestamp(f.last_seen_ms),
  };
}

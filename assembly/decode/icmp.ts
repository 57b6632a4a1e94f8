/**
 * ICMP (RFC 792, 950) and ICMPv6 (RFC 4443, 4861, …): type, code, and the flow key's two "ports". The 8-byte
 * header (type, code, checksum, 4 bytes of message-specific data) must be captured; shorter is counted
 * `decoder.icmpv4|icmpv6.pkt_too_small` and the packet makes no flow.
 *
 * Keying follows Suricata (src/decode-icmpv4.c ICMPv4GetCounterpart, src/flow-hash.c CmpFlowICMPPacket): a
 * request and its reply type are one pair, so request and reply fall into ONE bidirectional flow; every other
 * type keys on its own. On top of Suricata, the pairs that carry an identifier (echo, timestamp, information,
 * address mask; ICMPv6 echo) also key on it, so two pings from one host, or probes from several tools, are
 * separate flows. The ports, from the requester's side (docs/flows.md):
 *   pair with identifier:    src_port = identifier, dst_port = request type · 256 (echo: 2048, ICMPv6 echo: 32768)
 *   pair without identifier: src_port = 0,          dst_port = request type · 256 (router/neighbour solicitation …)
 *   any other type:          src_port = 0,          dst_port = type · 256 + code (NetFlow's convention)
 * A reply carries the same two values swapped, which is what makes the table's reverse match find the
 * request's flow. Errors that quote another packet (unreachable, time exceeded, …) are keyed by their own
 * type/code, not joined to the quoted flow (docs/flows.md says why).
 */
import { u8at, be16 } from '../bytes';
import { countEvent } from '../events';
import { EV_DECODER_ICMPV4_PKT_TOO_SMALL, EV_DECODER_ICMPV6_PKT_TOO_SMALL } from '../generated/events';
import { pktIcmpType, pktIcmpCode, pktIcmpReply, pktL4HeaderLen, pktPayloadLen, pktSrcPort, pktDstPort } from './packet';

export const ICMP_HEADER_BYTES: u32 = 8;

/** No counterpart: the type keys alone. */
const UNPAIRED: i32 = -1;
/** pairOf() result bits above the request type. */
const PAIR_REPLY: i32 = 0x100;
const PAIR_HAS_ID: i32 = 0x200;

/** ICMPv4 type → its pair's request type | PAIR_REPLY if it is the reply | PAIR_HAS_ID; UNPAIRED otherwise. */
function pairOfV4(t: u32): i32 {
  switch (t) {
    case 8: return 8 | PAIR_HAS_ID; // echo
    case 0: return 8 | PAIR_HAS_ID | PAIR_REPLY;
    case 13: return 13 | PAIR_HAS_ID; // timestamp
    case 14: return 13 | PAIR_HAS_ID | PAIR_REPLY;
    case 15: return 15 | PAIR_HAS_ID; // information
    case 16: return 15 | PAIR_HAS_ID | PAIR_REPLY;
    case 17: return 17 | PAIR_HAS_ID; // address mask
    case 18: return 17 | PAIR_HAS_ID | PAIR_REPLY;
    case 10: return 10; // router solicitation
    case 9: return 10 | PAIR_REPLY; // router advertisement
    default: return UNPAIRED;
  }
}

/** The same for ICMPv6 (Suricata's ICMPv6GetCounterpart pairs). */
function pairOfV6(t: u32): i32 {
  switch (t) {
    case 128: return 128 | PAIR_HAS_ID; // echo
    case 129: return 128 | PAIR_HAS_ID | PAIR_REPLY;
    case 133: return 133; // router solicitation / advertisement
    case 134: return 133 | PAIR_REPLY;
    case 135: return 135; // neighbour solicitation / advertisement
    case 136: return 135 | PAIR_REPLY;
    case 130: return 130; // multicast listener query / report
    case 131: return 130 | PAIR_REPLY;
    case 139: return 139; // node information query / reply
    case 140: return 139 | PAIR_REPLY;
    case 144: return 144; // home agent address discovery
    case 145: return 144 | PAIR_REPLY;
    case 146: return 146; // mobile prefix solicitation / advertisement
    case 147: return 146 | PAIR_REPLY;
    case 148: return 148; // certification path solicitation / advertisement
    case 149: return 148 | PAIR_REPLY;
    case 152: return 152; // multicast router solicitation / advertisement
    case 151: return 152 | PAIR_REPLY;
    case 157: return 157; // duplicate address request / confirmation
    case 158: return 157 | PAIR_REPLY;
    default: return UNPAIRED;
  }
}

export function decodeIcmp(p: usize, cap: u32, plen: u32): bool {
  if (plen < ICMP_HEADER_BYTES || cap < ICMP_HEADER_BYTES) {
    countEvent(EV_DECODER_ICMPV4_PKT_TOO_SMALL);
    return false;
  }
  fill(p, plen, pairOfV4(u8at(p)));
  return true;
}

export function decodeIcmpv6(p: usize, cap: u32, plen: u32): bool {
  if (plen < ICMP_HEADER_BYTES || cap < ICMP_HEADER_BYTES) {
    countEvent(EV_DECODER_ICMPV6_PKT_TOO_SMALL);
    return false;
  }
  fill(p, plen, pairOfV6(u8at(p)));
  return true;
}

/** Type, code and key ports of the header at p (8 bytes present: checked by the callers). */
// @ts-ignore: decorator
@inline function fill(p: usize, plen: u32, pair: i32): void {
  const type = u8at(p);
  const code = u8at(p + 1);
  pktIcmpType = <i32>type;
  pktIcmpCode = <i32>code;
  pktL4HeaderLen = ICMP_HEADER_BYTES;
  pktPayloadLen = plen - ICMP_HEADER_BYTES;
  if (pair == UNPAIRED) {
    pktSrcPort = 0;
    pktDstPort = <u16>(type << 8 | code);
    return;
  }
  const id = pair & PAIR_HAS_ID ? be16(p + 4) : 0; // identifier: bytes 4–5 of the header
  const request = <u32>(pair & 0xff) << 8;
  if (pair & PAIR_REPLY) {
    pktSrcPort = <u16>request;
    pktDstPort = <u16>id;
    pktIcmpReply = (pair & PAIR_HAS_ID) != 0;
  } else {
    pktSrcPort = <u16>id;
    pktDstPort = <u16>request;
  }
}

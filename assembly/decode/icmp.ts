/**
 * ICMP (RFC 792) and ICMPv6 (RFC 4443): type and code. The 8-byte header (type, code, checksum, 4 bytes of
 * message-specific data) must be captured. ICMP flows have no ports; the flow engine may use type/code.
 */
import { u8at } from '../bytes';
import { countEvent } from '../events';
import { EV_DECODER_ICMPV4_PKT_TOO_SMALL, EV_DECODER_ICMPV6_PKT_TOO_SMALL } from '../generated/events';
import { pktIcmpType, pktIcmpCode, pktL4HeaderLen, pktPayloadLen } from './packet';

export const ICMP_HEADER_BYTES: u32 = 8;

export function decodeIcmp(p: usize, cap: u32, plen: u32): bool {
  if (plen < ICMP_HEADER_BYTES || cap < ICMP_HEADER_BYTES) {
    countEvent(EV_DECODER_ICMPV4_PKT_TOO_SMALL);
    return false;
  }
  fill(p, plen);
  return true;
}

export function decodeIcmpv6(p: usize, cap: u32, plen: u32): bool {
  if (plen < ICMP_HEADER_BYTES || cap < ICMP_HEADER_BYTES) {
    countEvent(EV_DECODER_ICMPV6_PKT_TOO_SMALL);
    return false;
  }
  fill(p, plen);
  return true;
}

// @ts-ignore: decorator
@inline function fill(p: usize, plen: u32): void {
  pktIcmpType = <i32>u8at(p);
  pktIcmpCode = <i32>u8at(p + 1);
  pktL4HeaderLen = ICMP_HEADER_BYTES;
  pktPayloadLen = plen - ICMP_HEADER_BYTES;
}

/**
 * TCP (RFC 9293). The fixed 20-byte header must be captured (ports, flags, window); the data offset is
 * checked against the segment length from IP, not against the capture, so snap-truncated captures keep their
 * packets. Options are read as far as they were captured: MSS (2) and window scale (3).
 */
import { be16, u8at } from '../bytes';
import { countEvent } from '../events';
import {
  EV_DECODER_TCP_PKT_TOO_SMALL, EV_DECODER_TCP_HLEN_TOO_SMALL, EV_DECODER_TCP_HLEN_TOO_BIG,
  EV_DECODER_TCP_OPT_INVALID,
} from '../generated/events';
import { tinyFirstFragment } from './fragment';
import {
  pktSrcPort, pktDstPort, pktL4HeaderLen, pktPayloadLen, pktTcpFlags, pktTcpWindow, pktTcpMss, pktTcpWscale,
} from './packet';

export const TCP_HEADER_BYTES: u32 = 20;

export function decodeTcp(p: usize, cap: u32, plen: u32): bool {
  if (plen < TCP_HEADER_BYTES || cap < TCP_HEADER_BYTES) {
    countEvent(EV_DECODER_TCP_PKT_TOO_SMALL);
    return tinyFirstFragment(p, cap, plen);
  }
  const hlen = (u8at(p + 12) >> 4) << 2;
  if (hlen < TCP_HEADER_BYTES) {
    countEvent(EV_DECODER_TCP_HLEN_TOO_SMALL);
    return false;
  }
  if (hlen > plen) {
    countEvent(EV_DECODER_TCP_HLEN_TOO_BIG);
    return false;
  }
  pktSrcPort = <u16>be16(p);
  pktDstPort = <u16>be16(p + 2);
  pktTcpFlags = <u8>u8at(p + 13);
  pktTcpWindow = <u16>be16(p + 14);
  pktL4HeaderLen = hlen;
  pktPayloadLen = plen - hlen;
  if (hlen > TCP_HEADER_BYTES) readOptions(p, hlen < cap ? hlen : cap, hlen);
  return true;
}

/** Options from byte 20 to `capEnd` (captured) of a header `hlen` long. A malformed TLV stops the walk. */
function readOptions(p: usize, capEnd: u32, hlen: u32): void {
  let i: u32 = TCP_HEADER_BYTES;
  while (i < capEnd) {
    const kind = u8at(p + i);
    if (kind == 0) return; // end of options
    if (kind == 1) { i++; continue; } // NOP
    if (i + 1 >= capEnd) return; // length byte not captured (or missing: caught below only if captured)
    const olen = u8at(p + i + 1);
    if (olen < 2 || i + olen > hlen) {
      countEvent(EV_DECODER_TCP_OPT_INVALID);
      return;
    }
    if (i + olen > capEnd) return; // option cut by the snap length
    if (kind == 2) {
      if (olen == 4) pktTcpMss = <i32>be16(p + i + 2);
      else countEvent(EV_DECODER_TCP_OPT_INVALID);
    } else if (kind == 3) {
      if (olen == 3) pktTcpWscale = <i32>u8at(p + i + 2);
      else countEvent(EV_DECODER_TCP_OPT_INVALID);
    }
    i += olen;
  }
}

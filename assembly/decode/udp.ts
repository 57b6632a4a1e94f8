/**
 * UDP (RFC 768). The 8-byte header must be captured. The UDP length must cover its header and fit in the IP
 * payload; a first fragment legitimately announces more than its IP payload, so that check is skipped there.
 * Port 53 on either side hands the payload to the DNS decoder.
 */
import { be16 } from '../bytes';
import { countEvent } from '../events';
import { EV_DECODER_UDP_PKT_TOO_SMALL, EV_DECODER_UDP_HLEN_INVALID } from '../generated/events';
import { decodeDns } from './dns';
import { tinyFirstFragment } from './fragment';
import { pktSrcPort, pktDstPort, pktL4HeaderLen, pktPayloadLen, pktIsFragment } from './packet';

export const UDP_HEADER_BYTES: u32 = 8;
export const DNS_PORT: u32 = 53;

export function decodeUdp(p: usize, cap: u32, plen: u32): bool {
  if (plen < UDP_HEADER_BYTES || cap < UDP_HEADER_BYTES) {
    countEvent(EV_DECODER_UDP_PKT_TOO_SMALL);
    return tinyFirstFragment(p, cap, plen);
  }
  let ulen = be16(p + 4);
  if (ulen < UDP_HEADER_BYTES || (ulen > plen && !pktIsFragment)) {
    countEvent(EV_DECODER_UDP_HLEN_INVALID);
    return false;
  }
  if (ulen > plen) ulen = plen;
  const sport = be16(p);
  const dport = be16(p + 2);
  pktSrcPort = <u16>sport;
  pktDstPort = <u16>dport;
  pktL4HeaderLen = UDP_HEADER_BYTES;
  pktPayloadLen = plen - UDP_HEADER_BYTES;
  if (sport == DNS_PORT || dport == DNS_PORT) {
    const end = ulen < cap ? ulen : cap;
    decodeDns(p + UDP_HEADER_BYTES, end - UDP_HEADER_BYTES);
  }
  return true;
}

/**
 * IPv4 (RFC 791). Lengths are checked once, in this order (each failure is one named event):
 *   captured < 20 → too_small · version ≠ 4 → wrong_version · IHL < 5 → hlen_too_small
 *   header not fully captured → hlen_too_big · total length < header → tlen_too_small
 *   total length > bytes on the wire → trunc_pkt · total length 0 (TSO) → tlen_zero_tso, frame length used
 * Snap-length truncation is not an error: flow bytes use the total length field; only the transport header
 * must be captured. Fragments are not reassembled: the first one carries the ports, later ones (offset > 0)
 * have none and are reported with ports 0.
 */
import { be16, u8at, storeV4Mapped } from '../bytes';
import { countEvent } from '../events';
import {
  EV_DECODER_IPV4_TOO_SMALL, EV_DECODER_IPV4_WRONG_VERSION, EV_DECODER_IPV4_HLEN_TOO_SMALL,
  EV_DECODER_IPV4_HLEN_TOO_BIG, EV_DECODER_IPV4_TLEN_TOO_SMALL, EV_DECODER_IPV4_TRUNC_PKT,
  EV_DECODER_IPV4_OPT_INVALID, EV_DECODER_IPV4_FRAG, EV_DECODER_IPV4_TLEN_ZERO_TSO,
} from '../generated/events';
import { wireAfter } from './frame';
import { decodeTransport } from './transport';
import {
  pktSrc, pktDst, pktIpVersion, pktIpTotalLen, pktIpHeaderLen, pktProtocol, pktIsFragment,
  pktIsLaterFragment, pktPayloadLen,
} from './packet';

export const IPV4_HEADER_BYTES: u32 = 20;

export function decodeIpv4(p: usize, len: u32): bool {
  if (len < IPV4_HEADER_BYTES) {
    countEvent(EV_DECODER_IPV4_TOO_SMALL);
    return false;
  }
  const verIhl = u8at(p);
  if ((verIhl >> 4) != 4) {
    countEvent(EV_DECODER_IPV4_WRONG_VERSION);
    return false;
  }
  const hlen = (verIhl & 0x0f) << 2;
  if (hlen < IPV4_HEADER_BYTES) {
    countEvent(EV_DECODER_IPV4_HLEN_TOO_SMALL);
    return false;
  }
  if (hlen > len) {
    countEvent(EV_DECODER_IPV4_HLEN_TOO_BIG);
    return false;
  }
  let tlen = be16(p + 2);
  if (tlen == 0) {
    // Captured on the sending host before TCP segmentation offload split it: the stack leaves the length 0.
    // Like Wireshark, take the length from the frame (counted, so it stays visible).
    countEvent(EV_DECODER_IPV4_TLEN_ZERO_TSO);
    const wire = wireAfter(p);
    tlen = wire < 0xffff ? wire : 0xffff;
  }
  if (tlen < hlen) {
    countEvent(EV_DECODER_IPV4_TLEN_TOO_SMALL);
    return false;
  }
  if (tlen > wireAfter(p)) {
    countEvent(EV_DECODER_IPV4_TRUNC_PKT);
    return false;
  }
  if (hlen > IPV4_HEADER_BYTES && !optionsValid(p + IPV4_HEADER_BYTES, hlen - IPV4_HEADER_BYTES)) {
    countEvent(EV_DECODER_IPV4_OPT_INVALID); // still a usable packet: the addresses and lengths are sound
  }

  const proto = <u8>u8at(p + 9);
  storeV4Mapped(pktSrc, p + 12);
  storeV4Mapped(pktDst, p + 16);
  pktIpVersion = 4;
  pktIpTotalLen = tlen;
  pktIpHeaderLen = hlen;
  pktProtocol = proto;

  const frag = be16(p + 6); // flags (reserved, DF, MF) + 13-bit offset in 8-byte units
  if ((frag & 0x3fff) != 0) {
    countEvent(EV_DECODER_IPV4_FRAG);
    pktIsFragment = true;
    if ((frag & 0x1fff) != 0) {
      pktIsLaterFragment = true;
      pktPayloadLen = tlen - hlen;
      return true;
    }
  }
  // Ethernet pads short frames: never read past the IP total length.
  const end = tlen < len ? tlen : len;
  return decodeTransport(p + hlen, end - hlen, tlen - hlen, proto, 4);
}

/** Walks the options (RFC 791 TLVs) without storing them: only their framing is checked. */
function optionsValid(p: usize, len: u32): bool {
  let i: u32 = 0;
  while (i < len) {
    const kind = u8at(p + i);
    if (kind == 0) return true; // end of option list; the rest is padding
    if (kind == 1) { i++; continue; } // no-operation
    if (i + 1 >= len) return false;
    const olen = u8at(p + i + 1);
    if (olen < 2 || i + olen > len) return false;
    i += olen;
  }
  return true;
}

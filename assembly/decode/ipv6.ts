/**
 * IPv6 (RFC 8200) and its extension headers. The chain is walked with a bounded count (MAX_EXTENSION_HEADERS)
 * so a crafted chain cannot loop. Flow bytes = 40 + payload length, whatever was captured.
 *   hop-by-hop (0), routing (43), destination options (60), mobility (135), HIP (139), shim6 (140):
 *     length = (hdr_ext_len + 1) * 8; the options of hop-by-hop and destination options are read for data under
 *     unassigned types (ipv6-options.ts)
 *   fragment (44): 8 bytes; offset > 0 → later fragment, no transport header, ports 0
 *   authentication header (51): length = (payload_len + 2) * 4
 * ESP (50) and no-next-header (59) end the chain: their flows have no ports.
 */
import { be16, u8at, storeV6 } from '../bytes';
import { countEvent } from '../events';
import {
  EV_DECODER_IPV6_TOO_SMALL, EV_DECODER_IPV6_WRONG_VERSION, EV_DECODER_IPV6_TRUNC_PKT,
  EV_DECODER_IPV6_EXTHDR_INVALID, EV_DECODER_IPV6_EXTHDR_TOO_MANY, EV_DECODER_IPV6_FRAG,
} from '../generated/events';
import { wireAfter } from './frame';
import { decodeTransport } from './transport';
import {
  pktSrc, pktDst, pktIpVersion, pktIpTotalLen, pktIpHeaderLen, pktProtocol, pktIsFragment,
  pktIsLaterFragment, pktPayloadLen, pktHiddenOptions,
} from './packet';
import { hidesData } from './ipv6-options';

export const IPV6_HEADER_BYTES: u32 = 40;
export const MAX_EXTENSION_HEADERS: u32 = 8;

export function decodeIpv6(p: usize, len: u32): bool {
  if (len < IPV6_HEADER_BYTES) {
    countEvent(EV_DECODER_IPV6_TOO_SMALL);
    return false;
  }
  if ((u8at(p) >> 4) != 6) {
    countEvent(EV_DECODER_IPV6_WRONG_VERSION);
    return false;
  }
  const tlen = IPV6_HEADER_BYTES + be16(p + 4);
  if (tlen > wireAfter(p)) {
    countEvent(EV_DECODER_IPV6_TRUNC_PKT);
    return false;
  }
  storeV6(pktSrc, p + 8);
  storeV6(pktDst, p + 24);
  pktIpVersion = 6;
  pktIpTotalLen = tlen;

  const end = tlen < len ? tlen : len; // captured bytes that belong to this packet
  let nh = u8at(p + 6);
  let off: u32 = IPV6_HEADER_BYTES;
  let count: u32 = 0;
  while (true) {
    let hdrLen: u32 = 8; // fragment header size; the others read theirs
    if (nh == 0 || nh == 43 || nh == 60 || nh == 135 || nh == 139 || nh == 140) {
      if (off + 2 > end) return extensionCut(off, tlen);
      hdrLen = (u8at(p + off + 1) + 1) << 3;
    } else if (nh == 51) {
      if (off + 2 > end) return extensionCut(off, tlen);
      hdrLen = (u8at(p + off + 1) + 2) << 2;
    } else if (nh == 44) {
      // fixed 8 bytes
    } else {
      break;
    }
    if (++count > MAX_EXTENSION_HEADERS) {
      countEvent(EV_DECODER_IPV6_EXTHDR_TOO_MANY);
      return false;
    }
    if (off + hdrLen > tlen) {
      countEvent(EV_DECODER_IPV6_EXTHDR_INVALID);
      return false;
    }
    if (off + hdrLen > end) return extensionCut(off, tlen);
    const next = u8at(p + off);
    if ((nh == 0 || nh == 60) && !pktHiddenOptions) pktHiddenOptions = hidesData(p + off, hdrLen);
    if (nh == 44) {
      const frag = be16(p + off + 2); // 13-bit offset << 3 | 2 reserved bits | M
      if ((frag & 0xfff9) != 0) { // offset or M set; offset 0 with M clear is an atomic fragment: a whole packet
        countEvent(EV_DECODER_IPV6_FRAG);
        pktIsFragment = true;
        if ((frag & 0xfff8) != 0) {
          pktIsLaterFragment = true;
          pktIpHeaderLen = off + hdrLen;
          pktProtocol = <u8>next;
          pktPayloadLen = tlen - off - hdrLen;
          return true;
        }
      }
    }
    nh = next;
    off += hdrLen;
  }
  pktIpHeaderLen = off;
  pktProtocol = <u8>nh;
  return decodeTransport(p + off, end - off, tlen - off, <u8>nh, 6);
}

/** The chain runs past the captured bytes: invalid if it also runs past the packet, else snap-truncated. */
function extensionCut(off: u32, tlen: u32): bool {
  countEvent(off + 2 > tlen ? EV_DECODER_IPV6_EXTHDR_INVALID : EV_DECODER_IPV6_TRUNC_PKT);
  return false;
}

/**
 * PPP (link type 9, RFC 1661/1662): optional HDLC address/control bytes (FF 03), then the protocol — 2 bytes,
 * or 1 when protocol-field compression sent an odd first byte. IPv4 (0x21) and IPv6 (0x57) are decoded;
 * control protocols (LCP, IPCP, …) are not IP.
 */
import { be16, u8at } from '../bytes';
import { countEvent } from '../events';
import { EV_DECODER_PPP_TOO_SMALL, EV_DECODER_NON_IP } from '../generated/events';
import { decodeIpv4 } from './ipv4';
import { decodeIpv6 } from './ipv6';
import { PPP_IPV4, PPP_IPV6 } from './pppoe';

export function decodePpp(p: usize, len: u32): bool {
  let off: u32 = 0;
  if (len >= 2 && u8at(p) == 0xff && u8at(p + 1) == 0x03) off = 2;
  if (off + 1 > len) {
    countEvent(EV_DECODER_PPP_TOO_SMALL);
    return false;
  }
  let proto: u32;
  if ((u8at(p + off) & 1) != 0) {
    proto = u8at(p + off);
    off += 1;
  } else {
    if (off + 2 > len) {
      countEvent(EV_DECODER_PPP_TOO_SMALL);
      return false;
    }
    proto = be16(p + off);
    off += 2;
  }
  if (proto == PPP_IPV4) return decodeIpv4(p + off, len - off);
  if (proto == PPP_IPV6) return decodeIpv6(p + off, len - off);
  countEvent(EV_DECODER_NON_IP);
  return false;
}

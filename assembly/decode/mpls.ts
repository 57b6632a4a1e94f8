/**
 * MPLS label stacks (ethertypes 0x8847 unicast, 0x8848 multicast; RFC 3032): 4-byte entries until the
 * bottom-of-stack bit, at most MAX_MPLS_LABELS. MPLS carries no payload type: the first nibble after the stack
 * says IPv4 or IPv6; anything else (an Ethernet pseudowire, a control word) is left undecoded.
 */
import { u8at } from '../bytes';
import { countEvent } from '../events';
import {
  EV_DECODER_MPLS_TOO_SMALL, EV_DECODER_MPLS_TOO_MANY_LABELS, EV_DECODER_ETHERNET_UNSUPPORTED_TYPE,
} from '../generated/events';
import { decodeIpv4 } from './ipv4';
import { decodeIpv6 } from './ipv6';

export const ETHERTYPE_MPLS: u32 = 0x8847;
export const ETHERTYPE_MPLS_MULTICAST: u32 = 0x8848;
export const MPLS_ENTRY_BYTES: u32 = 4;
export const MAX_MPLS_LABELS: u32 = 8;

export function decodeMpls(p: usize, len: u32): bool {
  let labels: u32 = 0;
  while (true) {
    if (len < MPLS_ENTRY_BYTES) {
      countEvent(EV_DECODER_MPLS_TOO_SMALL);
      return false;
    }
    if (++labels > MAX_MPLS_LABELS) {
      countEvent(EV_DECODER_MPLS_TOO_MANY_LABELS);
      return false;
    }
    const bottom = (u8at(p + 2) & 1) != 0;
    p += MPLS_ENTRY_BYTES;
    len -= MPLS_ENTRY_BYTES;
    if (bottom) break;
  }
  if (len == 0) {
    countEvent(EV_DECODER_MPLS_TOO_SMALL);
    return false;
  }
  const version = u8at(p) >> 4;
  if (version == 4) return decodeIpv4(p, len);
  if (version == 6) return decodeIpv6(p, len);
  countEvent(EV_DECODER_ETHERNET_UNSUPPORTED_TYPE);
  return false;
}

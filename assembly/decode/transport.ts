/**
 * Transport dispatch after the network header. `cap` = captured bytes of the transport segment, `plen` = its
 * length according to the IP header (≥ cap unless Ethernet padding was already cut away by the caller).
 * GRE is opened when it carries what gre.ts decodes; other protocols without ports (ESP, OSPF, IGMP, GRE that is
 * not opened, …) still make flows: true with ports 0.
 */
import { countEvent } from '../events';
import { EV_DECODER_IP_UNSUPPORTED_PROTO } from '../generated/events';
import { decodeTcp } from './tcp';
import { decodeUdp } from './udp';
import { decodeIcmp, decodeIcmpv6 } from './icmp';
import { pktPayloadLen, pktIsFragment } from './packet';
import { decodeGre, IPPROTO_GRE } from './gre';

export const IPPROTO_ICMP: u8 = 1;
export const IPPROTO_TCP: u8 = 6;
export const IPPROTO_UDP: u8 = 17;
export const IPPROTO_ICMPV6: u8 = 58;
export const IPPROTO_NONE: u8 = 59;

export function decodeTransport(p: usize, cap: u32, plen: u32, proto: u8, ipVersion: u8): bool {
  if (proto == IPPROTO_TCP) return decodeTcp(p, cap, plen);
  if (proto == IPPROTO_GRE && !pktIsFragment) { // its inner packet's flow, when it can be opened (gre.ts)
    const inner = decodeGre(p, cap);
    if (inner >= 0) return inner == 1; // not opened: the GRE flow itself, with ports 0, as before
  }
  if (proto == IPPROTO_UDP) return decodeUdp(p, cap, plen);
  if (proto == IPPROTO_ICMP && ipVersion == 4) return decodeIcmp(p, cap, plen);
  if (proto == IPPROTO_ICMPV6 && ipVersion == 6) return decodeIcmpv6(p, cap, plen);
  if (proto != IPPROTO_NONE) countEvent(EV_DECODER_IP_UNSUPPORTED_PROTO);
  pktPayloadLen = plen;
  return true;
}

/**
 * Ethernet II (link type 1) and the ethertype dispatch shared by every link layer that carries an ethertype
 * (Ethernet, Linux cooked SLL/SLL2): VLAN tags, then IPv4 / IPv6, PPPoE sessions and MPLS stacks.
 */
import { be16 } from '../bytes';
import { countEvent } from '../events';
import {
  EV_DECODER_ETHERNET_TOO_SMALL, EV_DECODER_ETHERNET_UNSUPPORTED_TYPE, EV_DECODER_NON_IP,
  EV_DECODER_VLAN_TOO_SMALL, EV_DECODER_VLAN_TOO_MANY_LAYERS,
} from '../generated/events';
import { isVlanType, vlanTagId, vlanNextType, VLAN_TAG_BYTES, MAX_VLAN_LAYERS } from './vlan';
import { decodeIpv4 } from './ipv4';
import { decodeIpv6 } from './ipv6';
import { decodePppoeSession, ETHERTYPE_PPPOE_SESSION } from './pppoe';
import { decodeMpls, ETHERTYPE_MPLS, ETHERTYPE_MPLS_MULTICAST } from './mpls';
import { pktVlanId, pktVlanCount } from './packet';

export const ETHERNET_HEADER_BYTES: u32 = 14;
export const ETHERTYPE_IPV4: u32 = 0x0800;
export const ETHERTYPE_IPV6: u32 = 0x86dd;

export function decodeEthernet(p: usize, len: u32): bool {
  if (len < ETHERNET_HEADER_BYTES) {
    countEvent(EV_DECODER_ETHERNET_TOO_SMALL);
    return false;
  }
  return decodeEthertype(p + ETHERNET_HEADER_BYTES, len - ETHERNET_HEADER_BYTES, be16(p + 12));
}

/** `type` announces what starts at `p`; `len` captured bytes remain. */
export function decodeEthertype(p: usize, len: u32, type: u32): bool {
  let layers: u32 = 0;
  while (isVlanType(type)) {
    if (len < VLAN_TAG_BYTES) {
      countEvent(EV_DECODER_VLAN_TOO_SMALL);
      return false;
    }
    if (++layers > MAX_VLAN_LAYERS) {
      countEvent(EV_DECODER_VLAN_TOO_MANY_LAYERS);
      return false;
    }
    pktVlanId = vlanTagId(p); // overwritten by each deeper tag: the innermost id wins
    type = vlanNextType(p);
    p += VLAN_TAG_BYTES;
    len -= VLAN_TAG_BYTES;
  }
  pktVlanCount = <u8>layers;
  if (type == ETHERTYPE_IPV4) return decodeIpv4(p, len);
  if (type == ETHERTYPE_IPV6) return decodeIpv6(p, len);
  if (type == ETHERTYPE_PPPOE_SESSION) return decodePppoeSession(p, len);
  if (type == ETHERTYPE_MPLS || type == ETHERTYPE_MPLS_MULTICAST) return decodeMpls(p, len);
  countEvent(isIpCarrier(type) ? EV_DECODER_ETHERNET_UNSUPPORTED_TYPE : EV_DECODER_NON_IP);
  return false;
}

/**
 * Encapsulations that can carry IP which this decoder does not open when they are a link's ethertype (transparent
 * Ethernet bridging, ERSPAN, 802.1ah MAC-in-MAC, NSH; inside GRE the first two are opened, gre.ts): counted apart
 * from plain non-IP traffic (ARP, LLDP, 802.3 LLC …) because they hide flows.
 */
// @ts-ignore: decorator
@inline function isIpCarrier(type: u32): bool {
  return type == 0x6558 || type == 0x88be || type == 0x22eb || type == 0x88e7 || type == 0x894f;
}

/**
 * GRE (RFC 2784; keys and sequence numbers RFC 2890; PPTP's enhanced GRE, RFC 2637) is opened, as Suricata and Zeek
 * open it: the packet's flow is the one it carries, so a sensor fed through a GRE or ERSPAN mirror, or watching a
 * tunnel, sees the conversations inside instead of one flow per tunnel. Opened payloads: IPv4, IPv6, transparent
 * Ethernet bridging (0x6558), ERSPAN types I/II (0x88BE) and III (0x22EB) — an Ethernet frame after their header —
 * and PPP in PPTP's GRE version 1. Everything else (a routing field, another payload type, an outer fragment) stays
 * what it was: a GRE flow with ports 0, counted `decoder.ip.unsupported_proto`. A header cut short by the capture is
 * counted `decoder.gre.too_small` and also keeps the outer flow; a tunnel inside more than MAX_DEPTH others is counted
 * `decoder.tunnel.too_deep` and keeps its outer flow. A malformed inner packet is counted by its own decoder and
 * skipped, like any malformed packet.
 */
import { be16, u8at } from '../bytes';
import { countEvent } from '../events';
import { EV_DECODER_GRE_TOO_SMALL, EV_DECODER_TUNNEL_TOO_DEEP } from '../generated/events';
import { decodeIpv4 } from './ipv4';
import { decodeIpv6 } from './ipv6';
import { decodeEthernet } from './ethernet';
import { decodePpp } from './ppp';

export const IPPROTO_GRE: u8 = 47;
const MAX_DEPTH: i32 = 3;
const INNER_IPV4: i32 = 1, INNER_IPV6: i32 = 2, INNER_ETHERNET: i32 = 3, INNER_PPP: i32 = 4;

let depth: i32 = 0;
// what parse() found: the inner packet's offset and kind
let innerOff: u32 = 0;
let innerKind: i32 = 0;

/** Whether netsensor opens the GRE packet at p (cap captured bytes); sets innerOff / innerKind. */
function parse(p: usize, cap: u32): bool {
  if (cap < 4) {
    countEvent(EV_DECODER_GRE_TOO_SMALL);
    return false;
  }
  const flags = be16(p);
  const type = be16(p + 2);
  let off: u32 = 4;
  const version = flags & 7;
  if (version == 0) {
    if ((flags & 0x4000) != 0) return false; // RFC 1701 routing: not opened
    if ((flags & 0x8000) != 0) off += 4; // checksum and reserved
    if ((flags & 0x2000) != 0) off += 4; // key
    if ((flags & 0x1000) != 0) off += 4; // sequence number
  } else if (version == 1) { // PPTP: PPP, key (payload length, call id) always, sequence and acknowledgment optional
    if (type != 0x880b || (flags & 0x2000) == 0) return false;
    off += 4;
    if ((flags & 0x1000) != 0) off += 4;
    if ((flags & 0x0080) != 0) off += 4;
  } else return false;
  let kind: i32 = 0;
  if (type == 0x0800) kind = INNER_IPV4;
  else if (type == 0x86dd) kind = INNER_IPV6;
  else if (type == 0x6558) kind = INNER_ETHERNET;
  else if (type == 0x88be) { // ERSPAN: type II carries an 8-byte header (the GRE sequence bit is set), type I none
    kind = INNER_ETHERNET;
    if ((flags & 0x1000) != 0) off += 8;
  } else if (type == 0x22eb) { // ERSPAN type III: 12 bytes, 8 more when its O flag announces a platform sub-header
    kind = INNER_ETHERNET;
    if (off + 12 > cap) {
      countEvent(EV_DECODER_GRE_TOO_SMALL);
      return false;
    }
    off += (u8at(p + off + 11) & 1) != 0 ? 20 : 12;
  } else if (type == 0x880b && version == 1) kind = INNER_PPP;
  else return false;
  if (off >= cap) {
    countEvent(EV_DECODER_GRE_TOO_SMALL);
    return false;
  }
  innerOff = off;
  innerKind = kind;
  return true;
}

/**
 * Decodes the packet a GRE packet carries (its flow becomes the packet's): 1 decoded, 0 the inner packet was
 * malformed (counted by its decoder), -1 not opened (the caller keeps the outer GRE flow).
 */
export function decodeGre(p: usize, cap: u32): i32 {
  if (!parse(p, cap)) return -1;
  if (depth >= MAX_DEPTH) {
    countEvent(EV_DECODER_TUNNEL_TOO_DEEP);
    return -1;
  }
  const q = p + innerOff;
  const n = cap - innerOff;
  const kind = innerKind;
  depth++;
  let ok = false;
  if (kind == INNER_IPV4) ok = decodeIpv4(q, n);
  else if (kind == INNER_IPV6) ok = decodeIpv6(q, n);
  else if (kind == INNER_ETHERNET) ok = decodeEthernet(q, n);
  else ok = decodePpp(q, n);
  depth--;
  return ok ? 1 : 0;
}

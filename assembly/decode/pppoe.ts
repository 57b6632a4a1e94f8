/**
 * PPPoE session stage (ethertype 0x8864, RFC 2516): 6-byte PPPoE header, then the 2-byte PPP protocol.
 * IPv4 (0x0021) and IPv6 (0x0057) are decoded; PPP control traffic (LCP, IPCP, …) is not IP.
 */
import { be16 } from '../bytes';
import { countEvent } from '../events';
import { EV_DECODER_PPPOE_TOO_SMALL, EV_DECODER_NON_IP } from '../generated/events';
import { decodeIpv4 } from './ipv4';
import { decodeIpv6 } from './ipv6';

export const ETHERTYPE_PPPOE_SESSION: u32 = 0x8864;
export const PPPOE_SESSION_HEADER_BYTES: u32 = 8; // PPPoE 6 + PPP protocol 2
export const PPP_IPV4: u32 = 0x0021;
export const PPP_IPV6: u32 = 0x0057;

export function decodePppoeSession(p: usize, len: u32): bool {
  if (len < PPPOE_SESSION_HEADER_BYTES) {
    countEvent(EV_DECODER_PPPOE_TOO_SMALL);
    return false;
  }
  const proto = be16(p + 6);
  const rest = len - PPPOE_SESSION_HEADER_BYTES;
  if (proto == PPP_IPV4) return decodeIpv4(p + PPPOE_SESSION_HEADER_BYTES, rest);
  if (proto == PPP_IPV6) return decodeIpv6(p + PPPOE_SESSION_HEADER_BYTES, rest);
  countEvent(EV_DECODER_NON_IP);
  return false;
}

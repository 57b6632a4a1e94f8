/**
 * Linux cooked capture v1 (link type 113, `tcpdump -i any`): 16-byte header, protocol (ethertype) at +14.
 *   +0 u16 packet type, +2 u16 ARPHRD type, +4 u16 address length, +6 u8[8] address, +14 u16 protocol
 */
import { be16 } from '../bytes';
import { countEvent } from '../events';
import { EV_DECODER_SLL_TOO_SMALL, EV_DECODER_NON_IP } from '../generated/events';
import { decodeEthertype } from './ethernet';

export const SLL_HEADER_BYTES: u32 = 16;
/** ARPHRD_NETLINK: the protocol field is a netlink family, not an ethertype. */
export const ARPHRD_NETLINK: u32 = 824;

export function decodeSll(p: usize, len: u32): bool {
  if (len < SLL_HEADER_BYTES) {
    countEvent(EV_DECODER_SLL_TOO_SMALL);
    return false;
  }
  if (be16(p + 2) == ARPHRD_NETLINK) {
    countEvent(EV_DECODER_NON_IP);
    return false;
  }
  return decodeEthertype(p + SLL_HEADER_BYTES, len - SLL_HEADER_BYTES, be16(p + 14));
}

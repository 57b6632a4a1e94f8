/**
 * Linux cooked capture v2 (link type 276): 20-byte header, protocol (ethertype) first.
 *   +0 u16 protocol, +2 u16 reserved, +4 u32 interface index, +8 u16 ARPHRD type, +10 u8 packet type,
 *   +11 u8 address length, +12 u8[8] address
 */
import { be16 } from '../bytes';
import { countEvent } from '../events';
import { EV_DECODER_SLL2_TOO_SMALL, EV_DECODER_NON_IP } from '../generated/events';
import { decodeEthertype } from './ethernet';
import { ARPHRD_NETLINK } from './sll';

export const SLL2_HEADER_BYTES: u32 = 20;

export function decodeSll2(p: usize, len: u32): bool {
  if (len < SLL2_HEADER_BYTES) {
    countEvent(EV_DECODER_SLL2_TOO_SMALL);
    return false;
  }
  if (be16(p + 8) == ARPHRD_NETLINK) {
    countEvent(EV_DECODER_NON_IP);
    return false;
  }
  return decodeEthertype(p + SLL2_HEADER_BYTES, len - SLL2_HEADER_BYTES, be16(p));
}

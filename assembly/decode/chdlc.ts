/**
 * Cisco HDLC (link type 104): address (0x0F unicast, 0x8F broadcast), control (0), then an ethertype.
 */
import { be16 } from '../bytes';
import { countEvent } from '../events';
import { EV_DECODER_CHDLC_TOO_SMALL } from '../generated/events';
import { decodeEthertype } from './ethernet';

export const CHDLC_HEADER_BYTES: u32 = 4;

export function decodeChdlc(p: usize, len: u32): bool {
  if (len < CHDLC_HEADER_BYTES) {
    countEvent(EV_DECODER_CHDLC_TOO_SMALL);
    return false;
  }
  return decodeEthertype(p + CHDLC_HEADER_BYTES, len - CHDLC_HEADER_BYTES, be16(p + 2));
}

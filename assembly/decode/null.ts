/**
 * BSD loopback (link type 0, DLT_NULL) and OpenBSD loopback (108, DLT_LOOP): a 4-byte address family, in the
 * capturing host's byte order for 0 and network order for 108. Families are small numbers, so whichever
 * order leaves the value below 2^16 is the right one.
 *   AF_INET = 2 everywhere; AF_INET6 = 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS/iOS).
 */
import { le32, swap32 } from '../bytes';
import { countEvent } from '../events';
import { EV_DECODER_NULL_TOO_SMALL, EV_DECODER_NULL_UNSUPPORTED_FAMILY } from '../generated/events';
import { decodeIpv4 } from './ipv4';
import { decodeIpv6 } from './ipv6';

export const NULL_HEADER_BYTES: u32 = 4;

export function decodeNull(p: usize, len: u32): bool {
  if (len < NULL_HEADER_BYTES) {
    countEvent(EV_DECODER_NULL_TOO_SMALL);
    return false;
  }
  let family = le32(p);
  if (family > 0xffff) family = swap32(family);
  if (family == 2) return decodeIpv4(p + NULL_HEADER_BYTES, len - NULL_HEADER_BYTES);
  if (family == 24 || family == 28 || family == 30) return decodeIpv6(p + NULL_HEADER_BYTES, len - NULL_HEADER_BYTES);
  countEvent(EV_DECODER_NULL_UNSUPPORTED_FAMILY);
  return false;
}

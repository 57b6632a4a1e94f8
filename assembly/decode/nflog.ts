/**
 * Linux NFLOG (link type 239, `tcpdump -i nflog:N`): a 4-byte header (address family, version, resource id)
 * then TLVs whose length and type are in the capturing host's byte order (little-endian in practice; a
 * big-endian host is recognised because its lengths would not fit). The packet is the NFULA_PAYLOAD (9) TLV.
 * At most MAX_NFLOG_TLVS are walked.
 */
import { u8at, le32 } from '../bytes';
import { countEvent } from '../events';
import { EV_DECODER_NFLOG_INVALID, EV_DECODER_NON_IP } from '../generated/events';
import { decodeIpv4 } from './ipv4';
import { decodeIpv6 } from './ipv6';

export const NFLOG_HEADER_BYTES: u32 = 4;
export const NFULA_PAYLOAD: u32 = 9;
export const MAX_NFLOG_TLVS: u32 = 32;
const AF_INET: u32 = 2;
const AF_INET6: u32 = 10;

export function decodeNflog(p: usize, len: u32): bool {
  if (len < NFLOG_HEADER_BYTES + 4) {
    countEvent(EV_DECODER_NFLOG_INVALID);
    return false;
  }
  const family = u8at(p);
  let off = NFLOG_HEADER_BYTES;
  // Byte order from the first TLV: a little-endian length is ≥ 4 and fits; otherwise read big-endian.
  const first = le32(p + off);
  const firstLe = first & 0xffff;
  const bigEndian = firstLe < 4 || firstLe > len - off;
  for (let n: u32 = 0; n < MAX_NFLOG_TLVS && off + 4 <= len; n++) {
    const word = le32(p + off);
    const tlvLen = bigEndian ? ((word & 0xff) << 8) | ((word >> 8) & 0xff) : word & 0xffff;
    const tlvType = (bigEndian ? ((word >> 16) & 0xff) << 8 | (word >> 24) : word >> 16) & 0x7fff; // top bit: nested
    if (tlvLen < 4 || tlvLen > len - off) break;
    if (tlvType == NFULA_PAYLOAD) {
      const payload = p + off + 4;
      const plen = tlvLen - 4;
      if (family == AF_INET) return decodeIpv4(payload, plen);
      if (family == AF_INET6) return decodeIpv6(payload, plen);
      countEvent(EV_DECODER_NON_IP);
      return false;
    }
    off += (tlvLen + 3) & ~(<u32>3);
  }
  countEvent(EV_DECODER_NFLOG_INVALID);
  return false;
}

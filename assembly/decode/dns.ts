/**
 * DNS over UDP (RFC 1035) — the header and the first question only, the fields tunnels and DGA traffic give
 * away: QR, rcode, answer count, qtype, and the query name's shape (dotted length, label count, longest label,
 * Shannon entropy in bits per character of the lower-cased dotted name, dots included).
 * Never trusts the message: every label is bounds-checked, compression pointers (not expected in a question,
 * but legal) are followed at most MAX_POINTER_JUMPS times, names are capped at 255 bytes. A malformed header
 * leaves pktIsDns false; a malformed name leaves the header fields and zero name fields. Either way the UDP
 * packet itself still counts for its flow.
 */
import { be16, u8at } from '../bytes';
import { countEvent } from '../events';
import { EV_DECODER_DNS_MALFORMED } from '../generated/events';
import {
  pktIsDns, pktDnsQr, pktDnsQtype, pktDnsRcode, pktDnsAncount, pktDnsQnameLen, pktDnsQnameLabels,
  pktDnsQnameMaxLabel, pktDnsQnameEntropy,
} from './packet';

export const DNS_HEADER_BYTES: u32 = 12;
export const MAX_NAME_BYTES: u32 = 255;
export const MAX_POINTER_JUMPS: u32 = 16;

/** Character histogram of the current name (u16 per byte value) and the list of byte values seen. */
const counts: usize = memory.data(256 * 2);
const seen: usize = memory.data(256);
/** c·log2(c) for c = 0..255 (names are ≤ 255 characters): entropy without a logarithm per packet. */
const cLog2c: usize = memory.data(256 * 8);
for (let c = 1; c < 256; c++) store<f64>(cLog2c + (<usize>c << 3), <f64>c * Math.log2(<f64>c));

// @ts-ignore: decorator
@inline function xlog2x(c: u32): f64 {
  return load<f64>(cLog2c + (<usize>c << 3));
}

export function decodeDns(p: usize, len: u32): void {
  pktDnsQtype = 0;
  pktDnsQnameLen = 0;
  pktDnsQnameLabels = 0;
  pktDnsQnameMaxLabel = 0;
  pktDnsQnameEntropy = 0;
  if (len < DNS_HEADER_BYTES) {
    countEvent(EV_DECODER_DNS_MALFORMED);
    return;
  }
  const flags = be16(p + 2);
  pktIsDns = true;
  pktDnsQr = <u8>(flags >> 15);
  pktDnsRcode = <u8>(flags & 0x0f);
  pktDnsAncount = <u16>be16(p + 6);
  if (be16(p + 4) == 0) return; // no question (e.g. some NOTIFY/UPDATE replies)
  if (!readQuestion(p, len)) countEvent(EV_DECODER_DNS_MALFORMED);
}

function readQuestion(p: usize, len: u32): bool {
  let pos: u32 = DNS_HEADER_BYTES;
  let after: u32 = 0; // offset just past the name in the question itself (before any pointer)
  let jumps: u32 = 0;
  let nameLen: u32 = 0; // label bytes + dots
  let labels: u32 = 0;
  let maxLabel: u32 = 0;
  let distinct: u32 = 0;
  let ok = false;
  while (true) {
    if (pos >= len) break;
    const l = u8at(p + pos);
    if (l == 0) {
      if (jumps == 0) after = pos + 1;
      ok = true;
      break;
    }
    if ((l & 0xc0) == 0xc0) {
      if (pos + 1 >= len || ++jumps > MAX_POINTER_JUMPS) break;
      if (jumps == 1) after = pos + 2;
      pos = ((l & 0x3f) << 8) | u8at(p + pos + 1);
      continue;
    }
    if ((l & 0xc0) != 0) break; // extended / reserved label types
    if (pos + 1 + l > len) break;
    if (labels > 0) distinct = countChar(0x2e, distinct); // the dot between labels
    nameLen += (labels > 0 ? 1 : 0) + l;
    if (nameLen > MAX_NAME_BYTES) break;
    labels++;
    if (l > maxLabel) maxLabel = l;
    const start = p + pos + 1;
    for (let i: u32 = 0; i < l; i++) {
      let c = u8at(start + i);
      if (c - 0x41 < 26) c |= 0x20; // ASCII upper → lower: resolvers randomise case (0x20 encoding)
      distinct = countChar(c, distinct);
    }
    pos += 1 + l;
  }
  const entropy = entropyAndReset(distinct, ok ? nameLen : 0); // always clears; n ≤ 255 keeps the table in range
  if (!ok) return false;
  pktDnsQnameLen = nameLen;
  pktDnsQnameLabels = labels;
  pktDnsQnameMaxLabel = maxLabel;
  pktDnsQnameEntropy = entropy;
  if (after + 4 > len) return false; // qtype/qclass cut off
  pktDnsQtype = <u16>be16(p + after);
  return true;
}

// @ts-ignore: decorator
@inline function countChar(c: u32, distinct: u32): u32 {
  const slot = counts + (<usize>c << 1);
  const n = load<u16>(slot);
  if (n == 0) {
    store<u8>(seen + <usize>distinct, <u8>c);
    distinct++;
  }
  store<u16>(slot, n + 1);
  return distinct;
}

/** H = log2(n) − Σ c·log2(c) / n over the distinct characters; clears the histogram for the next name. */
function entropyAndReset(distinct: u32, n: u32): f32 {
  let sum: f64 = 0;
  for (let i: u32 = 0; i < distinct; i++) {
    const slot = counts + (<usize>load<u8>(seen + <usize>i) << 1);
    sum += xlog2x(<u32>load<u16>(slot));
    store<u16>(slot, 0);
  }
  if (n == 0) return 0;
  const fn = <f64>n;
  const h = xlog2x(n) / fn - sum / fn; // log2(n) = n·log2(n) / n
  return h > 0 ? <f32>h : 0;
}

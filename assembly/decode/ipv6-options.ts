/**
 * IPv6 hop-by-hop and destination options (RFC 8200 4.2): whether a header's options carry data under a type IANA
 * never assigned. Nodes skip unknown options whose action bits say so, which is what makes them a covert channel
 * (THC's covert_send6 hides a file in them); a conforming sender only sends assigned types, so data there is
 * somebody's own protocol. Suricata raises a decoder event for the same thing (ipv6.dstopts_unknown_opt), with a
 * shorter list of known types. The walk is bounded by the header: a malformed option list ends it.
 */
import { u8at } from '../bytes';

/**
 * Option types with an assignment (IANA "Destination Options and Hop-by-Hop Options", full 8-bit values with the
 * action and change bits), experimental ones included (RFC 3692: 0x1E, 0x3E, … 0xFE).
 */
// @ts-ignore: decorator
@inline function assigned(t: u32): bool {
  if ((t & 0x1f) == 0x1e) return true; // RFC 3692-style experiments
  switch (t) {
    case 0x00: case 0x01: // Pad1, PadN
    case 0xc2: case 0x63: case 0x23: case 0x04: case 0x05: // Jumbo, RPL (and its old type), tunnel limit, router alert
    case 0x26: case 0x07: case 0x08: case 0xc9: case 0x8a: // Quick-Start, CALIPSO, SMF_DPD, home address, endpoint id
    case 0x8b: case 0x8c: case 0x4d: case 0x6d: case 0xee: // ILNP nonce, line id, deprecated, MPL, IP_DFF
    case 0x0f: case 0x30: case 0x11: case 0x31: case 0x12: // PDM, minimum path MTU, IOAM (both), AltMark
      return true;
  }
  return false;
}

/** The options of the header at p (hdrLen bytes: next header, length, then options): any unassigned type with data? */
export function hidesData(p: usize, hdrLen: u32): bool {
  let off: u32 = 2;
  while (off < hdrLen) {
    const t = <u32>u8at(p + off);
    if (t == 0) { off++; continue; } // Pad1: a single byte
    if (off + 2 > hdrLen) return false;
    const len = <u32>u8at(p + off + 1);
    if (off + 2 + len > hdrLen) return false; // runs past its header: malformed, not a channel we can read
    if (len > 0 && !assigned(t)) return true;
    off += 2 + len;
  }
  return false;
}

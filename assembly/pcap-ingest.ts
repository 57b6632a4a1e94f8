/**
 * Classic pcap records → ring records, inside the core: JS copies a whole chunk of a pcap file into the stage
 * (one copy per chunk instead of a header write and a copy per packet) and ingestPcap() splits it into ring
 * records (assembly/ring.ts) with the same timestamp arithmetic as the JS reader (core/capture/pcap.ts):
 * seconds × 1000 + fraction × 1e-3 (µs) or 1e-6 (ns), in f64.
 *
 * It stops, leaving the record to the JS reader, at the first record that is not complete in the stage
 * (cut off by the chunk, bigger than the stage, or a corrupt header) or whose ring record does not fit in the
 * ring from `ringOff`; ingestStageEnd() is where it stopped, ingestRingEnd() the ring offset after the last
 * record written and ingestBytes() the captured bytes taken.
 */
import { ring, ringCap, stage, stageCap } from './ring-buffer';
import { RecordHeader, RECORD_HEADER_BYTES } from './generated/abi';

/** ingestPcap() flags. */
export const PCAP_BIG_ENDIAN: i32 = 1;
export const PCAP_NANOS: i32 = 2;
const PCAP_RECORD_HEADER: u32 = 16;

let stageEnd: u32 = 0;
let ringEnd: u32 = 0;
let bytesTaken: u32 = 0;

// @ts-ignore: decorator
@inline function field(p: usize, swap: bool): u32 {
  const v = load<u32>(p);
  return swap ? bswap<u32>(v) : v;
}

/** Appends the complete pcap records of stage[0, stageLen) to the ring from `ringOff`; returns how many. */
export function ingestPcap(stageLen: i32, ringOff: i32, flags: i32, linktype: i32): i32 {
  const swap = (flags & PCAP_BIG_ENDIAN) != 0;
  const fracToMs: f64 = (flags & PCAP_NANOS) != 0 ? 1e-6 : 1e-3;
  const len = min(<u32>max(stageLen, 0), stageCap);
  let pos: u32 = 0;
  let off = <u32>max(ringOff, 0) & ~(<u32>7);
  let n: i32 = 0;
  let taken: u32 = 0;
  while (len - pos >= PCAP_RECORD_HEADER) {
    const src = stage + <usize>pos;
    const caplen = field(src + 8, swap);
    if (caplen > len - pos - PCAP_RECORD_HEADER) break;
    const padded = (caplen + 7) & ~(<u32>7);
    if (off > ringCap || ringCap - off < <u32>RECORD_HEADER_BYTES + padded) break;
    const rec = ring + <usize>off;
    const h = changetype<RecordHeader>(rec);
    h.ts_ms = <f64>field(src, swap) * 1000 + <f64>field(src + 4, swap) * fracToMs;
    h.caplen = caplen;
    h.wirelen = field(src + 12, swap);
    h.linktype = <u16>linktype;
    h.reserved16 = 0;
    h.reserved32 = 0;
    const data = rec + <usize>RECORD_HEADER_BYTES;
    if (padded != 0) store<u64>(data + <usize>padded - 8, 0); // the pad is zero: clear the last word, then copy
    memory.copy(data, src + <usize>PCAP_RECORD_HEADER, <usize>caplen);
    pos += PCAP_RECORD_HEADER + caplen;
    off += <u32>RECORD_HEADER_BYTES + padded;
    taken += caplen;
    n++;
  }
  stageEnd = pos;
  ringEnd = off;
  bytesTaken = taken;
  return n;
}

export function ingestStageEnd(): i32 { return <i32>stageEnd; }
export function ingestRingEnd(): i32 { return <i32>ringEnd; }
export function ingestBytes(): i32 { return <i32>bytesTaken; }

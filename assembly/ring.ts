/**
 * The packet loop over the ring (assembly/ring-buffer.ts; records: a RecordHeader of core/abi.ts, then the
 * packet). JS writes `count` records from a byte offset, calls process() once, and learns how far the core got
 * from its return value and lastOffset().
 *
 * Every record header is validated against the ring before its bytes are touched: a record whose header or
 * caplen runs past the ring (or an offset that is misaligned or outside it) means the batch cannot be walked
 * any further. That is counted once as `decoder.ring.record_invalid`, and the bad record and the rest of the
 * batch are dropped: process() returns `count` (nothing left to retry) and lastOffset() stays at the bad
 * record, so a host can never loop on it.
 *
 * Records are handled in groups: before a group is processed, prefetchGroup() (assembly/flow/prefetch.ts) loads
 * the flow-table and host lines its packets will need, so their cache misses overlap instead of queueing one
 * packet after another. It only reads; the results are the same with or without it.
 */
import { ring, ringCap } from './ring-buffer';
import { flowPacket, outFree } from './flow/engine';
import { prefetchGroup } from './flow/prefetch';
import { decodePacket } from './decode/link';
import { pktWirelen } from './decode/packet';
import { countEvent, addStat } from './events';
import { EV_DECODER_RING_RECORD_INVALID } from './generated/events';
import { RecordHeader, STAT_PACKETS, STAT_BYTES, STAT_IP_PACKETS, RECORD_HEADER_BYTES } from './generated/abi';

/** process() stops while fewer output rows than this are free (one packet may finish a few flows). */
export const MIN_OUT_FREE: i32 = 3;

let last: i32 = 0;

export function lastOffset(): i32 { return last; }

export function process(byteOffset: i32, count: i32): i32 {
  last = byteOffset;
  let n: i32 = 0;
  let off = <u32>byteOffset;
  let packets: u64 = 0;
  let bytes: u64 = 0;
  let ipPackets: u64 = 0;
  let hinted = 0; // records [n, hinted) have had their flow state prefetched
  while (n < count && outFree() >= MIN_OUT_FREE) {
    if (n >= hinted) hinted = n + max(1, prefetchGroup(ring, ringCap, off, count - n));
    // Header inside the ring, 8-aligned (u32 arithmetic: a negative offset is huge and fails too).
    if ((off & 7) != 0 || off > ringCap || ringCap - off < <u32>RECORD_HEADER_BYTES) {
      countEvent(EV_DECODER_RING_RECORD_INVALID);
      n = count;
      break;
    }
    const rec = ring + <usize>off;
    const header = changetype<RecordHeader>(rec);
    const caplen = header.caplen;
    const room = ringCap - off - <u32>RECORD_HEADER_BYTES;
    if (caplen > room) {
      countEvent(EV_DECODER_RING_RECORD_INVALID);
      n = count;
      break;
    }
    pktWirelen = header.wirelen;
    packets++;
    bytes += caplen;
    if (decodePacket(rec + <usize>RECORD_HEADER_BYTES, caplen, <u32>header.linktype, header.ts_ms)) {
      ipPackets++;
      flowPacket();
    }
    // caplen ≤ room < 2^32 − 24, so the padded size cannot wrap; a record may end exactly at the ring's end.
    const padded = (caplen + 7) & ~(<u32>7);
    off += <u32>RECORD_HEADER_BYTES + (padded < room ? padded : room);
    last = <i32>off;
    n++;
  }
  addStat(STAT_PACKETS, packets);
  addStat(STAT_BYTES, bytes);
  addStat(STAT_IP_PACKETS, ipPackets);
  return n;
}

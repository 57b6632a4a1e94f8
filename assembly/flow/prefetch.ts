/**
 * Group prefetching for the packet loop (assembly/ring.ts). With 100k+ live flows almost every packet's index
 * bucket and flow slot are cache (and TLB) misses, and the loop takes them one after the other: the index
 * bucket (whose content says which slot), then the slot. WebAssembly has no prefetch instruction, but plain
 * loads whose results nobody waits for do the same job when many of them are issued together: before a group
 * of GROUP packets is processed, their flow hashes are computed from the raw bytes (peekFlowHash, a minimal
 * parse of the common shapes), then all their index buckets are loaded in one sweep (GROUP misses in flight at
 * once instead of one), then all their slots, then their hosts' slots. The real processing then finds those
 * lines in cache.
 *
 * Hints only: nothing here writes anything the engine reads, so a packet the peek cannot parse, a wrong
 * guess or a stale slot costs a wasted load, never a different result. The loads feed one static word
 * (`sink`) so no optimiser may drop them.
 */
import { flowHashOf } from './key';
import { indexBucket, slotForHint, touchHead, touchDirection, slotHosts } from './table';
import { touchHost } from '../features/hosts';
import { RECORD_HEADER_BYTES } from '../index';

/** Packets hinted together: enough misses in flight to hide most of the latency, few enough to stay in L1/L2. */
export const GROUP: i32 = 16;

const hashes: usize = memory.data(GROUP * 4);
const tags: usize = memory.data(GROUP * 8);
const buckets: usize = memory.data(GROUP * 8);
const found: usize = memory.data(GROUP * 4);
const sink: usize = memory.data(8);

let peekOk: bool = false;
/** Source port << 32 | last 4 bytes of the source address, of the packet peekFlowHash() just read. */
let peekTag: u64 = 0;

/** IPv4 address at p as the high half of its ::ffff:a.b.c.d form (low half 0, see bytes.ts storeV4Mapped). */
// @ts-ignore: decorator
@inline function v4High(p: usize): u64 {
  return (<u64>load<u32>(p) << 32) | 0xffff0000;
}

/** Flow hash of a TCP/UDP packet over Ethernet (≤ 2 VLAN tags) or raw IP, without side effects; peekOk = false
 *  for anything else (fragments, extension headers, other link types): those packets are just not hinted. */
function peekFlowHash(p: usize, caplen: u32, linktype: u32): u32 {
  peekOk = false;
  let vlan: u32 = 0;
  let type: u32 = 0;
  if (linktype == 1) {
    if (caplen < 14) return 0;
    type = <u32>bswap<u16>(load<u16>(p, 12));
    p += 14;
    caplen -= 14;
    for (let k = 0; k < 2 && (type == 0x8100 || type == 0x88a8 || type == 0x9100); k++) {
      if (caplen < 4) return 0;
      vlan = <u32>bswap<u16>(load<u16>(p)) & 0x0fff;
      type = <u32>bswap<u16>(load<u16>(p, 2));
      p += 4;
      caplen -= 4;
    }
  } else if (linktype == 101 || linktype == 228 || linktype == 229) {
    if (caplen < 1) return 0;
    type = (<u32>load<u8>(p) >> 4) == 6 ? 0x86dd : 0x0800;
  } else {
    return 0;
  }
  if (type == 0x0800) {
    if (caplen < 20) return 0;
    const hlen = (<u32>load<u8>(p) & 0x0f) << 2;
    const proto = <u32>load<u8>(p, 9);
    if (hlen < 20 || caplen < hlen + 4 || (proto != 6 && proto != 17)) return 0;
    if ((<u32>bswap<u16>(load<u16>(p, 6)) & 0x3fff) != 0) return 0; // fragment
    const t = p + hlen;
    peekOk = true;
    peekTag = <u64>bswap<u16>(load<u16>(t)) << 32 | <u64>load<u32>(p, 12);
    return flowHashOf(0, v4High(p + 12), <u32>bswap<u16>(load<u16>(t)), 0, v4High(p + 16), <u32>bswap<u16>(load<u16>(t, 2)), proto, vlan);
  }
  if (type == 0x86dd) {
    if (caplen < 44) return 0;
    const proto = <u32>load<u8>(p, 6);
    if (proto != 6 && proto != 17) return 0;
    peekOk = true;
    peekTag = <u64>bswap<u16>(load<u16>(p, 40)) << 32 | <u64>load<u32>(p, 20);
    return flowHashOf(load<u64>(p, 8), load<u64>(p, 16), <u32>bswap<u16>(load<u16>(p, 40)),
      load<u64>(p, 24), load<u64>(p, 32), <u32>bswap<u16>(load<u16>(p, 42)), proto, vlan);
  }
  return 0;
}

/**
 * Hints up to GROUP records of the ring from byte offset `off` (at most `count`); returns how many records it
 * walked. Stops quietly at a record whose header does not fit the ring: process() counts that one itself.
 */
export function prefetchGroup(ring: usize, ringCap: u32, off: u32, count: i32): i32 {
  let n = 0;
  let hinted = 0;
  // 1. hashes from the raw packets (the ring is read sequentially: those lines stream in)
  while (n < count && n < GROUP) {
    if ((off & 7) != 0 || off > ringCap || ringCap - off < <u32>RECORD_HEADER_BYTES) break;
    const rec = ring + <usize>off;
    const caplen = load<u32>(rec, 8);
    const room = ringCap - off - <u32>RECORD_HEADER_BYTES;
    if (caplen > room) break;
    const h = peekFlowHash(rec + <usize>RECORD_HEADER_BYTES, caplen, <u32>load<u16>(rec, 16));
    if (peekOk) {
      store<u32>(hashes + (<usize>hinted << 2), h);
      store<u64>(tags + (<usize>hinted << 3), peekTag);
      hinted++;
    }
    const padded = (caplen + 7) & ~(<u32>7);
    off += <u32>RECORD_HEADER_BYTES + (padded < room ? padded : room);
    n++;
  }
  // 2. every index bucket: independent loads, their misses overlap
  for (let k = 0; k < hinted; k++) store<u64>(buckets + (<usize>k << 3), indexBucket(load<u32>(hashes + (<usize>k << 2))));
  // 3. the head of every slot the buckets point at (a short probe run when the first bucket holds another hash)
  let acc: u64 = 0;
  for (let k = 0; k < hinted; k++) {
    const i = slotForHint(load<u32>(hashes + (<usize>k << 2)), load<u64>(buckets + (<usize>k << 3)));
    store<i32>(found + (<usize>k << 2), i);
    if (i >= 0) acc += touchHead(i);
  }
  // 4. from the heads: the direction block each packet will update, and the two hosts' hot lines
  for (let k = 0; k < hinted; k++) {
    const i = load<i32>(found + (<usize>k << 2));
    if (i < 0) continue;
    acc += touchDirection(i, load<u64>(tags + (<usize>k << 3)));
    const hosts = slotHosts(i);
    acc += touchHost(<i32>hosts) + touchHost(<i32>(hosts >> 32));
  }
  store<u64>(sink, load<u64>(sink) ^ acc);
  return n;
}

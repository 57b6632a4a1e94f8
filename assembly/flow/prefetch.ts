/**
 * Group prefetching for the packet loop (assembly/ring.ts). With 100k+ live flows almost every packet's index
 * bucket, flow slot and hosts are cache (and TLB) misses, and the loop would take them one after the other: the
 * index bucket (whose content says which slot), then the slot (which says which hosts), then the hosts.
 * WebAssembly has no prefetch instruction, but plain loads whose results nobody waits for do the same job when
 * many are issued together: before a group of GROUP packets is processed, their flow hashes are computed from the
 * raw bytes (peekFlowHash, a minimal parse of the common shapes), then all their index buckets are loaded in one
 * sweep (GROUP misses in flight at once instead of one at a time), then the slot heads, then each packet's
 * direction block and hosts. Flows about to start or end get their own hints: for a packet with no flow yet,
 * the host-index buckets, host records and pair-memory sets create() will use; for the oldest flow of every
 * timeout class (the next to expire), its whole slot, hosts, list neighbours and index bucket.
 * The real processing then finds those lines in cache.
 *
 * Hints only: nothing here writes anything the engine reads, so a packet the peek cannot parse, a wrong guess
 * or a stale slot costs a wasted load, never a different result. The loads feed one static word (`sink`) so
 * no optimiser may drop them.
 */
import { addrWordsHash, flowHashOf } from './key';
import {
  indexBucket, slotForHint, touchHead, forwardHint, touchDirection, touchSlotAll, touchRemoval, touchLinks, slotHosts, flowAt,
  listTail, NUM_CLASSES, CLS_UNANSWERED,
} from './table';
import { touchHost, touchReceiver, touchHostCold, hostBucket, hostForHint } from '../features/hosts';
import { hostPairKeyOf, portPairKey, touchPair } from '../features/pairs';
import { snapshotDueHint, touchSnapshot } from '../features/host-snapshot';
import { RecordHeader, RECORD_HEADER_BYTES } from '../generated/abi';

/** Packets hinted together: many misses in flight per sweep; their lines (≈ 7 each) still fit in L1. 32 measured
 *  a little faster than 16 and clearly faster than 8 on the flow benchmark's capture (bench/core-micro.ts). */
export const GROUP: i32 = 32;

// Per hinted packet (struct of arrays, static).
const hashes: usize = memory.data(GROUP * 4); // flow hash
const tags: usize = memory.data(GROUP * 8); // source port << 32 | last 4 bytes of the source address
const srcHashes: usize = memory.data(GROUP * 8); // addrHash of the source address
const dstHashes: usize = memory.data(GROUP * 8); // addrHash of the destination address
const ports: usize = memory.data(GROUP * 4); // destination port << 8 | protocol
const tcpFlags: usize = memory.data(GROUP);
const times: usize = memory.data(GROUP * 8); // packet timestamp (ms)
const buckets: usize = memory.data(GROUP * 8); // first flow-index bucket of the packet's hash
const found: usize = memory.data(GROUP * 4); // flow slot, or -1: a new flow
const tailSlots: usize = memory.data(NUM_CLASSES * 4);
const sink: usize = memory.data(8);

let peekOk: bool = false;
let peekTag: u64 = 0;
let peekSrcHash: u64 = 0;
let peekDstHash: u64 = 0;
let peekPorts: u32 = 0;
let peekFlags: u8 = 0;

/** IPv4 address at p as the high half of its ::ffff:a.b.c.d form (low half 0, see bytes.ts storeV4Mapped). */
// @ts-ignore: decorator
@inline function v4High(p: usize): u64 {
  return (<u64>load<u32>(p) << 32) | 0xffff0000;
}

/** Records what the later stages need of a peeked packet whose transport header starts at t; its flow hash. */
// @ts-ignore: decorator
@inline function peeked(srcHash: u64, dstHash: u64, t: usize, proto: u32, vlan: u32, srcTail: u32, l4len: u32): u32 {
  const sport = <u32>bswap<u16>(load<u16>(t));
  const dport = <u32>bswap<u16>(load<u16>(t, 2));
  peekOk = true;
  peekTag = <u64>sport << 32 | <u64>srcTail;
  peekSrcHash = srcHash;
  peekDstHash = dstHash;
  peekPorts = dport << 8 | proto;
  peekFlags = proto == 6 && l4len >= 14 ? load<u8>(t, 13) : 0;
  return flowHashOf(srcHash, sport, dstHash, dport, proto, vlan);
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
    return peeked(addrWordsHash(0, v4High(p + 12)), addrWordsHash(0, v4High(p + 16)), t, proto, vlan, load<u32>(p, 12), caplen - hlen);
  }
  if (type == 0x86dd) {
    if (caplen < 44) return 0;
    const proto = <u32>load<u8>(p, 6);
    if (proto != 6 && proto != 17) return 0;
    return peeked(addrWordsHash(load<u64>(p, 8), load<u64>(p, 16)), addrWordsHash(load<u64>(p, 24), load<u64>(p, 32)), p + 40,
      proto, vlan, load<u32>(p, 20), caplen - 40);
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
    const header = changetype<RecordHeader>(rec);
    const caplen = header.caplen;
    const room = ringCap - off - <u32>RECORD_HEADER_BYTES;
    if (caplen > room) break;
    const h = peekFlowHash(rec + <usize>RECORD_HEADER_BYTES, caplen, <u32>header.linktype);
    if (peekOk) {
      store<u32>(hashes + (<usize>hinted << 2), h);
      store<u64>(tags + (<usize>hinted << 3), peekTag);
      store<u64>(srcHashes + (<usize>hinted << 3), peekSrcHash);
      store<u64>(dstHashes + (<usize>hinted << 3), peekDstHash);
      store<u32>(ports + (<usize>hinted << 2), peekPorts);
      store<u8>(tcpFlags + <usize>hinted, peekFlags);
      store<f64>(times + (<usize>hinted << 3), header.ts_ms);
      hinted++;
    }
    const padded = (caplen + 7) & ~(<u32>7);
    off += <u32>RECORD_HEADER_BYTES + (padded < room ? padded : room);
    n++;
  }
  // 2. every index bucket, and the oldest flow of each timeout class: independent loads, their misses overlap
  let acc: u64 = 0;
  for (let k = 0; k < hinted; k++) store<u64>(buckets + (<usize>k << 3), indexBucket(load<u32>(hashes + (<usize>k << 2))));
  for (let c = 0; c < NUM_CLASSES; c++) {
    const t = listTail(c);
    store<i32>(tailSlots + (<usize>c << 2), t);
    if (t >= 0) acc += touchSlotAll(t);
  }
  // 3. the head of every slot the buckets point at (a short probe run when the first bucket holds another hash);
  //    for a packet without a flow, what create() will look up: both host-index buckets and the pair sets
  for (let k = 0; k < hinted; k++) {
    const i = slotForHint(load<u32>(hashes + (<usize>k << 2)), load<u64>(buckets + (<usize>k << 3)));
    store<i32>(found + (<usize>k << 2), i);
    if (i >= 0) {
      acc += touchHead(i);
    } else {
      const sh = load<u64>(srcHashes + (<usize>k << 3));
      const dh = load<u64>(dstHashes + (<usize>k << 3));
      const pp = load<u32>(ports + (<usize>k << 2));
      const pair = hostPairKeyOf(sh, dh);
      acc += touchPair(pair) + touchPair(portPairKey(pair, pp >> 8, pp & 0xff));
      acc += hostBucket(<u32>sh) + hostBucket(<u32>dh);
    }
  }
  // 4. from the heads: the direction block each packet will update, the two hosts' hot lines, the list
  //    neighbours when the packet may move its flow to another class list; for new flows, the host records;
  //    for the flows next to expire, their hosts (all three lines of each), their snapshot line (the row reads it) and
//    what removal writes; for a flow whose host-window snapshot is due, both hosts whole and its snapshot line
  for (let k = 0; k < hinted; k++) {
    const i = load<i32>(found + (<usize>k << 2));
    if (i >= 0) {
      const forward = forwardHint(i, load<u64>(tags + (<usize>k << 3)));
      acc += touchDirection(i, forward);
      const hosts = slotHosts(i);
      const src = <i32>hosts;
      const dst = <i32>(hosts >> 32);
      acc += forward ? touchHost(src) + touchReceiver(dst) : touchHost(dst) + touchReceiver(src);
      // a host-window snapshot reads both hosts whole and writes the flow's snapshot line
      if (snapshotDueHint(flowAt(i), load<f64>(times + (<usize>k << 3)))) {
        acc += touchHost(src) + touchHost(dst) + touchHostCold(src) + touchHostCold(dst) + touchSnapshot(i);
      }
      if (flowAt(i).cls == CLS_UNANSWERED || (load<u8>(tcpFlags + <usize>k) & 0x05) != 0) acc += touchLinks(i); // FIN, RST
    } else {
      const sh = <u32>load<u64>(srcHashes + (<usize>k << 3));
      const dh = <u32>load<u64>(dstHashes + (<usize>k << 3));
      const s = hostForHint(sh, hostBucket(sh));
      const d = hostForHint(dh, hostBucket(dh));
      acc += touchHost(s) + touchHostCold(s) + touchHost(d) + touchHostCold(d);
    }
  }
  for (let c = 0; c < NUM_CLASSES; c++) {
    const t = load<i32>(tailSlots + (<usize>c << 2));
    if (t < 0) continue;
    const hosts = slotHosts(t);
    acc += touchHost(<i32>hosts) + touchHostCold(<i32>hosts) + touchHost(<i32>(hosts >> 32)) + touchHostCold(<i32>(hosts >> 32));
    acc += touchRemoval(t) + touchSnapshot(t);
  }
  store<u64>(sink, load<u64>(sink) ^ acc);
  return n;
}

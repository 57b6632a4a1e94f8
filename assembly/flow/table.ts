/**
 * The flow table: a pool of fixed-size slots (capacity set once by init) found through an open-addressing
 * index (linear probing, ≤ 50 % load, backward-shift deletion so lookups never wade through tombstones).
 * Index entries are u64: hash in the high half, slot index + 1 in the low half (0 = empty), so a probe
 * compares keys only when the hashes agree and deletion knows every entry's home bucket without rehashing.
 *
 * Every live flow is also on exactly one doubly linked list (slot indices, not pointers) per timeout class,
 * most recently (re)queued at the head. All flows of a class share one timeout, so each list is ordered by
 * expiry time too: expiry walks from the tail and stops at the first flow still alive (NFStream's idea, per
 * protocol and state). A packet moves its flow to the head only when the flow's last-seen time has drifted
 * more than a slack (1/32 of the timeout) past its queue time: relinking touches two random neighbours in
 * memory, and skipping it for most packets of busy flows is what keeps the per-packet cost flat. The price is
 * bounded: a flow can end at most that slack after its exact timeout (its row still says when it was last seen).
 */
import { Flow, FLOW_SLOT_BYTES, HEAD_BYTES, OFF_S2D, OFF_D2S, DIR_BLOCK_BYTES } from './flow';
import { addrEq } from './key';
import { indexDelete, indexFind, indexInsert, indexSlotsFor, probeHint } from './probe';
import { pktSrc, pktDst, pktSrcPort, pktDstPort, pktProtocol, pktVlanId } from '../decode/packet';

export const CLS_CLOSED: u8 = 0;
export const CLS_UNANSWERED: u8 = 1;
export const CLS_TCP: u8 = 2;
export const CLS_UDP: u8 = 3;
export const CLS_ICMP: u8 = 4;
export const CLS_OTHER: u8 = 5;
export const NUM_CLASSES: i32 = 6;

let slots: usize = 0;
let index: usize = 0;
let indexMask: u32 = 0;
let freeHead: i32 = -1; // slots freed by remove()
let neverUsed: i32 = 0; // slots [neverUsed, capacity) were never handed out
export let capacity: i32 = 0;
export let liveFlows: i32 = 0;
/** Set by lookup(): true when the current packet travels responder → initiator. */
export let lookupReverse: bool = false;

const heads: usize = memory.data(NUM_CLASSES * 4);
const tails: usize = memory.data(NUM_CLASSES * 4);

function indexSlots(maxFlows: i32): u32 { return indexSlotsFor(maxFlows); }

/** Bytes init must reserve for a table of maxFlows. */
export function tableBytes(maxFlows: i32): usize {
  return <usize>maxFlows * FLOW_SLOT_BYTES + 64 + <usize>indexSlots(maxFlows) * 8; // + 64: slots are line-aligned
}

/** Bytes of table state per flow (slot + its share of the index), for flowSlotBytes(). */
export function bytesPerFlow(): i32 {
  return capacity == 0 ? <i32>FLOW_SLOT_BYTES + 16 : <i32>(tableBytes(capacity) / <usize>capacity);
}

export function tableInit(maxFlows: i32): bool {
  const n = indexSlots(maxFlows);
  const block = heap.alloc(<usize>maxFlows * FLOW_SLOT_BYTES + 64);
  slots = (block + 63) & ~(<usize>63); // every slot starts a cache line (flow.ts layout)
  index = heap.alloc(<usize>n * 8);
  if (block == 0 || index == 0) return false;
  // Freshly grown memory is zero (init runs once): no fill, so untouched slots never become resident pages.
  indexMask = n - 1;
  capacity = maxFlows;
  freeHead = -1;
  neverUsed = 0;
  liveFlows = 0;
  for (let c = 0; c < NUM_CLASSES; c++) {
    store<i32>(heads + (<usize>c << 2), -1);
    store<i32>(tails + (<usize>c << 2), -1);
  }
  return true;
}

// @ts-ignore: decorator
@inline export function flowAt(i: i32): Flow {
  return changetype<Flow>(slots + <usize>i * FLOW_SLOT_BYTES);
}

// @ts-ignore: decorator
@inline export function isFull(): bool { return freeHead < 0 && neverUsed >= capacity; }

/** Finds the current packet's flow; -1 if none. Sets lookupReverse. */
export function lookup(h: u32): i32 {
  let pos = h & indexMask;
  while (true) {
    const e = load<u64>(index + (<usize>pos << 3));
    if (e == 0) return -1;
    if (<u32>(e >> 32) == h) {
      const i = <i32>(<u32>e) - 1;
      const f = flowAt(i);
      if (f.proto == pktProtocol && f.vlan == pktVlanId) {
        const p = changetype<usize>(f);
        if (f.srcPort == pktSrcPort && f.dstPort == pktDstPort && addrEq(p, pktSrc) && addrEq(p + 16, pktDst)) {
          lookupReverse = false;
          return i;
        }
        if (f.srcPort == pktDstPort && f.dstPort == pktSrcPort && addrEq(p, pktDst) && addrEq(p + 16, pktSrc)) {
          lookupReverse = true;
          return i;
        }
      }
    }
    pos = (pos + 1) & indexMask;
  }
}

// ---- prefetch hints (assembly/flow/prefetch.ts): loads only, no state changes ----

/** The index bucket where a lookup of hash h starts. */
// @ts-ignore: decorator
@inline export function indexBucket(h: u32): u64 {
  return load<u64>(index + (<usize>(h & indexMask) << 3));
}

/** The slot a lookup of h will most likely land on, given its first bucket `e` (a short probe run); -1 none. */
export function slotForHint(h: u32, e: u64): i32 {
  return probeHint(index, indexMask, h, e);
}

/** Loads one word of each cache line of slot i's head (flow.ts: what every packet reads first). */
// @ts-ignore: decorator
@inline export function touchHead(i: i32): u64 {
  const p = slots + <usize>i * FLOW_SLOT_BYTES;
  return load<u64>(p) + load<u64>(p + HEAD_BYTES - 8);
}

/**
 * Whether a packet from srcTag (its source port << 32 | the last 4 bytes of its source address) most likely
 * travels initiator → responder in flow i, whose head is already cached.
 */
// @ts-ignore: decorator
@inline export function forwardHint(i: i32, srcTag: u64): bool {
  const p = slots + <usize>i * FLOW_SLOT_BYTES;
  return (<u64>changetype<Flow>(p).srcPort << 32 | <u64>load<u32>(p, 12)) == srcTag;
}

/** Loads each cache line of the direction block (forward: src2dst) a packet will update in slot i. */
// @ts-ignore: decorator
@inline export function touchDirection(i: i32, forward: bool): u64 {
  const p = slots + <usize>i * FLOW_SLOT_BYTES;
  const d = p + (forward ? OFF_S2D : OFF_D2S);
  return load<u64>(d) + load<u64>(d + DIR_BLOCK_BYTES - 8);
}

/** Loads every cache line of slot i (a flow about to end: writeRow() reads all of it). */
export function touchSlotAll(i: i32): u64 {
  const p = slots + <usize>i * FLOW_SLOT_BYTES;
  let acc: u64 = 0;
  for (let o: usize = 0; o < FLOW_SLOT_BYTES; o += 64) acc += load<u64>(p + o);
  return acc;
}

/** Loads what removing flow i will write besides its slot: its class-list neighbours and its index bucket. */
export function touchRemoval(i: i32): u64 {
  const f = flowAt(i);
  return touchLinks(i) + load<u64>(index + (<usize>(f.hash & indexMask) << 3));
}

/** Loads the list links of flow i's class-list neighbours (relinking writes them). */
export function touchLinks(i: i32): u64 {
  const f = flowAt(i);
  let acc: u64 = 0;
  if (<u32>f.prev < <u32>capacity) acc += load<u64>(slots + <usize>f.prev * FLOW_SLOT_BYTES + offsetof<Flow>('prev'));
  if (<u32>f.next < <u32>capacity) acc += load<u64>(slots + <usize>f.next * FLOW_SLOT_BYTES + offsetof<Flow>('prev'));
  return acc;
}

/** Host slots cached in flow i: initiator in the low half, responder in the high half (-1 = none). */
// @ts-ignore: decorator
@inline export function slotHosts(i: i32): u64 {
  const f = flowAt(i);
  return (<u64><u32>f.dstHost << 32) | <u64><u32>f.srcHost;
}

/** Takes a free slot and indexes it under h; the caller fills the key. -1 when the table is full. */
export function insert(h: u32): i32 {
  let i = freeHead;
  if (i >= 0) freeHead = flowAt(i).next;
  else if (neverUsed < capacity) i = neverUsed++;
  else return -1;
  const f = flowAt(i);
  indexInsert(index, indexMask, h, i);
  f.hash = h;
  liveFlows++;
  return i;
}

/** Drops slot i from the index and its class list and returns it to the free pool. */
export function remove(i: i32): void {
  const f = flowAt(i);
  unlink(i);
  indexDelete(index, indexMask, indexFind(index, indexMask, f.hash, i));
  f.next = freeHead;
  freeHead = i;
  liveFlows--;
}

// @ts-ignore: decorator
@inline export function listHead(c: i32): i32 { return load<i32>(heads + (<usize>c << 2)); }
// @ts-ignore: decorator
@inline export function listTail(c: i32): i32 { return load<i32>(tails + (<usize>c << 2)); }

function unlink(i: i32): void {
  const f = flowAt(i);
  const c = <usize>f.cls << 2;
  if (f.prev >= 0) flowAt(f.prev).next = f.next;
  else store<i32>(heads + c, f.next);
  if (f.next >= 0) flowAt(f.next).prev = f.prev;
  else store<i32>(tails + c, f.prev);
  f.prev = -1;
  f.next = -1;
}

/** Puts a newly inserted flow at the head of class c. */
export function listPush(i: i32, c: u8): void {
  const f = flowAt(i);
  const hp = heads + (<usize>c << 2);
  const h = load<i32>(hp);
  f.cls = c;
  f.queuedMs = f.lastMs;
  f.prev = -1;
  f.next = h;
  if (h >= 0) flowAt(h).prev = i;
  else store<i32>(tails + (<usize>c << 2), i);
  store<i32>(hp, i);
}

/** Flow i was just seen, now in class c: requeued if its class changed or it drifted more than slackMs. */
// @ts-ignore: decorator
@inline export function listTouch(i: i32, c: u8, slackMs: f64): void {
  const f = flowAt(i);
  if (f.cls == c && f.lastMs - f.queuedMs <= slackMs) return;
  unlink(i);
  listPush(i, c);
}

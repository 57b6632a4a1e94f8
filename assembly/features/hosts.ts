/**
 * Per-host behaviour windows in the style of Kitsune's AfterImage: damped incremental statistics where an
 * observation's weight halves every half-life (1 s, 10 s, 100 s — generated from core/schema.ts).
 *
 * The host table is bounded (maxHosts from init; core/host.ts defaults it to twice the flow table, the most hosts
 * live flows can name) and open-addressed on the address. A host named by a live flow is pinned: flows hold a
 * reference (hostRef/hostUnref, at flow creation and end), so a packet never has to look its hosts up again.
 * A host no live flow names is idle and sits on the idle list, ordered by when it became idle — which is its
 * last update, since only packets of live flows update hosts — so the list head is the least recently seen
 * idle host. A new host takes a never-used slot, else the idle head (`flow.host_evicted`), else none: every
 * slot is pinned, the flow's side goes without host windows (its host features are 0), counted
 * `flow.host_table_full` once per flow side, never per packet. No scans: each step is O(1).
 */
import { addrHash, addrEq, addrCopy } from '../flow/key';
import { indexDelete, indexFind, indexInsert, indexSlotsFor, probeHint } from '../flow/probe';
import { countEvent } from '../events';
import { EV_FLOW_HOST_TABLE_FULL, EV_FLOW_HOST_EVICTED } from '../generated/events';
import {
  NUM_HOST_WINDOWS, HOST_WINDOW_0_HALF_LIFE_S, HOST_WINDOW_1_HALF_LIFE_S, HOST_WINDOW_2_HALF_LIFE_S,
} from '../generated/schema';

// Damped quantities, one value per window. The sent-size sums and the sent-packet weight are f64 (the variance is
// SS/W − (LS/W)², a difference of near-equal terms that f32 would ruin for a host of constant-size packets); every
// other quantity is a count, kept as f32 (its features are stored as bfloat16 in the end: 8 significant bits).
export const HW_RECV_PACKETS: i32 = 0; // packets received
export const HW_SENT_PACKETS: i32 = 1; // weight of sent packets (damped count), f64
export const HW_SENT_LS: i32 = 2; // linear sum of sent packet sizes, f64
export const HW_SENT_SS: i32 = 3; // squared sum of sent packet sizes, f64
export const HW_FLOWS: i32 = 4; // flows started
export const HW_DST_HOSTS: i32 = 5; // first contacts to a destination host
export const HW_DST_PORTS: i32 = 6; // first contacts to a (destination host, port, protocol)
export const HW_FAILED: i32 = 7; // started flows that ended unanswered or reset by the responder
export const HW_RECV_FLOWS: i32 = 8; // flows towards this host
export const HW_SRC_HOSTS: i32 = 9; // first contacts from a source host
export const HW_FIELDS: i32 = 10;

@unmanaged
export class Host {
  addrA: u64; addrB: u64;
  /** live flows naming this host (0: idle, on the idle list) */
  refs: u32;
  /** idle-list links (host slots, -1 none) */
  idlePrev: i32; idleNext: i32;
}
/*
 * Memory layout: one 192-byte record per host, three cache lines, 64-byte aligned (with 50k+ hosts nearly every
 * per-packet host access is a miss, so what a packet touches is kept to few lines):
 *   line 0: the header (28 B), flows started (f32 ×3), sent-packet weight (f64 ×3)
 *   line 1: sent sizes' linear and squared sums (f64 ×3 each), packets received (f32 ×3)
 *   line 2: the other counts (f32 ×3 each): first contacts to hosts and ports, failed flows, flows received,
 *           first contacts from hosts — they change only when flows start or end.
 * A packet touches lines 0 and 1 of its sender and line 1 of its receiver; a host-window snapshot reads all three.
 * (Was 272 B in two records, every value f64: 80 B less per host, and a snapshot reads three lines instead of five.)
 */
export const HOST_SLOT_BYTES: usize = 192;
const W4: usize = <usize>NUM_HOST_WINDOWS * 4;
const W8: usize = <usize>NUM_HOST_WINDOWS * 8;
const OFF_FLOWS: usize = offsetof<Host>();
const OFF_SENT_PACKETS: usize = OFF_FLOWS + W4;
const OFF_SENT_LS: usize = 64;
const OFF_SENT_SS: usize = OFF_SENT_LS + W8;
const OFF_RECV_PACKETS: usize = OFF_SENT_SS + W8;
const OFF_COLD: usize = 128; // HW_DST_HOSTS … HW_SRC_HOSTS, W4 apart
const OFF_VALUES: usize = OFF_FLOWS;
// @ts-ignore: compile-time
if (NUM_HOST_WINDOWS != 3 || offsetof<Host>() != 28 || OFF_SENT_PACKETS != 40 || OFF_SENT_PACKETS + W8 != 64 ||
  OFF_RECV_PACKETS + W4 > 128 || OFF_COLD + 5 * W4 > HOST_SLOT_BYTES) ERROR('host record off its three cache lines');

// @ts-ignore: decorator
@inline function isWide(k: i32): bool { return k == HW_SENT_PACKETS || k == HW_SENT_LS || k == HW_SENT_SS; }

// @ts-ignore: decorator
@inline function fieldOffset(k: i32): usize {
  return k == HW_FLOWS ? OFF_FLOWS : k == HW_SENT_PACKETS ? OFF_SENT_PACKETS : k == HW_SENT_LS ? OFF_SENT_LS
    : k == HW_SENT_SS ? OFF_SENT_SS : k == HW_RECV_PACKETS ? OFF_RECV_PACKETS : OFF_COLD + <usize>(k - HW_DST_HOSTS) * W4;
}

let slots: usize = 0;
let index: usize = 0;
let indexMask: u32 = 0;
let capacity: i32 = 0;
let used: i32 = 0;
let idleHead: i32 = -1; // least recently seen idle host
let idleTail: i32 = -1;
export let liveHosts: i32 = 0;

export function hostTableBytes(maxHosts: i32): usize {
  return <usize>maxHosts * HOST_SLOT_BYTES + 64 + <usize>indexSlotsFor(maxHosts) * 8;
}

export function hostsInit(maxHosts: i32): bool {
  const n = indexSlotsFor(maxHosts);
  const block = heap.alloc(<usize>maxHosts * HOST_SLOT_BYTES + 64);
  slots = (block + 63) & ~(<usize>63);
  index = heap.alloc(<usize>n * 8);
  if (block == 0 || index == 0) return false; // freshly grown memory is zero: no fill (pages stay untouched)
  indexMask = n - 1;
  capacity = maxHosts;
  return true;
}

/** Address of host i's record. */
// @ts-ignore: decorator
@inline function recordAt(i: i32): usize {
  return slots + <usize>i * HOST_SLOT_BYTES;
}

// @ts-ignore: decorator
@inline export function hostAt(i: i32): Host {
  return changetype<Host>(recordAt(i));
}

/** Stored (landmark-scaled) value of field k, window w, of host i. */
// @ts-ignore: decorator
@inline export function hostStored(i: i32, k: i32, w: i32): f64 {
  const p = recordAt(i) + fieldOffset(k);
  return isWide(k) ? load<f64>(p + (<usize>w << 3)) : <f64>load<f32>(p + (<usize>w << 2));
}

/** Prefetch hint: loads line 1 of host i's record (what a packet's receiver updates), if used. */
export function touchReceiver(i: i32): u64 {
  if (<u32>i >= <u32>used) return 0;
  return load<u64>(recordAt(i) + 64);
}

/** Prefetch hint (assembly/flow/prefetch.ts): loads lines 0 and 1 of host i's record (a sender's), if used. */
export function touchHost(i: i32): u64 {
  if (<u32>i >= <u32>used) return 0;
  const p = recordAt(i);
  return load<u64>(p) + load<u64>(p + 64);
}

/** Prefetch hint: also line 2 (read by a snapshot, updated when flows start or end). */
export function touchHostCold(i: i32): u64 {
  if (<u32>i >= <u32>used) return 0;
  return load<u64>(recordAt(i) + 128);
}

function idleUnlink(h: Host): void {
  const prev = h.idlePrev;
  const next = h.idleNext;
  if (prev >= 0) hostAt(prev).idleNext = next; else idleHead = next;
  if (next >= 0) hostAt(next).idlePrev = prev; else idleTail = prev;
}

function idleAppend(i: i32, h: Host): void {
  h.idlePrev = idleTail;
  h.idleNext = -1;
  if (idleTail >= 0) hostAt(idleTail).idleNext = i; else idleHead = i;
  idleTail = i;
}

/** A live flow now names host i (pins it). */
export function hostRef(i: i32): void {
  const h = hostAt(i);
  if (h.refs == 0) idleUnlink(h);
  h.refs++;
}

/** A flow naming host i ended: the last one makes the host idle (the newest entry of the idle list). */
export function hostUnref(i: i32): void {
  const h = hostAt(i);
  if (--h.refs == 0) idleAppend(i, h);
}

/** Prefetch hint: the index bucket where hostFind() of an address whose addrHash is `hash` starts. */
// @ts-ignore: decorator
@inline export function hostBucket(hash: u32): u64 {
  return load<u64>(index + (<usize>(hash & indexMask) << 3));
}

/** Prefetch hint: the host slot hostFind() will most likely return, from its first bucket `e`; -1 none. */
export function hostForHint(hash: u32, e: u64): i32 {
  return probeHint(index, indexMask, hash, e);
}

/** Host slot for an address, or -1 if it is not in the table. */
export function hostFind(addr: usize): i32 {
  const h = <u32>addrHash(addr);
  let pos = h & indexMask;
  while (true) {
    const e = load<u64>(index + (<usize>pos << 3));
    if (e == 0) return -1;
    if (<u32>(e >> 32) == h) {
      const i = <i32>(<u32>e) - 1;
      if (addrEq(changetype<usize>(hostAt(i)), addr)) return i;
    }
    pos = (pos + 1) & indexMask;
  }
}

/**
 * Host slot for an address, pinned for the calling flow (hostUnref when it ends): found, or created when
 * missing (taking the least recently seen idle host's slot if every slot is used); -1 when every slot is
 * pinned by live flows.
 */
export function hostPin(addr: usize): i32 {
  let i = hostFind(addr);
  if (i >= 0) {
    hostRef(i);
    return i;
  }
  if (used < capacity) {
    i = used++;
  } else {
    i = idleHead;
    if (i < 0) {
      countEvent(EV_FLOW_HOST_TABLE_FULL);
      return -1;
    }
    idleUnlink(hostAt(i));
    countEvent(EV_FLOW_HOST_EVICTED);
    indexDelete(index, indexMask, indexFind(index, indexMask, <u32>addrHash(recordAt(i)), i));
    liveHosts--;
  }
  const h = hostAt(i);
  const hash = <u32>addrHash(addr);
  addrCopy(changetype<usize>(h), addr);
  h.refs = 1; // pinned by its creator, so not on the idle list
  memory.fill(changetype<usize>(h) + OFF_VALUES, 0, HOST_SLOT_BYTES - OFF_VALUES);
  indexInsert(index, indexMask, hash, i);
  liveHosts++;
  return i;
}

/**
 * Damping without touching every value on every update (the "landmark" form of exponential decay): a value
 * is stored as Σ v_i · 2^((t_i − L)/h) for a landmark time L shared by all hosts, so an update at time t adds
 * v · g(t) with g(t) = 2^((t − L)/h), and the damped value at time now is stored / g(now). g depends only on
 * time, not on the host: it is computed once per packet timestamp for every host updated or read. When now
 * has moved RENORM_AFTER_MS past L, every stored value is rescaled to a new landmark (one bounded pass over
 * the used host slots), which keeps the gains far from overflow: 2^60 at most for the 1 s window, so an f32 count
 * of up to 2^60 flows or packets still fits (f32 ends at 2^128). A rescaled value below 2^-100 is 0: it had
 * decayed to nothing, and keeping it would make a denormal.
 */
const gains: usize = memory.data(NUM_HOST_WINDOWS * 8);
let gainsNow: f64 = NaN;
let landmarkMs: f64 = NaN;
const RENORM_AFTER_MS: f64 = 60_000;
/** 2^-100: a rescaled f32 count below it is 0 (see above). */
const DECAYED_TO_NOTHING: f64 = 7.888609052210118e-31;

/** 2^(dt/h_w) per window into `out`: one exp2 for the longest half-life; the shorter ones are integer
 *  powers of it when the half-life ratios are integers (1, 10, 100 s: two ×10 powers). */
function powers(out: usize, dtMs: f64): void {
  const dtS = dtMs / 1000;
  const f2 = Math.exp2(dtS / HOST_WINDOW_2_HALF_LIFE_S);
  const r21 = HOST_WINDOW_2_HALF_LIFE_S / HOST_WINDOW_1_HALF_LIFE_S;
  const r10 = HOST_WINDOW_1_HALF_LIFE_S / HOST_WINDOW_0_HALF_LIFE_S;
  const f1 = r21 == 10 ? pow10(f2) : Math.exp2(dtS / HOST_WINDOW_1_HALF_LIFE_S);
  const f0 = r10 == 10 ? pow10(f1) : Math.exp2(dtS / HOST_WINDOW_0_HALF_LIFE_S);
  store<f64>(out, f0);
  store<f64>(out, f1, 8);
  store<f64>(out, f2, 16);
}

// @ts-ignore: decorator
@inline function pow10(x: f64): f64 {
  const x2 = x * x;
  const x4 = x2 * x2;
  return x4 * x4 * x2;
}

const rescale: usize = memory.data(NUM_HOST_WINDOWS * 8);

function renormalise(nowMs: f64): void {
  powers(rescale, landmarkMs - nowMs); // 2^(−(now − L)/h) < 1
  for (let i = 0; i < used; i++) {
    const h = recordAt(i);
    for (let k = 0; k < HW_FIELDS; k++) {
      const p = h + fieldOffset(k);
      for (let w = 0; w < NUM_HOST_WINDOWS; w++) {
        const r = load<f64>(rescale + (<usize>w << 3));
        if (isWide(k)) {
          const q = p + (<usize>w << 3);
          store<f64>(q, load<f64>(q) * r);
        } else {
          const q = p + (<usize>w << 2);
          const v = <f64>load<f32>(q) * r;
          store<f32>(q, v < DECAYED_TO_NOTHING ? 0 : <f32>v);
        }
      }
    }
  }
  landmarkMs = nowMs;
}

/** Sets the time of the host updates and reads that follow (the engine's clock: never decreasing). */
// @ts-ignore: decorator
@inline export function hostsAt(nowMs: f64): void {
  if (nowMs != gainsNow) setTime(nowMs);
}

function setTime(nowMs: f64): void {
  if (isNaN(landmarkMs)) landmarkMs = nowMs;
  if (nowMs - landmarkMs > RENORM_AFTER_MS) renormalise(nowMs);
  powers(gains, nowMs - landmarkMs);
  gainsNow = nowMs;
}


/** Adds v to field k of every window of host i, at the time set by hostsAt(). */
// @ts-ignore: decorator
@inline export function hostAdd(i: i32, k: i32, v: f64): void {
  const p = recordAt(i) + fieldOffset(k);
  for (let w = 0; w < NUM_HOST_WINDOWS; w++) {
    const g = load<f64>(gains + (<usize>w << 3));
    if (isWide(k)) {
      const q = p + (<usize>w << 3);
      store<f64>(q, load<f64>(q) + v * g);
    } else {
      const q = p + (<usize>w << 2);
      store<f32>(q, <f32>(<f64>load<f32>(q) + v * g));
    }
  }
}

/** A packet of `size` bytes sent by host i, at the time set by hostsAt(). */
export function hostSent(i: i32, size: f64): void {
  const ss = size * size;
  const h = recordAt(i);
  const n = h + OFF_SENT_PACKETS;
  const ls = h + OFF_SENT_LS;
  const sq = h + OFF_SENT_SS;
  for (let w = 0; w < NUM_HOST_WINDOWS; w++) {
    const o = <usize>w << 3;
    const g = load<f64>(gains + o);
    store<f64>(n + o, load<f64>(n + o) + g);
    store<f64>(ls + o, load<f64>(ls + o) + size * g);
    store<f64>(sq + o, load<f64>(sq + o) + ss * g);
  }
}

/** Prepares readFactor() for reading damped values at nowMs. */
export function hostReadFactors(nowMs: f64): void { hostsAt(nowMs); }

/** Multiplier turning a stored value of window w into its damped value at the time set by hostsAt(). */
// @ts-ignore: decorator
@inline export function readFactor(w: i32): f64 { return 1 / load<f64>(gains + (<usize>w << 3)); }

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

// Damped quantities (f64 each, one per window). The first HW_HOT_FIELDS change with every packet; the others only
// when a flow starts or ends.
export const HW_RECV_PACKETS: i32 = 0; // packets received (first: on the header's line, see below)
export const HW_SENT_PACKETS: i32 = 1; // weight of sent packets (damped count)
export const HW_SENT_LS: i32 = 2; // linear sum of sent packet sizes
export const HW_SENT_SS: i32 = 3; // squared sum of sent packet sizes
export const HW_FLOWS: i32 = 4; // flows started
export const HW_DST_HOSTS: i32 = 5; // first contacts to a destination host
export const HW_DST_PORTS: i32 = 6; // first contacts to a (destination host, port, protocol)
export const HW_FAILED: i32 = 7; // started flows that ended unanswered or reset by the responder
export const HW_RECV_FLOWS: i32 = 8; // flows towards this host
export const HW_SRC_HOSTS: i32 = 9; // first contacts from a source host
export const HW_FIELDS: i32 = 10;
const HW_HOT_FIELDS: i32 = 4;

/** A field's values, one f64 per window, side by side. */
const FIELD_BYTES: usize = <usize>NUM_HOST_WINDOWS * 8;

@unmanaged
export class Host {
  addrA: u64; addrB: u64;
  hash: u32;
  /** live flows naming this host (0: idle, on the idle list) */
  refs: u32;
  /** idle-list links (host slots, -1 none) */
  idlePrev: i32; idleNext: i32;
}
/*
 * Memory layout, chosen for cache lines (with 50k+ hosts nearly every per-packet host access is a miss): a
 * host is split in two records. The hot record — the Host header, then the per-packet fields — is 128 bytes,
 * 64-byte aligned: a packet touches both lines of its sender's record and only the first (header and received
 * packets) of its receiver's. The cold record holds the fields that only
 * change when flows start or end, and is read when a row is written.
 */
const HOST_VALUES_OFFSET: usize = (offsetof<Host>() + 7) & ~7;
const HOT_BYTES: usize = (HOST_VALUES_OFFSET + <usize>HW_HOT_FIELDS * FIELD_BYTES + 63) & ~63;
const COLD_BYTES: usize = <usize>(HW_FIELDS - HW_HOT_FIELDS) * FIELD_BYTES;
// @ts-ignore: compile-time
if (HOT_BYTES != 128 || HOST_VALUES_OFFSET + FIELD_BYTES > 64) ERROR('host hot record off its two cache lines');
/** Bytes of state per host slot (both records). */
export const HOST_SLOT_BYTES: usize = HOT_BYTES + COLD_BYTES;

let slots: usize = 0; // hot records
let cold: usize = 0; // cold records
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
  const hot = heap.alloc(<usize>maxHosts * HOT_BYTES + 64);
  slots = (hot + 63) & ~(<usize>63);
  cold = heap.alloc(<usize>maxHosts * COLD_BYTES);
  index = heap.alloc(<usize>n * 8);
  if (hot == 0 || cold == 0 || index == 0) return false; // freshly grown memory is zero: no fill (pages stay untouched)
  indexMask = n - 1;
  capacity = maxHosts;
  return true;
}

// @ts-ignore: decorator
@inline export function hostAt(i: i32): Host {
  return changetype<Host>(slots + <usize>i * HOT_BYTES);
}

/** Address of field k's values of host i: NUM_HOST_WINDOWS f64, window w at + w * 8. */
// @ts-ignore: decorator
@inline export function hostField(i: i32, k: i32): usize {
  return k < HW_HOT_FIELDS
    ? slots + <usize>i * HOT_BYTES + HOST_VALUES_OFFSET + <usize>k * FIELD_BYTES
    : cold + <usize>i * COLD_BYTES + <usize>(k - HW_HOT_FIELDS) * FIELD_BYTES;
}

/** Prefetch hint: loads the first line of host i's hot record (what a packet's receiver updates), if used. */
export function touchReceiver(i: i32): u64 {
  if (<u32>i >= <u32>used) return 0;
  return load<u64>(slots + <usize>i * HOT_BYTES);
}

/** Prefetch hint (assembly/flow/prefetch.ts): loads both lines of host i's hot record, if i is a used slot. */
export function touchHost(i: i32): u64 {
  if (<u32>i >= <u32>used) return 0;
  const p = slots + <usize>i * HOT_BYTES;
  let acc: u64 = 0;
  for (let o: usize = 0; o < HOT_BYTES; o += 64) acc += load<u64>(p + o);
  return acc;
}

/** Prefetch hint: also the cold record (read when a row is written, updated when flows start or end). */
export function touchHostCold(i: i32): u64 {
  if (<u32>i >= <u32>used) return 0;
  const p = cold + <usize>i * COLD_BYTES;
  let acc: u64 = 0;
  for (let o: usize = 0; o < COLD_BYTES; o += 64) acc += load<u64>(p + o);
  return acc + load<u64>(p + COLD_BYTES - 8);
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
    const old = hostAt(i);
    indexDelete(index, indexMask, indexFind(index, indexMask, old.hash, i));
    liveHosts--;
  }
  const h = hostAt(i);
  const hash = <u32>addrHash(addr);
  addrCopy(changetype<usize>(h), addr);
  h.hash = hash;
  h.refs = 1; // pinned by its creator, so not on the idle list
  memory.fill(hostField(i, 0), 0, HOT_BYTES - HOST_VALUES_OFFSET);
  memory.fill(hostField(i, HW_HOT_FIELDS), 0, COLD_BYTES);
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
 * the used host slots), which keeps the gains far from overflow (2^300 at most for the 1 s window).
 */
const gains: usize = memory.data(NUM_HOST_WINDOWS * 8);
let gainsNow: f64 = NaN;
let landmarkMs: f64 = NaN;
const RENORM_AFTER_MS: f64 = 300_000;

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
    for (let k = 0; k < HW_FIELDS; k++) {
      const p = hostField(i, k);
      for (let w = 0; w < NUM_HOST_WINDOWS; w++) {
        const q = p + (<usize>w << 3);
        store<f64>(q, load<f64>(q) * load<f64>(rescale + (<usize>w << 3)));
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
  const p = hostField(i, k);
  for (let w = 0; w < NUM_HOST_WINDOWS; w++) {
    const q = p + (<usize>w << 3);
    store<f64>(q, load<f64>(q) + v * load<f64>(gains + (<usize>w << 3)));
  }
}

/** A packet of `size` bytes sent by host i, at the time set by hostsAt(). */
export function hostSent(i: i32, size: f64): void {
  const ss = size * size;
  const n = hostField(i, HW_SENT_PACKETS);
  const ls = hostField(i, HW_SENT_LS);
  const sq = hostField(i, HW_SENT_SS);
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

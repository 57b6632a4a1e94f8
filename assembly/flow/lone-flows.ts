/**
 * Lone flows folded into one record: what keeps a spoofed flood from costing a row, an inference and a tracker
 * update per packet.
 *
 * A lone flow is one packet that got no answer (it ends `unanswered` with one packet): a spoofed SYN flood is
 * nothing else, one per packet, each from a new address. Per target — (responder address, port, protocol, VLAN) —
 * the first CFG_LONE_FLOWS_PER_S lone flows of every second are written as rows of their own. Beyond that they
 * are folded: the first folded flow's row is written aside, the next ones only counted, and within FOLD_MS the
 * aside row is emitted with `folded` = how many other lone flows it stands for (KeyRecord.folded) and
 * KEY_FLAG_MIXED_SOURCES when they came from other initiators than its own. Nothing is dropped: every flow still
 * ends in the host windows and counts, and every one is in some row's 1 + folded.
 *
 * Off (0) by default: `netsensor flows` writes one record per flow. The sensor turns it on (sensor/config.ts).
 * A target's table entry is found by hash, one entry per bucket; another target landing on a bucket whose group is
 * pending emits that group first (or, with no output room, is simply not folded).
 */
import { Flow } from './flow';
import { addrEq, addrCopy, mix64 } from './key';
import { writeRowAt } from '../features/row';
import { outFreeRows, rowFeatures, rowKey, ROW_BYTES, takeRow } from '../features/output';
import { countEvent } from '../events';
import { EV_FLOW_LONE_FOLDED } from '../generated/events';
import { KeyRecord, KEY_RECORD_BYTES, KEY_FLAG_MIXED_SOURCES } from '../generated/abi';

/** A folded group is emitted at most this long after its first flow (capture time). */
const FOLD_MS: f64 = 100;
const BUCKETS: i32 = 512;
/** KeyRecord.folded is a u16: a group holds at most this many flows (its row + 65,535 folded). */
const MAX_FOLDED: u32 = 0x10000;
/**
 * Free output rows a group emission inside foldLone() needs: the group's row, the row its caller may still write, and
 * the two a packet may write after expiry (engine.ts ROWS_PER_PACKET) — so one finish() never writes more than the
 * expiry budget allows for by more than one row.
 */
const EMIT_HEADROOM: i32 = 4;

// Per bucket: target key, the window's count, the pending group.
const E_DST: usize = 0; //         16 B responder address
const E_PORT: usize = 16; //       u16
const E_VLAN: usize = 18; //       u16
const E_PROTO: usize = 20; //      u8 (0 = empty bucket)
const E_MIXED: usize = 21; //      u8
const E_SEEN: usize = 24; //       u32 lone flows in the current window
const E_PENDING: usize = 28; //    u32 flows in the pending group (0 = none; the first is the aside row)
const E_WINDOW: usize = 32; //     f64 window start
const E_GROUP: usize = 40; //      f64 when the pending group's first flow ended (capture time)
const E_SRC: usize = 48; //        16 B the aside row's initiator
const E_KEY: usize = 64; //        KeyRecord of the aside row, then its features
const E_ROW: usize = E_KEY + <usize>KEY_RECORD_BYTES;
const ENTRY_BYTES: usize = (E_ROW + ROW_BYTES + 15) & ~15;

let table: usize = 0;
/** 0 = off. */
let perSecond: u32 = 0;
/** Buckets with a pending group, and the earliest time one of them is due. */
let pendingGroups: i32 = 0;
export let nextFoldDueMs: f64 = Infinity;

export function loneBytes(): usize { return <usize>BUCKETS * ENTRY_BYTES; }

export function loneInit(): bool {
  table = heap.alloc(loneBytes());
  if (table == 0) return false;
  memory.fill(table, 0, loneBytes());
  return true;
}

export function setLoneFlowsPerS(n: u32): void { perSecond = n; }

// @ts-ignore: decorator
@inline function entryAt(b: i32): usize { return table + <usize>b * ENTRY_BYTES; }

function bucketOf(f: Flow): i32 {
  const p = changetype<usize>(f);
  const h = mix64(load<u64>(p + 16) ^ (load<u64>(p + 24) * 0x9e3779b97f4a7c15) ^ (<u64>f.dstPort << 8) ^ <u64>f.proto ^ (<u64>f.vlan << 24));
  return <i32>(h & <u64>(BUCKETS - 1));
}

// @ts-ignore: decorator
@inline function sameTarget(e: usize, f: Flow): bool {
  return load<u8>(e + E_PROTO) == f.proto && load<u16>(e + E_PORT) == f.dstPort && load<u16>(e + E_VLAN) == f.vlan &&
    addrEq(e + E_DST, changetype<usize>(f) + 16);
}

/** Writes bucket e's pending group as a row; false when the output is full (the group stays pending). */
function emitGroup(e: usize): bool {
  if (outFreeRows() <= 0) return false;
  const r = takeRow();
  memory.copy(rowKey(r), e + E_KEY, <usize>KEY_RECORD_BYTES);
  memory.copy(rowFeatures(r), e + E_ROW, ROW_BYTES);
  const key = changetype<KeyRecord>(rowKey(r));
  key.folded = <u16>(load<u32>(e + E_PENDING) - 1);
  if (load<u8>(e + E_MIXED)) key.flags |= <u8>KEY_FLAG_MIXED_SOURCES;
  store<u32>(e + E_PENDING, 0);
  store<u8>(e + E_MIXED, 0);
  pendingGroups--;
  return true;
}

/**
 * Called for a flow ending `unanswered` with one packet, before its row would be written. True: the flow was folded
 * (the caller writes no row); false: write its row as usual.
 */
export function foldLone(f: Flow, slot: i32, reason: u8, failed: bool, nowMs: f64): bool {
  if (perSecond == 0) return false;
  const e = entryAt(bucketOf(f));
  if (load<u8>(e + E_PROTO) == 0 || !sameTarget(e, f)) {
    // another target's bucket: its pending group goes out first (with room for it and this flow's own row)
    if (load<u32>(e + E_PENDING) > 0) {
      if (outFreeRows() < EMIT_HEADROOM) return false;
      emitGroup(e);
    }
    addrCopy(e + E_DST, changetype<usize>(f) + 16);
    store<u16>(e + E_PORT, f.dstPort);
    store<u16>(e + E_VLAN, f.vlan);
    store<u8>(e + E_PROTO, f.proto);
    store<u32>(e + E_SEEN, 0);
    store<f64>(e + E_WINDOW, nowMs);
  }
  if (nowMs - load<f64>(e + E_WINDOW) >= 1000) {
    store<f64>(e + E_WINDOW, nowMs);
    store<u32>(e + E_SEEN, 0);
  }
  const seen = load<u32>(e + E_SEEN) + 1;
  store<u32>(e + E_SEEN, seen);
  if (seen <= perSecond) return false;
  const pending = load<u32>(e + E_PENDING);
  if (pending >= MAX_FOLDED) return false;
  const p = changetype<usize>(f);
  if (pending == 0) {
    // the group's row: this flow's, written aside (its host-window snapshot is still in its slot)
    writeRowAt(e + E_KEY, e + E_ROW, f, slot, reason, 0, failed);
    changetype<KeyRecord>(e + E_KEY).folded = 0;
    addrCopy(e + E_SRC, p);
    store<f64>(e + E_GROUP, nowMs);
    store<u32>(e + E_PENDING, 1);
    pendingGroups++;
    const due = nowMs + FOLD_MS;
    if (due < nextFoldDueMs) nextFoldDueMs = due;
  } else {
    store<u32>(e + E_PENDING, pending + 1);
    if (!addrEq(e + E_SRC, p)) store<u8>(e + E_MIXED, 1);
    countEvent(EV_FLOW_LONE_FOLDED); // a flow without a row of its own
    // due, or full: out now if there is room (otherwise the sweep takes it; a full group stops folding meanwhile)
    if ((pending + 1 >= MAX_FOLDED || nowMs - load<f64>(e + E_GROUP) >= FOLD_MS) && outFreeRows() >= EMIT_HEADROOM) emitGroup(e);
  }
  return true;
}

/**
 * Emits the pending groups due by `nowMs` (all of them with `all`), within `budget` rows; returns rows written.
 * Cheap when nothing is due: one comparison.
 */
export function sweepLone(nowMs: f64, budget: i32, all: bool): i32 {
  if (pendingGroups == 0 || (!all && nowMs < nextFoldDueMs)) return 0;
  let n = 0;
  let next = Infinity;
  for (let b = 0; b < BUCKETS; b++) {
    const e = entryAt(b);
    if (load<u32>(e + E_PENDING) == 0) continue;
    const due = load<f64>(e + E_GROUP) + FOLD_MS;
    if ((all || nowMs >= due) && n < budget && emitGroup(e)) { n++; continue; }
    if (due < next) next = due;
  }
  // a group left pending for want of room keeps its (past) due time: the next call tries again
  nextFoldDueMs = pendingGroups > 0 ? next : Infinity;
  return n;
}

/**
 * Ending flows: timeout classes, bounded expiry scans, emergency mode and eviction.
 *
 * Each live flow sits on the list of its timeout class (table.ts); all flows of a class share one timeout,
 * so a scan looks at list tails only and stops at the first flow still alive: O(expired) per call, never a
 * walk over the table. Scans are budgeted by the caller (free output rows), and scheduled: a scan records
 * the earliest deadline among the list tails (nextScanMs) and later calls return at once until packet time
 * reaches it, so most packets pay one comparison for expiry.
 *
 * Emergency mode (Suricata's idea): while the table is ≥ 95 % full every timeout is multiplied by
 * CFG_EMERGENCY_FACTOR, so stale flows make room before live ones must be evicted. Entering it is counted
 * `flow.emergency_mode`. If a new flow still finds the table full, the least recently seen flow is evicted
 * (`flow.table_full`, `flow.evicted`; a closed flow lingering for trailing packets keeps its fin/rst reason).
 */
import { Flow, ST_CLOSED, ST_RST, ST_ANSWERED, ST_SYN_START, ST_ESTABLISHED } from './flow';
import {
  flowAt, remove, listTail, capacity, liveFlows, NUM_CLASSES, CLS_CLOSED, CLS_UNANSWERED, CLS_TCP, CLS_UDP,
  CLS_ICMP, CLS_OTHER,
} from './table';
import {
  tcpIdleMs, udpIdleMs, icmpIdleMs, otherIdleMs, unansweredMs, closedLingerMs, emergencyFactor, timeoutsChanged,
} from './timeouts';
import { writeRow } from '../features/row';
import { outRows } from '../features/output';
import { foldLone, sweepLone, nextFoldDueMs } from './lone-flows';
import { hostsAt, hostAdd, hostUnref, HW_FAILED } from '../features/hosts';
import { countEvent, setStat } from '../events';
import { EV_FLOW_EMERGENCY_MODE, EV_FLOW_EVICTED, EV_FLOW_TABLE_FULL } from '../generated/events';
import { END_IDLE, END_FIN, END_RST, END_EVICTION, END_UNANSWERED } from '../generated/schema';
import { STAT_FLOWS_ACTIVE } from '../generated/abi';

export let emergency: bool = false;
/** No flow can expire before this packet time (see the header comment). */
export let nextScanMs: f64 = -Infinity;

/** The timeout class a flow belongs to after its latest packet. */
// @ts-ignore: decorator
@inline export function classOf(f: Flow): u8 {
  const st = f.state;
  if (st & ST_CLOSED) return CLS_CLOSED;
  if (!(st & ST_ANSWERED) || (st & (ST_SYN_START | ST_ESTABLISHED)) == ST_SYN_START) return CLS_UNANSWERED;
  const p = f.proto;
  if (p == 6) return CLS_TCP;
  if (p == 17) return CLS_UDP;
  if (p == 1 || p == 58) return CLS_ICMP;
  return CLS_OTHER;
}

// @ts-ignore: decorator
@inline function idleFor(proto: u8): f64 {
  if (proto == 6) return tcpIdleMs;
  if (proto == 17) return udpIdleMs;
  if (proto == 1 || proto == 58) return icmpIdleMs;
  return otherIdleMs;
}

/** Timeout of flow f in class c, emergency factor applied. */
// @ts-ignore: decorator
@inline export function timeoutOf(f: Flow, c: u8): f64 {
  let t: f64;
  if (c == CLS_CLOSED) t = closedLingerMs;
  else if (c == CLS_UNANSWERED) t = min(unansweredMs, idleFor(f.proto));
  else t = idleFor(f.proto);
  return emergency ? t * emergencyFactor : t;
}

// @ts-ignore: decorator
@inline export function isExpired(f: Flow, nowMs: f64): bool {
  return nowMs - f.lastMs >= timeoutOf(f, f.cls);
}

/** The end reason a flow gets when its timeout fires. */
// @ts-ignore: decorator
@inline export function expiryReason(f: Flow): u8 {
  if (f.cls == CLS_CLOSED) return f.state & ST_RST ? END_RST : END_FIN;
  if (f.cls == CLS_UNANSWERED) return END_UNANSWERED;
  return END_IDLE;
}

/**
 * Emits the final row of flow i with `reason` and frees its slot — or, for a lone flow of a flooded target, folds it
 * into that target's group row (lone-flows.ts).
 */
export function finish(i: i32, reason: u8, nowMs: f64): void {
  const f = flowAt(i);
  // A flow that got no reply, or was reset by the responder, counts against its initiator.
  const failed = !(f.state & ST_ANSWERED) || f.d2sRst > 0;
  if (failed && f.srcHost >= 0) {
    hostsAt(nowMs);
    hostAdd(f.srcHost, HW_FAILED, 1);
  }
  const lone = reason == END_UNANSWERED && <u64>f.s2dPackets + <u64>f.d2sPackets == 1;
  if (!lone || !foldLone(f, i, reason, failed, nowMs)) writeRow(f, i, reason, 0, failed);
  // release the hosts (the last flow of a host makes it idle, evictable)
  if (f.srcHost >= 0) hostUnref(f.srcHost);
  if (f.dstHost >= 0) hostUnref(f.dstHost);
  remove(i);
  setStat(STAT_FLOWS_ACTIVE, <u64>liveFlows);
  updateEmergency();
}

/** Enters/leaves emergency mode from the table's fill level (after every insert and removal). */
export function updateEmergency(): void {
  const high = <i64>liveFlows * 20 >= <i64>capacity * 19;
  if (high == emergency) return;
  if (high) countEvent(EV_FLOW_EMERGENCY_MODE);
  emergency = high;
  nextScanMs = -Infinity; // every timeout just changed
}

/** A flow was just (re)classified: it may expire before the scheduled scan. */
// @ts-ignore: decorator
@inline export function scheduleFor(f: Flow): void {
  const d = f.lastMs + timeoutOf(f, f.cls);
  if (d < nextScanMs) nextScanMs = d;
}

/**
 * Ends the flows whose timeout has passed as of nowMs, and emits the folded groups that are due, writing up to
 * `budget` rows (one more at most: a lone flow's finish() can write a group's row and its own); returns rows written.
 * Folded flows end without a row, so more flows than `budget` may end.
 */
export function expire(nowMs: f64, budget: i32): i32 {
  if (timeoutsChanged) {
    timeoutsChanged = false;
    nextScanMs = -Infinity;
  }
  if ((nowMs < nextScanMs && nowMs < nextFoldDueMs) || budget <= 0) return 0;
  const start = outRows();
  sweepLone(nowMs, budget, false);
  if (nowMs < nextScanMs) return outRows() - start;
  let rows = 0;
  let next = Infinity;
  nextScanMs = Infinity; // finish() → updateEmergency() may lower it to -Infinity: kept by the min() below
  for (let c = 0; c < NUM_CLASSES; c++) {
    while (true) {
      const t = listTail(c);
      if (t < 0) break;
      const f = flowAt(t);
      const timeout = timeoutOf(f, <u8>c);
      if (nowMs - f.lastMs < timeout) {
        const d = f.lastMs + timeout;
        if (d < next) next = d;
        break;
      }
      rows = outRows() - start;
      if (rows >= budget) {
        next = nowMs; // more are due: scan again at the next chance
        break;
      }
      finish(t, expiryReason(f), nowMs);
    }
  }
  nextScanMs = min(nextScanMs, next);
  return outRows() - start;
}

/** Makes room for one new flow in a full table by ending the least recently seen one. */
export function evictOne(nowMs: f64): void {
  let victim = -1;
  let oldest = Infinity;
  for (let c = 0; c < NUM_CLASSES; c++) {
    const t = listTail(c);
    if (t >= 0 && flowAt(t).lastMs < oldest) {
      oldest = flowAt(t).lastMs;
      victim = t;
    }
  }
  if (victim < 0) return;
  countEvent(EV_FLOW_TABLE_FULL);
  const f = flowAt(victim);
  if (f.cls == CLS_CLOSED) {
    finish(victim, f.state & ST_RST ? END_RST : END_FIN, nowMs);
  } else {
    countEvent(EV_FLOW_EVICTED);
    finish(victim, END_EVICTION, nowMs);
  }
}

/** Ends one live flow (oldest first) for flush(); false when the table is empty. */
export function flushOne(reason: u8, nowMs: f64): bool {
  for (let c = 0; c < NUM_CLASSES; c++) {
    const t = listTail(c);
    if (t < 0) continue;
    const f = flowAt(t);
    finish(t, f.cls == CLS_CLOSED ? (f.state & ST_RST ? END_RST : END_FIN) : reason, nowMs);
    return true;
  }
  return false;
}

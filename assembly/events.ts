/**
 * The core's counters (decoder and flow events, names in core/decoder-events.ts) and statistics (STAT_*).
 * Static memory; JS reads them through u64 views at countersPtr()/statsPtr().
 */
import { NUM_EVENTS } from './generated/events';
import { NUM_STATS } from './generated/abi';

const events: usize = memory.data(NUM_EVENTS * 8);
const stats: usize = memory.data(NUM_STATS * 8);

// @ts-ignore: decorator
@inline export function countEvent(ev: i32): void {
  const p = events + (<usize>ev << 3);
  store<u64>(p, load<u64>(p) + 1);
}

// @ts-ignore: decorator
@inline export function addStat(i: i32, v: u64): void {
  const p = stats + (<usize>i << 3);
  store<u64>(p, load<u64>(p) + v);
}

// @ts-ignore: decorator
@inline export function setStat(i: i32, v: u64): void {
  store<u64>(stats + (<usize>i << 3), v);
}

export function countersPtr(): usize { return events; }
export function numCounters(): i32 { return NUM_EVENTS; }
export function statsPtr(): usize { return stats; }
export function numStats(): i32 { return NUM_STATS; }

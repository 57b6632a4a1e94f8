/**
 * Finished-flow output: a row-major f32 feature matrix and the KeyRecords (declared in core/abi.ts), both
 * allocated once by init. JS reads outRows() rows, then calls clearOut().
 */
import { NUM_FEATURES } from '../generated/schema';
import { KEY_RECORD_BYTES, STAT_ROWS_EMITTED } from '../generated/abi';
import { addStat } from '../events';

export const ROW_BYTES: usize = <usize>NUM_FEATURES * 4;

let features: usize = 0;
let keys: usize = 0;
let capacity: i32 = 0;
export let rows: i32 = 0;

export function outBytes(maxOut: i32): usize {
  return <usize>maxOut * (ROW_BYTES + <usize>KEY_RECORD_BYTES);
}

export function outInit(maxOut: i32): bool {
  features = heap.alloc(<usize>maxOut * ROW_BYTES);
  keys = heap.alloc(<usize>maxOut * <usize>KEY_RECORD_BYTES);
  capacity = maxOut;
  rows = 0;
  return features != 0 && keys != 0;
}

// @ts-ignore: decorator
@inline export function outFreeRows(): i32 { return capacity - rows; }
// @ts-ignore: decorator
@inline export function rowFeatures(r: i32): usize { return features + <usize>r * ROW_BYTES; }
// @ts-ignore: decorator
@inline export function rowKey(r: i32): usize { return keys + <usize>r * <usize>KEY_RECORD_BYTES; }

/** Appends a row: returns its index (the caller checked outFreeRows()). */
export function takeRow(): i32 {
  addStat(STAT_ROWS_EMITTED, 1);
  return rows++;
}

export function outRows(): i32 { return rows; }
export function outCapacity(): i32 { return capacity; }
export function outFeaturesPtr(): usize { return features; }
export function outKeysPtr(): usize { return keys; }
export function clearOut(): void { rows = 0; }

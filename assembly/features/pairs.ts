/**
 * Pair memory: has this source host contacted this destination (host, or host+port+protocol) within the
 * horizon? A bounded, lossy 4-way set-associative cache of 64-bit fingerprints with their last contact time;
 * a miss replaces the set's oldest entry. A forgotten or colliding pair can only make a contact look new
 * (over-count distinct contacts), never hide a new one — the safe direction for scan detection.
 */
import { mix64, addrHash } from '../flow/key';
import { PAIR_HORIZON_S } from '../generated/schema';

/** Contacts older than this count as new again (core/schema.ts PAIR_HORIZON_S, in the feature descriptions). */
export const PAIR_HORIZON_MS: f64 = PAIR_HORIZON_S * 1000;
const WAYS: u32 = 4;
const ENTRY_BYTES: usize = 16;

let table: usize = 0;
let setMask: u32 = 0;

function setsFor(maxFlows: i32): u32 {
  let s: u32 = 64;
  while (s * WAYS < <u32>maxFlows * 2) s <<= 1;
  return s;
}

export function pairBytes(maxFlows: i32): usize {
  return <usize>setsFor(maxFlows) * WAYS * ENTRY_BYTES;
}

export function pairsInit(maxFlows: i32): bool {
  const sets = setsFor(maxFlows);
  table = heap.alloc(<usize>sets * WAYS * ENTRY_BYTES);
  if (table == 0) return false; // freshly grown memory is zero: no fill
  setMask = sets - 1;
  return true;
}

/** Fingerprint of the ordered pair (src host → dst host). */
// @ts-ignore: decorator
@inline export function hostPairKey(src: usize, dst: usize): u64 {
  return hostPairKeyOf(addrHash(src), addrHash(dst));
}

/** The same from the two addresses' hashes (addrHash). */
// @ts-ignore: decorator
@inline export function hostPairKeyOf(srcHash: u64, dstHash: u64): u64 {
  return mix64(srcHash ^ rotl<u64>(dstHash, 31) * 0x9e3779b97f4a7c15) | 1;
}

/** Fingerprint of (src host → dst host, port, protocol) from the host-pair fingerprint. */
// @ts-ignore: decorator
@inline export function portPairKey(pair: u64, port: u32, proto: u32): u64 {
  return mix64(pair ^ ((<u64>port << 8 | <u64>proto) + 1) * 0xbf58476d1ce4e5b9) | 1;
}

/** Prefetch hint (assembly/flow/prefetch.ts): loads the set a contact with this key would use. */
// @ts-ignore: decorator
@inline export function touchPair(key: u64): u64 {
  const set = table + <usize>(<u32>(key >> 40) & setMask) * WAYS * ENTRY_BYTES;
  return load<u64>(set) + load<u64>(set + <usize>WAYS * ENTRY_BYTES - 8);
}

/** Records a contact at nowMs; true when it is new (not seen within the horizon). */
export function pairContact(key: u64, nowMs: f64): bool {
  const set = table + <usize>(<u32>(key >> 40) & setMask) * WAYS * ENTRY_BYTES;
  let oldest = set;
  let oldestMs = Infinity;
  for (let w: u32 = 0; w < WAYS; w++) {
    const e = set + <usize>w * ENTRY_BYTES;
    const k = load<u64>(e);
    const t = load<f64>(e, 8);
    if (k == key) {
      store<f64>(e, nowMs, 8);
      return nowMs - t >= PAIR_HORIZON_MS;
    }
    const age = k == 0 ? -Infinity : t;
    if (age < oldestMs) { oldestMs = age; oldest = e; }
  }
  store<u64>(oldest, key);
  store<f64>(oldest, nowMs, 8);
  return true;
}

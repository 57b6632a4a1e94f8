/**
 * Shared open-addressing index helpers (flow table and host table). Entries are u64: 32-bit hash high, slot
 * index + 1 low, 0 = empty; linear probing.
 */

/** Removes the entry at `pos` by backward-shift deletion: later entries of the probe run move into the hole
 *  unless their home bucket lies cyclically inside (hole, entry], so no tombstones ever accumulate. */
export function indexDelete(index: usize, mask: u32, pos: u32): void {
  let hole = pos;
  let j = pos;
  while (true) {
    j = (j + 1) & mask;
    const e = load<u64>(index + (<usize>j << 3));
    if (e == 0) break;
    const home = <u32>(e >> 32) & mask;
    const stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    store<u64>(index + (<usize>hole << 3), e);
    hole = j;
  }
  store<u64>(index + (<usize>hole << 3), 0);
}

/** Position of the entry for slot `slot` (which must be present) whose hash is h. */
// @ts-ignore: decorator
@inline export function indexFind(index: usize, mask: u32, h: u32, slot: i32): u32 {
  const want = <u64>(slot + 1);
  let pos = h & mask;
  while ((load<u64>(index + (<usize>pos << 3)) & 0xffffffff) != want) pos = (pos + 1) & mask;
  return pos;
}

/** Stores an entry for `slot` in the first free bucket of h's probe run. */
// @ts-ignore: decorator
@inline export function indexInsert(index: usize, mask: u32, h: u32, slot: i32): void {
  let pos = h & mask;
  while (load<u64>(index + (<usize>pos << 3)) != 0) pos = (pos + 1) & mask;
  store<u64>(index + (<usize>pos << 3), (<u64>h << 32) | <u64>(slot + 1));
}

/** Index size for n entries at ≤ 50 % load. */
export function indexSlotsFor(n: i32): u32 {
  let s: u32 = 16;
  while (s < <u32>n * 2) s <<= 1;
  return s;
}

/** Prefetch hint (loads only): the slot a lookup of h will most likely land on, given its first bucket `e`,
 *  looking a short probe run ahead; -1 if none. */
export function probeHint(index: usize, mask: u32, h: u32, e: u64): i32 {
  let pos = h & mask;
  for (let k = 0; k < 4; k++) {
    if (e == 0) return -1;
    if (<u32>(e >> 32) == h) return <i32>(<u32>e) - 1;
    pos = (pos + 1) & mask;
    e = load<u64>(index + (<usize>pos << 3));
  }
  return -1;
}

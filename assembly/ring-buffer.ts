/**
 * The packet ring's memory, allocated once by init() (assembly/flow/engine.ts); ring.ts walks its records.
 * A module of its own so the engine (which allocates) and the packet loop (which calls the engine) do not
 * import each other.
 */
export let ring: usize = 0;
export let ringCap: u32 = 0;

export function ringInit(bytes: i32): bool {
  if (bytes <= 0) return false;
  ring = heap.alloc(<usize>bytes);
  ringCap = <u32>bytes;
  return ring != 0;
}
export function ringPtr(): usize { return ring; }
export function ringCapacity(): i32 { return <i32>ringCap; }

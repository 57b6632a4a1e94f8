/**
 * The packet ring's memory and the capture stage, allocated once by init() (assembly/flow/engine.ts); ring.ts
 * walks the ring's records, pcap-ingest.ts fills the ring from raw capture bytes JS copied into the stage.
 * A module of its own so the engine (which allocates) and the packet loop (which calls the engine) do not
 * import each other.
 */
export let ring: usize = 0;
export let ringCap: u32 = 0;
export let stage: usize = 0;
export let stageCap: u32 = 0;

/** Stage bytes for a ring of `ringBytes`: a quarter (a chunk's records then always fit in a ring ≥ half free). */
export function stageBytesFor(ringBytes: i32): u32 {
  return max(<u32>ringBytes >> 2, <u32>64) & ~(<u32>7);
}

export function ringInit(bytes: i32): bool {
  if (bytes <= 0) return false;
  ring = heap.alloc(<usize>bytes);
  ringCap = <u32>bytes;
  stageCap = stageBytesFor(bytes);
  stage = heap.alloc(<usize>stageCap);
  return ring != 0 && stage != 0;
}
export function ringPtr(): usize { return ring; }
export function ringCapacity(): i32 { return <i32>ringCap; }
export function stagePtr(): usize { return stage; }
export function stageCapacity(): i32 { return <i32>stageCap; }

// OWNED BY: decode work. Packet ring and the per-batch loop: process(), lastOffset(), ringPtr(), ringCapacity().
// STUB — replaced by the real implementation.
import { flowPacket, outFree } from './flow/engine';
import { decodePacket } from './decode/link';

let ring: usize = 0;
let ringCap: i32 = 0;
let last: i32 = 0;

export function ringInit(bytes: i32): bool {
  ring = heap.alloc(<usize>bytes);
  ringCap = bytes;
  return ring != 0;
}
export function ringPtr(): usize { return ring; }
export function ringCapacity(): i32 { return ringCap; }
export function lastOffset(): i32 { return last; }
export function process(byteOffset: i32, count: i32): i32 {
  last = byteOffset;
  let n = 0;
  while (n < count && outFree() > 2) {
    const p = ring + <usize>last;
    const caplen = load<u32>(p, 8);
    if (decodePacket(p + 24, caplen, <u32>load<u16>(p, 16), load<f64>(p))) flowPacket();
    last += 24 + ((caplen + 7) & ~7);
    n++;
  }
  return n;
}

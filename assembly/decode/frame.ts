/**
 * Where the current frame starts, so a layer can tell how many bytes were on the wire after its own header
 * (IP length fields are checked against the wire length, not against the possibly snap-truncated capture).
 */
import { pktWirelen } from './packet';

export let frameStart: usize = 0;

export function setFrameStart(p: usize): void {
  frameStart = p;
}

/** Bytes on the wire from `p` to the end of the frame (0 if `p` is past it). */
// @ts-ignore: decorator
@inline export function wireAfter(p: usize): u32 {
  const used = <u32>(p - frameStart);
  return used >= pktWirelen ? 0 : pktWirelen - used;
}

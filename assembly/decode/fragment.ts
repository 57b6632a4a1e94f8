/**
 * A first fragment too short to hold its whole transport header (the "tiny fragment" evasion: the header is
 * split across fragments). Without reassembly its header cannot be read, but it is still part of its flow —
 * like the later fragments, which are kept with ports 0. The caller has counted the event; this keeps the
 * packet and takes the ports if their 4 bytes are there. Anything that is not a fragment is rejected.
 */
import { be16 } from '../bytes';
import { pktIsFragment, pktSrcPort, pktDstPort, pktPayloadLen } from './packet';

export function tinyFirstFragment(p: usize, cap: u32, plen: u32): bool {
  if (!pktIsFragment) return false;
  if (cap >= 4 && plen >= 4) {
    pktSrcPort = <u16>be16(p);
    pktDstPort = <u16>be16(p + 2);
  }
  pktPayloadLen = plen;
  return true;
}

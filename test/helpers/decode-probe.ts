// AssemblyScript entry (not TypeScript): compiled by test/helpers/decode-probe-build.ts into a tiny module that
// runs decodePacket() on one frame and exposes every decoded field, so decoder tests check values, not only
// counters. It links the same assembly/decode sources as build/netsensor.wasm.
import { decodePacket } from '../../assembly/decode/link';
import {
  pktSrc, pktDst, pktWirelen, pktVlanId, pktVlanCount, pktIpVersion, pktIpTotalLen, pktIpHeaderLen,
  pktIsFragment, pktIsLaterFragment, pktProtocol, pktSrcPort, pktDstPort, pktL4HeaderLen, pktPayloadLen,
  pktTcpFlags, pktTcpWindow, pktTcpMss, pktTcpWscale, pktIcmpType, pktIcmpCode, pktIsDns, pktDnsQr,
  pktDnsQtype, pktDnsRcode, pktDnsAncount, pktDnsQnameLen, pktDnsQnameLabels, pktDnsQnameMaxLabel,
  pktDnsQnameEntropy,
} from '../../assembly/decode/packet';
export { countersPtr, numCounters } from '../../assembly/events';

const FRAME_BYTES: i32 = 262144;
const frame: usize = memory.data(FRAME_BYTES);

export function framePtr(): usize { return frame; }
export function frameBytes(): i32 { return FRAME_BYTES; }
export function srcPtr(): usize { return pktSrc; }
export function dstPtr(): usize { return pktDst; }

export function decode(caplen: u32, wirelen: u32, linktype: u32): i32 {
  pktWirelen = wirelen;
  return decodePacket(frame, caplen, linktype, 0) ? 1 : 0;
}

/** Field by index; order = PROBE_FIELDS in test/helpers/decode-probe-build.ts. */
export function field(i: i32): f64 {
  switch (i) {
    case 0: return <f64>pktVlanId;
    case 1: return <f64>pktVlanCount;
    case 2: return <f64>pktIpVersion;
    case 3: return <f64>pktIpTotalLen;
    case 4: return <f64>pktIpHeaderLen;
    case 5: return pktIsFragment ? 1 : 0;
    case 6: return pktIsLaterFragment ? 1 : 0;
    case 7: return <f64>pktProtocol;
    case 8: return <f64>pktSrcPort;
    case 9: return <f64>pktDstPort;
    case 10: return <f64>pktL4HeaderLen;
    case 11: return <f64>pktPayloadLen;
    case 12: return <f64>pktTcpFlags;
    case 13: return <f64>pktTcpWindow;
    case 14: return <f64>pktTcpMss;
    case 15: return <f64>pktTcpWscale;
    case 16: return <f64>pktIcmpType;
    case 17: return <f64>pktIcmpCode;
    case 18: return pktIsDns ? 1 : 0;
    case 19: return <f64>pktDnsQr;
    case 20: return <f64>pktDnsQtype;
    case 21: return <f64>pktDnsRcode;
    case 22: return <f64>pktDnsAncount;
    case 23: return <f64>pktDnsQnameLen;
    case 24: return <f64>pktDnsQnameLabels;
    case 25: return <f64>pktDnsQnameMaxLabel;
    case 26: return <f64>pktDnsQnameEntropy;
    default: return NaN;
  }
}

/** Decodes the same frame `n` times (decoder cost without the flow engine, for measurements). */
export function decodeRepeat(caplen: u32, wirelen: u32, linktype: u32, n: i32): i32 {
  let ok = 0;
  for (let i = 0; i < n; i++) {
    pktWirelen = wirelen;
    if (decodePacket(frame, caplen, linktype, <f64>i)) ok++;
  }
  return ok;
}

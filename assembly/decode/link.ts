/**
 * decodePacket(): resets the decoded-packet globals (assembly/decode/packet.ts) and dispatches on the pcap
 * link type (0/108 BSD loopback, 1 Ethernet, 9 PPP, 12/14/101 raw IP, 104 Cisco HDLC, 113 SLL, 228/229 raw
 * IPv4/IPv6, 239 NFLOG, 276 SLL2) with a plain switch (no function pointers). Returns true when the packet is IP with a usable
 * network header — ports are 0 for later fragments and portless protocols — and false after counting the
 * event that explains why not.
 *
 * The caller (assembly/ring.ts) sets pktWirelen first; if it is smaller than caplen, caplen is used.
 */
import { countEvent } from '../events';
import {
  EV_DECODER_PKT_TOO_SMALL, EV_DECODER_LINK_UNSUPPORTED, EV_DECODER_RAW_INVALID_IP_VERSION,
} from '../generated/events';
import { u8at } from '../bytes';
import { setFrameStart } from './frame';
import { decodeEthernet } from './ethernet';
import { decodeSll } from './sll';
import { decodeSll2 } from './sll2';
import { decodeNull } from './null';
import { decodePpp } from './ppp';
import { decodeChdlc } from './chdlc';
import { decodeNflog } from './nflog';
import { decodeIpv4 } from './ipv4';
import { decodeIpv6 } from './ipv6';
import {
  pktTsMs, pktCaplen, pktWirelen, pktVlanId, pktVlanCount, pktIpVersion, pktIpTotalLen, pktIpHeaderLen,
  pktIsFragment, pktIsLaterFragment, pktHiddenOptions, pktProtocol, pktSrcPort, pktDstPort, pktL4HeaderLen, pktPayloadLen,
  pktTcpFlags, pktTcpWindow, pktTcpMss, pktTcpWscale, pktIcmpType, pktIcmpCode, pktIcmpReply, pktIsDns,
} from './packet';

export const LINKTYPE_NULL: u32 = 0;
export const LINKTYPE_ETHERNET: u32 = 1;
export const LINKTYPE_PPP: u32 = 9;
export const LINKTYPE_C_HDLC: u32 = 104;
export const LINKTYPE_NFLOG: u32 = 239;
export const LINKTYPE_RAW: u32 = 101;
export const LINKTYPE_LOOP: u32 = 108;
export const LINKTYPE_LINUX_SLL: u32 = 113;
export const LINKTYPE_IPV4: u32 = 228;
export const LINKTYPE_IPV6: u32 = 229;
export const LINKTYPE_LINUX_SLL2: u32 = 276;
/** DLT_RAW as some systems wrote it into files before LINKTYPE_RAW existed (12 most, 14 OpenBSD). */
export const DLT_RAW_12: u32 = 12;
export const DLT_RAW_14: u32 = 14;

export function decodePacket(data: usize, caplen: u32, linktype: u32, tsMs: f64): bool {
  pktTsMs = tsMs;
  pktCaplen = caplen;
  if (pktWirelen < caplen) pktWirelen = caplen;
  pktVlanId = 0;
  pktVlanCount = 0;
  pktIpVersion = 0;
  pktIpTotalLen = 0;
  pktIpHeaderLen = 0;
  pktIsFragment = false;
  pktIsLaterFragment = false;
  pktHiddenOptions = false;
  pktProtocol = 0;
  pktSrcPort = 0;
  pktDstPort = 0;
  pktL4HeaderLen = 0;
  pktPayloadLen = 0;
  pktTcpFlags = 0;
  pktTcpWindow = 0;
  pktTcpMss = 0;
  pktTcpWscale = -1;
  pktIcmpType = -1;
  pktIcmpCode = -1;
  pktIcmpReply = false;
  pktIsDns = false;
  setFrameStart(data);
  if (caplen == 0) {
    countEvent(EV_DECODER_PKT_TOO_SMALL);
    return false;
  }
  switch (linktype) {
    case LINKTYPE_ETHERNET: return decodeEthernet(data, caplen);
    case LINKTYPE_LINUX_SLL: return decodeSll(data, caplen);
    case LINKTYPE_LINUX_SLL2: return decodeSll2(data, caplen);
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: return decodeNull(data, caplen);
    case LINKTYPE_IPV4: return decodeIpv4(data, caplen);
    case LINKTYPE_IPV6: return decodeIpv6(data, caplen);
    case LINKTYPE_PPP: return decodePpp(data, caplen);
    case LINKTYPE_C_HDLC: return decodeChdlc(data, caplen);
    case LINKTYPE_NFLOG: return decodeNflog(data, caplen);
    case LINKTYPE_RAW:
    case DLT_RAW_12:
    case DLT_RAW_14: return decodeRaw(data, caplen);
    default:
      countEvent(EV_DECODER_LINK_UNSUPPORTED);
      return false;
  }
}

/** Raw IP: the version nibble says which. */
function decodeRaw(p: usize, len: u32): bool {
  const v = u8at(p) >> 4;
  if (v == 4) return decodeIpv4(p, len);
  if (v == 6) return decodeIpv6(p, len);
  countEvent(EV_DECODER_RAW_INVALID_IP_VERSION);
  return false;
}

/**
 * Per-flow accumulators: what one packet adds to its flow's record (counters, sizes, inter-arrival times,
 * TCP flags and state, initial windows, active/idle periods, ICMP and DNS fields). Reads the decoded packet
 * globals (assembly/decode/packet.ts); `reverse` = the packet travels responder → initiator.
 */
import {
  Flow, OFF_RECORD_START, OFF_RECORD_END, OFF_S2D, OFF_D2S, DIR_LAST_MS, DIR_BYTES, DIR_HEADER_BYTES, DIR_PAYLOAD_BYTES,
  DIR_PS, DIR_DATA_PACKETS, DIR_IAT, DIR_FLAGS, OFF_IAT_BI, OFF_ACTIVE, OFF_IDLE, ST_FIN_S2D, ST_FIN_D2S, ST_RST, ST_CLOSED, ST_SYNACK_SEEN, ST_ESTABLISHED,
  ST_ANSWERED, ST_DNS_NAME_SET, ST_ICMP_SET, ST_S2D_WIN_SET, ST_D2S_WIN_SET,
} from '../flow/flow';
import { statAdd } from './stats';
import { activityGapMs } from '../flow/timeouts';
import {
  pktIpTotalLen, pktIpHeaderLen, pktL4HeaderLen, pktPayloadLen, pktProtocol, pktTcpFlags, pktTcpWindow, pktTcpMss,
  pktTcpWscale, pktIsFragment, pktHiddenOptions, pktIcmpType, pktIcmpCode, pktIsDns, pktDnsQr, pktDnsQtype, pktDnsRcode,
  pktDnsAncount, pktDnsQnameLen, pktDnsQnameLabels, pktDnsQnameMaxLabel, pktDnsQnameEntropy,
} from '../decode/packet';

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;

/** TCP header flag bit (FIN = bit 0 … CWR = bit 7) → position in the schema's flag order (syn cwr ece urg ack psh rst fin). */
const FLAG_SLOT: usize = memory.data<u8>([7, 0, 6, 5, 4, 3, 2, 1]);

/** Starts a new record in slot f at nowMs: zeroes every per-record field and sets the "absent" markers. */
export function startRecord(f: Flow, nowMs: f64, seq: u32): void {
  const p = changetype<usize>(f);
  memory.fill(p + OFF_RECORD_START, 0, OFF_RECORD_END - OFF_RECORD_START);
  f.state &= ~(ST_DNS_NAME_SET | ST_ICMP_SET | ST_S2D_WIN_SET | ST_D2S_WIN_SET);
  f.seq = seq;
  f.firstMs = nowMs;
  f.lastMs = nowMs;
  f.activeStartMs = nowMs;
  f.lastInterimMs = nowMs;
  f.tcpWscale = -1;
  f.icmpType = -1;
  f.icmpCode = -1;
  f.dnsRcode = -1;
}

/** Adds the current packet (at nowMs) to flow f. */
export function accumulate(f: Flow, reverse: bool, nowMs: f64): void {
  const p = changetype<usize>(f);
  const size = <f64>pktIpTotalLen;
  const header = <f64>(pktIpHeaderLen + pktL4HeaderLen);
  const payload = pktPayloadLen;
  const isTcp = pktProtocol == 6;
  const flags = isTcp ? pktTcpFlags : <u8>0;
  const seen = f.s2dPackets + f.d2sPackets;

  if (seen > 0) {
    const gap = nowMs - f.lastMs;
    statAdd(p + OFF_IAT_BI, gap);
    if (gap >= activityGapMs) {
      const active = f.lastMs - f.activeStartMs;
      if (active > 0) statAdd(p + OFF_ACTIVE, active);
      statAdd(p + OFF_IDLE, gap);
      f.activeStartMs = nowMs;
    }
  }
  f.lastMs = nowMs;

  // The packet's own direction block (flow.ts): the same code for both directions, on 2 cache lines.
  const d = p + (reverse ? OFF_D2S : OFF_S2D);
  const dirPackets = reverse ? f.d2sPackets : f.s2dPackets;
  if (dirPackets > 0) statAdd(d + DIR_IAT, nowMs - load<f64>(d, DIR_LAST_MS));
  store<f64>(d, nowMs, DIR_LAST_MS);
  if (reverse) f.d2sPackets = dirPackets + 1;
  else f.s2dPackets = dirPackets + 1;
  store<f64>(d, load<f64>(d, DIR_BYTES) + size, DIR_BYTES);
  store<f64>(d, load<f64>(d, DIR_HEADER_BYTES) + header, DIR_HEADER_BYTES);
  store<f64>(d, load<f64>(d, DIR_PAYLOAD_BYTES) + <f64>payload, DIR_PAYLOAD_BYTES);
  if (payload > 0) store<u32>(d, load<u32>(d, DIR_DATA_PACKETS) + 1, DIR_DATA_PACKETS);
  statAdd(d + DIR_PS, size);
  const flagBase = d + DIR_FLAGS;

  if (!reverse) {
    if (isTcp) {
      if (!(f.state & ST_S2D_WIN_SET)) {
        f.state |= ST_S2D_WIN_SET;
        f.s2dInitWin = pktTcpWindow;
      }
      // The options of the initiator's SYN (a later SYN retransmission does not overwrite them).
      if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN && f.tcpMss == 0 && f.tcpWscale < 0) {
        f.tcpMss = <u16>pktTcpMss; // a 16-bit option value (0 = absent)
        f.tcpWscale = <i16>pktTcpWscale; // an 8-bit option value, or -1
      }
      if (flags & TCP_FIN) f.state |= ST_FIN_S2D;
      if ((flags & (TCP_ACK | TCP_SYN | TCP_RST)) == TCP_ACK && (f.state & ST_SYNACK_SEEN)) f.state |= ST_ESTABLISHED;
    }
  } else {
    f.state |= ST_ANSWERED;
    if (isTcp) {
      if (!(f.state & ST_D2S_WIN_SET)) {
        f.state |= ST_D2S_WIN_SET;
        f.d2sInitWin = pktTcpWindow;
      }
      if (flags & TCP_FIN) f.state |= ST_FIN_D2S;
      if ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) f.state |= ST_SYNACK_SEEN;
    }
  }

  if (isTcp) {
    let bits = <u32>flags;
    while (bits != 0) {
      const b = ctz(bits);
      const q = flagBase + (<usize>load<u8>(FLAG_SLOT + <usize>b) << 2);
      store<u32>(q, load<u32>(q) + 1);
      bits &= bits - 1;
    }
    if (flags & TCP_RST) f.state |= ST_RST | ST_CLOSED;
    if ((f.state & (ST_FIN_S2D | ST_FIN_D2S)) == (ST_FIN_S2D | ST_FIN_D2S)) f.state |= ST_CLOSED;
  }

  if (pktIsFragment) f.fragments++;
  if (pktHiddenOptions) f.hiddenOptionPackets++;
  if (!(f.state & ST_ICMP_SET) && pktIcmpType >= 0) {
    f.state |= ST_ICMP_SET;
    f.icmpType = <i16>pktIcmpType;
    f.icmpCode = <i16>pktIcmpCode;
  }
  if (pktIsDns) {
    if (pktDnsQr == 0) f.dnsQueries++;
    else {
      f.dnsResponses++;
      f.dnsRcode = <i16>pktDnsRcode;
      f.dnsAnswers += pktDnsAncount;
    }
    if (!(f.state & ST_DNS_NAME_SET)) {
      f.state |= ST_DNS_NAME_SET;
      f.dnsQtype = pktDnsQtype;
      f.dnsQnameLen = <u16>min<u32>(pktDnsQnameLen, 0xffff);
      f.dnsQnameLabels = <u16>min<u32>(pktDnsQnameLabels, 0xffff);
      f.dnsQnameMaxLabel = <u16>min<u32>(pktDnsQnameMaxLabel, 0xffff);
      f.dnsQnameEntropy = pktDnsQnameEntropy;
    }
  }
}

/**
 * Evidence that does not come from the model: shapes of traffic that are attacks by construction, whatever a flow
 * classifier makes of each flow alone. Each rule is a cheap test on the flow key (no features), documented with
 * what it catches and what keeps it from firing on ordinary traffic. Rule evidence goes through the same episodes,
 * thresholds and calibration as the model's.
 *
 * reflection: a UDP datagram from a service port that amplifies (DNS, NTP, SNMP, SSDP, ISAKMP, BACnet, CLDAP,
 *   memcached, chargen, …) to a unicast address that never answered or asked in that flow: a reply without its
 *   request, i.e. a reflected response aimed at a spoofed victim. Ordinary replies share their flow with the
 *   request (the core keys both directions as one flow), so they never match; multicast/broadcast responses
 *   (mDNS, SSDP NOTIFY) are excluded. Evidence goes to the destination (the victim), and its `dos` episode needs
 *   many such flows from several reflectors (families.ts), so a few stray replies stay observations.
 *
 * echo flood: an ICMP/ICMPv6 echo flow (one identifier, so one flow however long it runs) that carried at least
 *   ECHO_FLOOD.minRequests requests at ECHO_FLOOD.minRate or more per second. The core reports such a flow early, at
 *   128 packets (both directions), so the rule sees a flood within a fraction of a second, while a model trained on
 *   whole flows sees only the first 128 packets of something. Ordinary pings send one request per second and
 *   monitoring tools a few per target. Evidence goes to the source and, for a flood from several hosts, to the
 *   destination, weighted like the model's dos evidence (families.ts strength) but never below the dos threshold in
 *   force: whatever its rate above the minimum, and whatever the model says of it, a match opens an episode on its own.
 */
import type { EvidenceBuffer, FlowVerdict } from './evidence.js';
import { FAMILIES } from './families.js';

/** UDP services abused for reflection/amplification (US-CERT TA14-017A and later additions). */
export const AMPLIFIER_PORTS: ReadonlySet<number> = new Set([
  17, 19, 53, 69, 111, 123, 137, 161, 389, 500, 1900, 3283, 3702, 4500, 5351, 5353, 5683, 10001, 11211, 37810, 47808,
]);

function isMulticastOrBroadcast(ip: string): boolean {
  if (ip.includes(':')) return ip.toLowerCase().startsWith('ff');
  const first = Number(ip.slice(0, ip.indexOf('.')));
  return (first >= 224 && first <= 239) || ip === '255.255.255.255' || ip.endsWith('.255');
}

/**
 * An ICMP echo flood in one flow: this many requests, at this rate (requests per second over the flow's duration).
 * 64: the core's early report comes at 128 packets in both directions, i.e. 64 requests when the victim answers.
 */
export const ECHO_FLOOD = { minRequests: 64, minRate: 50 } as const;

/** The echo pairs' key (docs/flows.md): `dst_port` is the request type × 256. */
const ECHO_KEY: Readonly<Record<number, number>> = { 1: 8 * 256, 58: 128 * 256 };

function isReflectedReply(proto: number, srcPort: number, dst2srcPackets: number): boolean {
  return proto === 17 && dst2srcPackets === 0 && AMPLIFIER_PORTS.has(srcPort);
}

function isEchoFlood(proto: number, dstPort: number, src2dstPackets: number, durationMs: number): boolean {
  return ECHO_KEY[proto] === dstPort && src2dstPackets >= ECHO_FLOOD.minRequests
    && src2dstPackets * 1000 >= ECHO_FLOOD.minRate * Math.max(durationMs, 1);
}

/**
 * Whether a flow can carry rule evidence (the pipeline hands such flows over even when the model calls them benign).
 * Plain numbers, no objects: it runs on every flow row.
 */
export function ruleCandidate(proto: number, srcPort: number, dstPort: number, src2dstPackets: number, dst2srcPackets: number, durationMs: number): boolean {
  return isReflectedReply(proto, srcPort, dst2srcPackets) || isEchoFlood(proto, dstPort, src2dstPackets, durationMs);
}

/**
 * Adds the rules' evidence of one flow to `out`. A reflection match adds nothing where the model already gave dos
 * evidence on the victim; an echo-flood match raises the model's dos evidence to at least its own weight (a model
 * that calls the flood dos with little confidence must not weigh less than no verdict at all).
 */
export function ruleEvidence(v: FlowVerdict, out: EvidenceBuffer, dosThreshold: number): void {
  const f = v.flow;
  if (isReflectedReply(f.proto, f.src_port, f.dst2src_packets)) {
    if (!isMulticastOrBroadcast(f.dst_ip) && !out.has('dos', 'dst')) out.push('dos', 'dst', f.dst_ip, f.src_ip, f.src_port, 1);
  } else if (isEchoFlood(f.proto, f.dst_port, f.src2dst_packets, f.last_seen_ms - f.first_seen_ms)) {
    // The rule's match is a flood by definition: at least the episode threshold, so a slower flood (a loaded
    // sender at 100 requests/s) opens as surely as a fast one; a faster one weighs more, as the model's would.
    const weight = Math.max(FAMILIES.dos!.strength!(v.row), dosThreshold);
    out.atLeast('dos', 'src', f.src_ip, f.dst_ip, f.dst_port, weight);
    out.atLeast('dos', 'dst', f.dst_ip, f.src_ip, f.dst_port, weight);
  }
}

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
 */
import type { Evidence, FlowVerdict } from './evidence.js';

/** UDP services abused for reflection/amplification (US-CERT TA14-017A and later additions). */
export const AMPLIFIER_PORTS: ReadonlySet<number> = new Set([
  17, 19, 53, 69, 111, 123, 137, 161, 389, 500, 1900, 3283, 3702, 4500, 5351, 5353, 5683, 10001, 11211, 37810, 47808,
]);

function isMulticastOrBroadcast(ip: string): boolean {
  if (ip.includes(':')) return ip.toLowerCase().startsWith('ff');
  const first = Number(ip.slice(0, ip.indexOf('.')));
  return (first >= 224 && first <= 239) || ip === '255.255.255.255' || ip.endsWith('.255');
}

/** Whether a flow can carry rule evidence (the pipeline hands such flows over even when the model calls them benign). */
export function ruleCandidate(proto: number, dst2srcPackets: number, srcPort: number): boolean {
  return proto === 17 && dst2srcPackets === 0 && AMPLIFIER_PORTS.has(srcPort);
}

export function ruleEvidence(v: FlowVerdict): Evidence[] {
  const f = v.flow;
  if (!ruleCandidate(f.proto, f.dst2src_packets, f.src_port) || isMulticastOrBroadcast(f.dst_ip)) return [];
  return [{ family: 'dos', role: 'dst', actor: f.dst_ip, peer: f.src_ip, port: f.src_port, weight: 1 }];
}

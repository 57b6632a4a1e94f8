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
 *   A flow whose replies do not mirror its requests is not a flood but a tunnel (below), and is left to that rule.
 *
 * echo tunnel: an ICMP/ICMPv6 echo flow whose replies do not mirror its requests. An echo reply returns the data of
 *   its request (RFC 792, RFC 4443), so an ordinary ping's replies are at most as many as its requests and of the same
 *   mean size, whatever is lost. An ICMP tunnel (ptunnel-ng, icmptunnel, hans) carries its own data in the replies:
 *   more replies than requests (the peer's kernel still answers each request, and the tunnel's proxy sends its own
 *   replies as well) or replies of another mean size. ECHO_TUNNEL's bounds were set from that rule, not fitted: ≥ 32
 *   requests and ≥ 8 replies, and replies > 1.25 × requests + 4, or a mean size that differs by more than
 *   max(32 B, 15 %), or at least max(3, 3 %) more replies than requests carrying more bytes than all the requests (a
 *   tunnel used for uploads: ptunnel-ng's proxy adds a few replies of its own, of other sizes). Duplicated replies
 *   (copies of their requests' size), or a few lost large pings, stay inside them. No benign echo flow of the lab or
 *   the benign corpus (every split) meets them. Evidence goes to the source as `tunnel`, at
 *   least the tunnel threshold in force, and replaces what the model made of the flow (a tunnel's flow read as a
 *   flood, an upload or a DNS tunnel is still this tunnel).
 *
 * DNS NULL tunnel: a DNS flow (one client socket to one server) whose queries are of type NULL and that carried at
 *   least NULL_TUNNEL.minQueries of them. NULL records (type 10) are "experimental" in RFC 1035 and carry arbitrary
 *   binary data: no resolver, browser, phone or device asks for them — none of the lab's benign traffic and none of
 *   the benign corpus (every split) does — while iodine uses them by default, to poll its server even when the tunnel
 *   is idle. An idle tunnel is what the model misses: its long, slow flow of short queries looks like nothing, and
 *   only its first query's name is in the features. A single `dig NULL` (one query, its own socket) stays below the
 *   minimum. Evidence goes to the client as `dns_tunnel`, at least the threshold in force: a match opens an episode
 *   on its own, at the flow's first record that shows it (the early one at 128 packets, or the interim one every
 *   `core.interimS`).
 *
 * fingerprint probe: a flow whose initiator sent what no conforming stack sends, which OS fingerprinting and stealth
 *   scans (nmap -sF/-sN/-sX and -O, xprobe2) send to read a host's reactions. TCP: an initiator that never set ACK but
 *   set FIN (a FIN, Xmas or SYN+FIN probe), or set none of SYN, ACK and RST (a NULL, PSH- or URG-only probe). In TCP
 *   (RFC 9293) every segment after the opening SYN carries ACK, and FIN is only sent on a synchronized connection, so
 *   a real connection, also one the sensor picks up in the middle, never looks like that (fragmented flows are left
 *   out: a tiny first fragment ends before the flags, later fragments carry no TCP header). ICMP (IPv4): timestamp (13),
 *   information (15) and address mask (17) requests — information and address mask are deprecated (RFC 6918);
 *   timestamp requests are what nmap -PP and xprobe2 send. One such flow may be a freak (a corrupted segment, a
 *   one-off tool); two of them from one source (FAMILIES.scan.minProbes) are a deliberate fingerprint, however few
 *   ports it touches: each weighs the scan threshold, and the scan family takes that many probes as its support
 *   instead of its minimum of flows and targets. None of the benign corpus (every split) has a single such flow;
 *   nmap's FIN, NULL and Xmas scans and xprobe2's ICMP modules are made of them.
 *
 * hidden options: a flow whose packets carried data in IPv6 hop-by-hop or destination options of a type IANA never
 *   assigned, in at least HIDDEN_OPTION_PACKETS packets (the core flags it: assembly/decode/ipv6-options.ts). Routers and
 *   hosts skip unknown options whose action bits say so, which is what makes them a covert channel (THC covert_send6
 *   hides a file in them); a conforming sender only sends assigned types. Evidence goes to the source as `tunnel`, at
 *   least the tunnel threshold: the channel's flow is often short (its carrier is an ordinary ping), and what it hides
 *   is what it is. No flow of the benign corpus or of the lab carries such options.
 *
 * ICMP errors are reactions: a destination unreachable, time exceeded, parameter problem, source quench or redirect
 *   (ICMPv6: unreachable, packet too big, time exceeded, parameter problem) is sent because of a packet its receiver
 *   sent (RFC 1122 3.2.2, RFC 4443 2.4). A host answering a UDP or IP-protocol scan with hundreds of port or protocol
 *   unreachables a second is the scan's victim, not a flooder: such a flow is never evidence against its sender
 *   (evidence.ts drops its `src` items, whatever the model makes of it). Evidence about its receiver stays: errors
 *   that reach a host from many sources are backscatter of traffic sent in its name. Left out with it: a flood of
 *   forged errors from a single source (BlackNurse) no longer raises `dos` on that source.
 */
import { featureIndex } from '../core/schema.js';
import type { EvidenceBuffer, FlowVerdict } from './evidence.js';
import { AMPLIFIER_PORTS } from './amplifier-ports.js';
import { isEchoFlow } from './echo.js';
import { FAMILIES } from './families.js';
import { isGroupAddress } from './group-address.js';

/**
 * An ICMP echo flood in one flow: this many requests, at this rate (requests per second over the flow's duration).
 * 64: the core's early report comes at 128 packets in both directions, i.e. 64 requests when the victim answers.
 */
export const ECHO_FLOOD = { minRequests: 64, minRate: 50 } as const;

/** An ICMP echo flow whose replies do not mirror its requests (see the header). */
export const ECHO_TUNNEL = {
  minRequests: 32, minReplies: 8, replyExcess: 1.25, replyExcessSlack: 4, sizeDeltaBytes: 32, sizeDeltaShare: 0.15,
  /** More replies AND more reply bytes than requests: at least this many extra replies, and this share of the requests. */
  extraReplies: 3, extraShare: 0.03,
} as const;

/** Fingerprint probes (see the header): the ICMP request types that only probes send. */
export const PROBES = { icmpTypes: new Set([13, 15, 17]) as ReadonlySet<number> } as const;
const S2D_PACKETS = featureIndex('src2dst_packets');
const S2D_SYN = featureIndex('src2dst_syn_packets');
const S2D_ACK = featureIndex('src2dst_ack_packets');
const S2D_RST = featureIndex('src2dst_rst_packets');
const S2D_FIN = featureIndex('src2dst_fin_packets');
const FRAGMENTS = featureIndex('ip_fragments');

/** A DNS flow of NULL queries (see the header): the query type, and the least queries. */
export const NULL_TUNNEL = { qtype: 10, minQueries: 4 } as const;
const QTYPE = featureIndex('dns_qtype');
const QUERIES = featureIndex('dns_queries');

/** ICMP error types (see the header), by protocol: the key's `dst_port` is type × 256 + code (docs/flows.md). */
const ICMP_ERRORS: Readonly<Record<number, ReadonlySet<number>>> = { 1: new Set([3, 4, 5, 11, 12]), 58: new Set([1, 2, 3, 4]) };

/** Whether a flow is an ICMP/ICMPv6 error stream: a reaction to its receiver's traffic, never its sender's act. */
export function isIcmpError(proto: number, dstPort: number): boolean {
  return ICMP_ERRORS[proto]?.has(dstPort >> 8) ?? false;
}

function isReflectedReply(proto: number, srcPort: number, dst2srcPackets: number): boolean {
  return proto === 17 && dst2srcPackets === 0 && AMPLIFIER_PORTS.has(srcPort);
}

function isEchoTunnel(proto: number, dstPort: number, reqs: number, reqBytes: number, reps: number, repBytes: number): boolean {
  if (!isEchoFlow(proto, dstPort) || reqs < ECHO_TUNNEL.minRequests || reps < ECHO_TUNNEL.minReplies) return false;
  if (reps > ECHO_TUNNEL.replyExcess * reqs + ECHO_TUNNEL.replyExcessSlack) return true;
  const req = reqBytes / reqs;
  const sizeDelta = Math.abs(repBytes / reps - req);
  // a tunnel whose answers are small (an upload): a few replies more than requests, carrying more bytes than all the
  // requests did, which mirrored replies (a subset of the requests' data) cannot — and not mere copies (duplicated
  // replies of a ping have its size exactly)
  if (reps - reqs >= Math.max(ECHO_TUNNEL.extraReplies, ECHO_TUNNEL.extraShare * reqs) && repBytes > reqBytes && sizeDelta >= 1) return true;
  return sizeDelta > Math.max(ECHO_TUNNEL.sizeDeltaBytes, ECHO_TUNNEL.sizeDeltaShare * req);
}

function isNullTunnel(dnsQtype: number, dnsQueries: number): boolean {
  return dnsQtype === NULL_TUNNEL.qtype && dnsQueries >= NULL_TUNNEL.minQueries;
}

function isProbe(proto: number, srcPort: number, dstPort: number, row: ArrayLike<number>): boolean {
  if (proto === 6) {
    // a fragmented flow's flags are unknown: a tiny first fragment stops before them, later ones have no TCP header
    if (row[FRAGMENTS]! > 0 || (srcPort === 0 && dstPort === 0)) return false;
    return row[S2D_PACKETS]! > 0 && row[S2D_ACK]! === 0 && (row[S2D_FIN]! > 0 || (row[S2D_SYN]! === 0 && row[S2D_RST]! === 0));
  }
  return proto === 1 && PROBES.icmpTypes.has(dstPort >> 8); // the key's dst_port is type × 256 + code
}

function isEchoFlood(proto: number, dstPort: number, src2dstPackets: number, durationMs: number): boolean {
  return isEchoFlow(proto, dstPort) && src2dstPackets >= ECHO_FLOOD.minRequests
    && src2dstPackets * 1000 >= ECHO_FLOOD.minRate * Math.max(durationMs, 1);
}

/**
 * Whether a flow can carry rule evidence (the pipeline hands such flows over even when the model calls them benign).
 * Plain numbers, no objects: it runs on every flow row.
 */
export function ruleCandidate(proto: number, srcPort: number, dstPort: number, src2dstPackets: number, src2dstBytes: number,
  dst2srcPackets: number, dst2srcBytes: number, durationMs: number, row: ArrayLike<number>, hiddenOptions: boolean): boolean {
  return hiddenOptions || isReflectedReply(proto, srcPort, dst2srcPackets) || isEchoFlood(proto, dstPort, src2dstPackets, durationMs)
    || isEchoTunnel(proto, dstPort, src2dstPackets, src2dstBytes, dst2srcPackets, dst2srcBytes)
    || isNullTunnel(row[QTYPE]!, row[QUERIES]!) || isProbe(proto, srcPort, dstPort, row);
}

/**
 * Adds the rules' evidence of one flow to `out`. An echo-tunnel match replaces the model's evidence. A reflection
 * match adds nothing where the model already gave dos evidence on the victim; an echo-flood match raises the model's
 * dos evidence to at least its own weight (a model that calls the flood dos with little confidence must not weigh less
 * than no verdict at all).
 */
export function ruleEvidence(v: FlowVerdict, out: EvidenceBuffer, thresholdOf: (family: string) => number): void {
  const f = v.flow;
  if (isEchoTunnel(f.proto, f.dst_port, f.src2dst_packets, f.src2dst_bytes, f.dst2src_packets, f.dst2src_bytes)) {
    out.length = 0;
    out.push('tunnel', 'src', f.src_ip, f.dst_ip, f.dst_port, Math.max(FAMILIES.tunnel!.strength!(v.row), thresholdOf('tunnel')));
  } else if (isReflectedReply(f.proto, f.src_port, f.dst2src_packets)) {
    if (!isGroupAddress(f.dst_ip) && !out.has('dos', 'dst')) out.push('dos', 'dst', f.dst_ip, f.src_ip, f.src_port, 1);
  } else if (isEchoFlood(f.proto, f.dst_port, f.src2dst_packets, f.last_seen_ms - f.first_seen_ms)) {
    // The rule's match is a flood by definition: at least the episode threshold, so a slower flood (a loaded
    // sender at 100 requests/s) opens as surely as a fast one; a faster one weighs more, as the model's would.
    const weight = Math.max(FAMILIES.dos!.strength!(v.row), thresholdOf('dos'));
    out.atLeast('dos', 'src', f.src_ip, f.dst_ip, f.dst_port, weight);
    out.atLeast('dos', 'dst', f.dst_ip, f.src_ip, f.dst_port, weight);
  }
  if (v.hiddenOptions) out.atLeast('tunnel', 'src', f.src_ip, f.dst_ip, f.dst_port, Math.max(FAMILIES.tunnel!.strength!(v.row), thresholdOf('tunnel')));
  if (isProbe(f.proto, f.src_port, f.dst_port, v.row)) out.atLeast('scan', 'src', f.src_ip, f.dst_ip, f.dst_port, thresholdOf('scan')).probe = true;
  if (isNullTunnel(v.row[QTYPE]!, v.row[QUERIES]!)) {
    out.atLeast('dns_tunnel', 'src', f.src_ip, f.dst_ip, f.dst_port, Math.max(FAMILIES.dns_tunnel!.strength!(v.row), thresholdOf('dns_tunnel')));
  }
}

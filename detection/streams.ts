/**
 * Streams and conversations, not floods: connectionless flows (neither TCP nor ICMP: UDP, GRE, ESP, …) of at least
 * `minPackets` that are one of
 *   - a stream: slower than `maxPps`, between dynamic ports (both ≥ 1024; a protocol without ports, such as GRE or ESP,
 *     qualifies). Cameras streaming RTP to a recorder, IPTV, a VPN's carrier or a call send one long flow at a steady
 *     rate, often one way, on ports their control protocol chose. A consumer video stream stays under ≈ 2,500
 *     packets a second (4K at 25 Mbit/s in 1,316-byte datagrams); a one-socket flood worth the name runs far above.
 *   - a conversation: whatever its rate and ports, its quieter side sent at least `minAnswered` packets and one for
 *     every `answerRatio` of the other's — QUIC and VPN carriers acknowledge what they receive, games answer. A flood's
 *     target does not keep talking back to the flooding socket (a closed port answers with ICMP errors, which are
 *     other flows, and rate-limited).
 * Neither if either port is a reflection service's (amplifier-ports.ts): a service port answers requests, so many
 * packets on it (DHCP starvation's DISCOVERs, a reflector's replies, a query flood and its answers) are never a stream
 * or a conversation. The model, which saw none of these, reads such flows as `dos`, and a flow's packet count is its
 * `dos` strength: one camera at 200 datagrams a second was a flood within 15 s, a VPN download at 60 Mbit/s within a
 * second. Floods of many flows (random ports or sources: a packet or two each) are unaffected, and ICMP echo floods
 * have their own rule (rules.ts). Read by the dos family's `requires` (families.ts). Given up: a one-socket UDP
 * flood between dynamic ports slower than `maxPps`, or one its target answers in kind.
 */
import { featureIndex } from '../core/schema.js';
import { AMPLIFIER_PORTS } from './amplifier-ports.js';

const F = {
  packets: featureIndex('bidirectional_packets'),
  pps: featureIndex('bidirectional_packets_per_s'),
  protocol: featureIndex('protocol'),
  s2dPackets: featureIndex('src2dst_packets'),
  d2sPackets: featureIndex('dst2src_packets'),
};

/** The bounds (see above). */
export const STREAM = { minPackets: 64, maxPps: 5_000, minPort: 1024, minAnswered: 8, answerRatio: 16 } as const;

export function isStream(r: ArrayLike<number>, srcPort: number, dstPort: number): boolean {
  const proto = r[F.protocol]!;
  if (proto === 6 || proto === 1 || proto === 58 || r[F.packets]! < STREAM.minPackets) return false;
  if (AMPLIFIER_PORTS.has(srcPort) || AMPLIFIER_PORTS.has(dstPort)) return false;
  const quiet = Math.min(r[F.s2dPackets]!, r[F.d2sPackets]!), loud = Math.max(r[F.s2dPackets]!, r[F.d2sPackets]!);
  if (quiet >= STREAM.minAnswered && quiet * STREAM.answerRatio >= loud) return true; // a conversation
  if (r[F.pps]! >= STREAM.maxPps) return false;
  return (srcPort === 0 && dstPort === 0) || (srcPort >= STREAM.minPort && dstPort >= STREAM.minPort);
}

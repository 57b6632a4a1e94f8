/**
 * What it takes, per attack family, for evidence to become an alert. One table, read by the evidence rules
 * (evidence.ts), the episode tracker (episodes.ts) and the calibration (models/train/episode-calibration.ts).
 *
 * - `roles`: whose behaviour the family describes. Floods are tracked against the source AND the destination: a
 *   single-source flood passes on its source, a spoofed or distributed one on its victim (many distinct sources).
 * - `halfLifeMs`: evidence decays with this half-life (flow time). Floods and scans are fast; beacons and
 *   exfiltration are slow, so their evidence must be remembered for longer.
 * - `threshold`: decayed evidence needed to open an episode. The shipped defaults are floors; the model carries
 *   calibrated values (metadata `episode_thresholds`, calibrated on validation captures only).
 * - `minFlows` / `minTargets` / `minPeers`: support that no amount of single-flow evidence replaces (a lone
 *   probe is not a scan). `minTargets` counts distinct (peer, port) pairs; `minPeers` distinct peers.
 * - `minProbes`: alternative support — this many fingerprint probes (rules.ts: flows no conforming stack sends) from
 *   the actor, whatever its flows and targets.
 * - `strength`: how much one flow can say by itself (a DNS flow with hundreds of long, high-entropy queries is a
 *   tunnel on its own; a SYN is one probe). Multiplies the flow's weight, capped.
 * - `requires`: what a flow must be for the model's verdict to count as this family at all, whatever its
 *   probability (a DNS tunnel carries DNS: a web connection read as one is the model's confusion, not evidence).
 * - `hostTargets`: the family is about a conversation with a host (its target or its server), so a flow to a group
 *   address (group-address.ts: multicast, broadcast) is no evidence of it, whatever the model says: many
 *   membership reports or announcements are a host joining groups, not a scan of them.
 */
import { featureIndex } from '../core/schema.js';
import { isAnsweredEcho } from './echo.js';
import { isStream } from './streams.js';

export type Role = 'src' | 'dst';

export interface FamilyPolicy {
  roles: readonly Role[];
  halfLifeMs: number;
  threshold: number;
  minFlows: number;
  /** Alternative to minFlows: this many packets (a flood that is one long flow, e.g. an ICMP echo flood). */
  minPackets?: number;
  minTargets: number;
  /** Alternative to minFlows and minTargets: this many fingerprint probes (rules.ts). */
  minProbes?: number;
  /** For role dst: distinct sources needed (spoofed / distributed). */
  minPeersDst: number;
  /** Suricata order: 1 high, 2 medium, 3 low. */
  severity: 1 | 2 | 3;
  /** Evidence is kept per (actor, peer): a beacon is one device talking to one controller, not to the cloud at large. */
  perPeer?: boolean;
  strength?: (row: ArrayLike<number>) => number;
  requires?: (row: ArrayLike<number>, srcPort: number, dstPort: number) => boolean;
  hostTargets?: boolean;
}

const F = {
  dnsQueries: featureIndex('dns_queries'),
  dnsResponses: featureIndex('dns_responses'),
  packets: featureIndex('bidirectional_packets'),
  upPayload: featureIndex('src2dst_payload_bytes'),
  pps: featureIndex('bidirectional_packets_per_s'),
  protocol: featureIndex('protocol'),
  d2sPackets: featureIndex('dst2src_packets'),
};

const clamp = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);

export const FAMILIES: Readonly<Record<string, FamilyPolicy>> = {
  scan: {
    roles: ['src'], halfLifeMs: 60_000, threshold: 5, minFlows: 5, minTargets: 5, minProbes: 2, minPeersDst: 0, severity: 2, hostTargets: true,
    requires: (r, _srcPort, dstPort) => !isAnsweredEcho(r[F.protocol]!, dstPort, r[F.d2sPackets]!),
  },
  dos: {
    roles: ['src', 'dst'], halfLifeMs: 60_000, threshold: 20, minFlows: 20, minPackets: 100, minTargets: 1, minPeersDst: 3, severity: 1,
    // a flood that is one flow (an ICMP echo flood keeps its identifier) carries its packet count and rate
    strength: (r) => clamp(Math.max(r[F.packets]! / 100, r[F.pps]! / 20), 1, 30),
    requires: (r, srcPort, dstPort) => !isStream(r, srcPort, dstPort),
  },
  bruteforce: { roles: ['src'], halfLifeMs: 120_000, threshold: 6, minFlows: 6, minTargets: 1, minPeersDst: 0, severity: 1, hostTargets: true },
  dns_tunnel: {
    roles: ['src'], halfLifeMs: 300_000, threshold: 6, minFlows: 1, minTargets: 1, minPeersDst: 0, severity: 1, hostTargets: true,
    strength: (r) => clamp(r[F.dnsQueries]! / 10, 1, 30),
    // DNS messages (the core parses them on UDP), or DNS's port (over TCP the messages are not parsed)
    requires: (r, _srcPort, dstPort) => r[F.dnsQueries]! + r[F.dnsResponses]! > 0 || dstPort === 53,
  },
  tunnel: {
    roles: ['src'], halfLifeMs: 300_000, threshold: 6, minFlows: 1, minTargets: 1, minPeersDst: 0, severity: 1, hostTargets: true,
    strength: (r) => clamp(r[F.packets]! / 20, 1, 30),
  },
  exfil: {
    roles: ['src'], halfLifeMs: 1_800_000, threshold: 4, minFlows: 1, minTargets: 1, minPeersDst: 0, severity: 1, hostTargets: true,
    strength: (r) => clamp(r[F.upPayload]! / 262_144, 1, 20),
  },
  c2: { roles: ['src'], halfLifeMs: 1_800_000, threshold: 5, minFlows: 5, minTargets: 1, minPeersDst: 0, severity: 1, perPeer: true, hostTargets: true },
  anomaly: { roles: ['src'], halfLifeMs: 300_000, threshold: 12, minFlows: 12, minTargets: 3, minPeersDst: 0, severity: 3 },
};

/**
 * How flow verdicts are read as evidence (inference/decide.ts overrides): the model's per-class thresholds are
 * calibrated for single-flow alerts at ~1e-4 false positives per flow; as evidence, any non-benign most-probable
 * class with a probability ≥ 0.5 counts (weighted by its confidence), because episodes — calibrated on benign
 * validation data — decide what becomes an alert.
 */
export const EVIDENCE_DECISION = { classThresholdCap: 0.5 } as const;

/** Weight of one anomaly-only flow: anomalies are weak evidence until many agree. */
export const ANOMALY_WEIGHT = 0.5;

/** The policy of a family; classes a model adds without a policy are treated like `anomaly` but keep their name. */
export function policyOf(family: string): FamilyPolicy {
  return FAMILIES[family] ?? FAMILIES.anomaly!;
}

/** Thresholds in force: the calibrated ones where given, never below the table's floors. */
export function thresholdsWith(calibrated: Readonly<Record<string, number>> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [f, p] of Object.entries(FAMILIES)) out[f] = Math.max(p.threshold, calibrated?.[f] ?? 0);
  return out;
}

/** Episode thresholds calibrated with a model (its metadata `episode_thresholds`, JSON), if it has them. */
export function episodeThresholds(meta: Readonly<Record<string, string>> | undefined): Record<string, number> | undefined {
  const raw = meta?.episode_thresholds;
  if (!raw) return undefined;
  try {
    const o = JSON.parse(raw) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(o).filter(([, v]) => typeof v === 'number' && Number.isFinite(v) && v > 0)) as Record<string, number>;
  } catch { return undefined; }
}

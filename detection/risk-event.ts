/**
 * Builds RiskEvent objects (protocol/event.ts) from scored flow records: a UUIDv7 id (unique, time-ordered,
 * so the gateway stores each event once however often it arrives), the flow key, the model's verdict, a few
 * summary features by schema name and the top contributing features.
 *
 * Severity (Suricata numbering, 1 = high): an attack class's base severity from CLASS_SEVERITY, one level
 * lower when the model is not confident (score < 0.8); anomaly-only events are low (3) unless the anomaly
 * score is at least 3× the threshold (medium).
 */
import { checkEvent, type FlowKey, type RiskEvent } from '../protocol/event.js';
import { FEATURE_NAMES } from '../core/schema.js';
import { EPISODE_LIST_CAP } from '../protocol/episode.js';
import { eventId } from '../protocol/event-id.js';
import type { EpisodeChange } from './episodes.js';

/** What the core hands back for one flow record (the key part), as protocol/event.ts names it. */
export type FlowRecordKey = FlowKey;

/** The detector's verdict for one row that alerts. */
export interface Verdict {
  /** Alerting class: a model class name, or 'anomaly'. */
  alertClass: string;
  /** Probability of the class (0..1). */
  score: number;
  /** Anomaly score (reconstruction error / threshold). */
  anomaly: number;
  /** Contributing features, largest first. */
  top: Array<[string, number]>;
}

/** Base severity per attack class; unknown classes are medium. */
export const CLASS_SEVERITY: Record<string, 1 | 2 | 3> = {
  dos: 1, ddos: 1, flood: 1, syn_flood: 1, udp_flood: 1, bruteforce: 1, brute_force: 1, web_attack: 1,
  exfiltration: 1, tunnel: 1, dns_tunnel: 1, c2: 1, botnet: 1, infiltration: 1, heartbleed: 1,
  scan: 2, portscan: 2, port_scan: 2, recon: 2, probe: 2,
};

export function severityOf(v: Pick<Verdict, 'alertClass' | 'score' | 'anomaly'>): 1 | 2 | 3 {
  if (v.alertClass === 'anomaly') return v.anomaly >= 3 ? 2 : 3;
  const base = CLASS_SEVERITY[v.alertClass] ?? 2;
  return (v.score < 0.8 ? Math.min(3, base + 1) : base) as 1 | 2 | 3;
}

/** Summary features carried by every event (enough for an analyst to read the flow at a glance). */
export const SUMMARY_FEATURES = [
  'duration_ms', 'protocol', 'dst_port', 'bidirectional_packets', 'bidirectional_bytes',
  'bidirectional_syn_packets', 'bidirectional_rst_packets', 'src2dst_payload_bytes', 'dst2src_payload_bytes',
  'src_host_w1s_flows', 'src_host_w1s_dst_ports', 'src_host_w10s_dst_hosts', 'src_host_w1s_failed_flows',
  'dst_host_w1s_flows', 'dst_host_w1s_src_hosts', 'dns_qname_entropy',
] as const;

const SUMMARY_INDEX: Array<[string, number]> = SUMMARY_FEATURES
  .map((n) => [n, FEATURE_NAMES.indexOf(n)] as [string, number])
  .filter(([, i]) => i >= 0);

const round = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(6)) : 0);
const CLASS_PATTERN = /^[a-z][a-z0-9_]{0,31}$/;
const FEATURE_NAME = /^[a-z0-9_]{1,64}$/;

export interface BuildInput {
  sensorId: string;
  modelVersion: string;
  flow: FlowRecordKey;
  /** The flow's feature row (schema order), e.g. a subarray of the batch matrix. */
  features: ArrayLike<number>;
  verdict: Verdict;
  now?: number;
}

/** One RiskEvent, valid by protocol/event.ts's own checker (a bug here must not produce events the gateway rejects). */
export function buildEvent(i: BuildInput): RiskEvent {
  const features: Record<string, number> = {};
  for (const [name, idx] of SUMMARY_INDEX) features[name] = round(i.features[idx] ?? 0);
  const cls = CLASS_PATTERN.test(i.verdict.alertClass) ? i.verdict.alertClass : 'unknown';
  const ev: RiskEvent = {
    v: 1,
    id: eventId(),
    sensor: i.sensorId,
    ts: i.now ?? Date.now(),
    flow: {
      ...i.flow,
      first_seen_ms: Math.max(0, i.flow.first_seen_ms),
      last_seen_ms: Math.max(0, i.flow.last_seen_ms),
    },
    class: cls,
    score: Math.min(1, Math.max(0, round(i.verdict.score))),
    anomaly: Math.max(0, round(i.verdict.anomaly)),
    severity: severityOf({ alertClass: cls, score: i.verdict.score, anomaly: i.verdict.anomaly }),
    model: i.modelVersion.slice(0, 128) || 'unknown',
    features,
    top: i.verdict.top.filter(([n, c]) => FEATURE_NAME.test(n) && Number.isFinite(c)).slice(0, 16).map(([n, c]) => [n, round(c)]),
  };
  const why = checkEvent(ev, i.sensorId);
  if (why) throw new Error(`built an invalid event: ${why}`);
  return ev;
}

/** The risk event that publishes one episode change (protocol/episode.ts): the family, its counts, its latest strong flow. */
export function episodeEvent(c: EpisodeChange, sensorId: string, modelVersion: string, now = Date.now()): RiskEvent {
  const tr = c.track;
  const rep = tr.rep;
  const features: Record<string, number> = {};
  for (const [name, idx] of SUMMARY_INDEX) features[name] = round(rep.row[idx] ?? 0);
  const cls = CLASS_PATTERN.test(tr.family) ? tr.family : 'unknown';
  const top = [...tr.top.entries()].filter(([n, v]) => FEATURE_NAME.test(n) && Number.isFinite(v))
    .sort((a, b) => b[1] - a[1]).slice(0, 8).map(([n, v]) => [n, round(v)] as [string, number]);
  const list = <T>(s: Set<T>) => [...s].slice(0, EPISODE_LIST_CAP);
  const ev: RiskEvent = {
    v: 1,
    id: eventId(now),
    sensor: sensorId,
    ts: now,
    flow: { ...rep.flow, first_seen_ms: Math.max(0, rep.flow.first_seen_ms), last_seen_ms: Math.max(0, rep.flow.last_seen_ms) },
    class: cls,
    score: Math.min(1, Math.max(0, round(tr.scoreMax))),
    anomaly: Math.max(0, round(tr.anomalyMax)),
    severity: cls === 'anomaly' ? (tr.anomalyMax >= 3 ? 2 : 3) : tr.policy.severity,
    model: modelVersion.slice(0, 128) || 'unknown',
    features,
    top,
    episode: {
      id: c.id,
      state: c.state,
      role: tr.role,
      actor: tr.actor,
      flows: Math.max(1, tr.flows),
      packets: tr.packets,
      bytes: tr.bytes,
      peer_count: tr.peers.size,
      port_count: tr.ports.size,
      peers: list(tr.peers),
      ports: list(tr.ports),
      first_seen_ms: Math.max(0, tr.firstMs),
      last_seen_ms: Math.max(0, tr.lastMs, tr.firstMs),
      evidence: round(tr.evidence),
      threshold: round(tr.threshold),
      suppressed: tr.suppressed,
    },
  };
  const why = checkEvent(ev, sensorId);
  if (why) throw new Error(`built an invalid episode event: ${why}`);
  return ev;
}

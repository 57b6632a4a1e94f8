/**
 * An alert as a Suricata EVE `alert` record — what the gateway's EVE file (gateway/eve-file.ts) and
 * `netsensor detect --alerts --format eve` write, valid against Suricata's EVE JSON Schema so Filebeat's Suricata
 * module, Wazuh or EveBox read it as they read Suricata's own.
 *
 * One record per alert when it is created and one per escalation (severity raised); the other changes of an
 * alert (more flows, closed) are not new alerts and go only to MQTT and the API. The flat fields and flow{}
 * describe the alert's first flow; what EVE has no field for goes under alert.metadata as lists of strings
 * (Suricata's rule-metadata shape), so Elasticsearch maps every key as keywords.
 */
import { eveFlowCounts, eveTimestamp, eveTuple } from '../core/export/eve.js';
import type { AlertReason } from './alert-publisher.js';
import type { Alert } from './alert-types.js';
import { categoryOf, signature, signatureId } from './alerts.js';

/** EVE records of alerts: created and escalated only. */
export const isEveReason = (reason: AlertReason): boolean => reason !== 'updated';

/** Emerging Threats' signature_severity words for Suricata's 1..3. */
const SEVERITY_WORDS = { 1: 'Major', 2: 'Minor', 3: 'Informational' } as const;

const LIST_CAP = 64;
const strings = (xs: Array<string | number>) => xs.slice(0, LIST_CAP).map(String);
const iso = (ms: number) => new Date(ms).toISOString();

/** alert.metadata: every value a non-empty list of strings. `top_features` keeps order as "name=contribution". */
function metadata(a: Alert, reason: AlertReason): Record<string, string[]> {
  const m: Record<string, string[]> = {
    signature_severity: [SEVERITY_WORDS[a.severity]],
    alert_id: [a.id],
    reason: [reason],
    kind: [a.kind],
    class: [a.class],
    status: [a.status],
    first_seen: [iso(a.first_seen)],
    last_seen: [iso(a.last_seen)],
    event_count: [String(a.event_count)],
    flow_count: [String(a.flow_count ?? a.event_count)],
    host_count: [String(a.host_count)],
    port_count: [String(a.port_count)],
    score_max: [String(a.score_max)],
    anomaly_max: [String(a.anomaly_max)],
    model: [a.model],
  };
  const lists: Array<[string, Array<string | number> | undefined]> = [
    ['sensors', a.sensors], ['hosts', a.hosts], ['ports', a.ports], ['top_features', a.top.map(([n, c]) => `${n}=${c}`)],
    ['sources', a.kind === 'fan_in' ? a.sources : undefined],
    ['class_counts', a.class_counts ? Object.entries(a.class_counts).map(([c, n]) => `${c}=${n}`) : undefined],
  ];
  for (const [k, v] of lists) if (v && v.length) m[k] = strings(v);
  if (a.kind === 'fan_in') m.source_count = [String(a.source_count ?? 0)];
  if (a.merged_into) m.merged_into = [a.merged_into];
  return m;
}

export function toEveAlert(a: Alert, sensor: string, reason: AlertReason, communityIdSeed = 0): Record<string, unknown> {
  const f = a.flow;
  const first = f?.first_seen_ms ?? a.first_seen;
  const { flow_id, ...tuple } = eveTuple(
    { src_ip: a.src_ip, src_port: a.src_port, dst_ip: a.dest_ip, dst_port: a.dest_port, proto: a.proto, vlan: f?.vlan ?? 0, first_seen_ms: first },
    { answered: (f?.dst2src_packets ?? 0) > 0, communityIdSeed },
  );
  const icmp = tuple.icmp_type !== undefined;
  const endpoint = (ip: string, port: number) => (icmp ? { ip } : { ip, port });
  return {
    timestamp: eveTimestamp(a.last_seen),
    flow_id,
    event_type: 'alert',
    ...tuple,
    ...(f?.app_proto ? { app_proto: f.app_proto } : {}),
    host: sensor,
    alert: {
      action: 'allowed',
      gid: 1,
      signature_id: signatureId(a),
      rev: 1,
      signature: signature(a),
      category: categoryOf(a.class),
      severity: a.severity,
      // A fan_in alert is about its target: its sources are many (often spoofed), listed in metadata.sources.
      ...(a.kind === 'fan_in' ? {} : { source: endpoint(a.src_ip, a.src_port) }),
      target: endpoint(a.dest_ip, a.dest_port),
      metadata: metadata(a, reason),
    },
    flow: f ? eveFlowCounts(f) : { start: eveTimestamp(a.first_seen), end: eveTimestamp(a.last_seen) },
  };
}

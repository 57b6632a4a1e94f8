/**
 * Alert messages: the JSON published on netsensor/v1/alerts/<severity>/<sensor> when an alert is created or
 * its severity rises. Field names follow Suricata's EVE JSON where the meaning is the same (timestamp, src_ip,
 * src_port, dest_ip, dest_port, proto, host, alert.{action,signature,category,severity}); what EVE has no name
 * for lives under `netsensor`. Schema documented in docs/gateway.md.
 */
import { SEVERITY_NAMES } from '../protocol/event.js';
import { topics } from '../protocol/topics.js';
import type { AlertReason } from './alert-publisher.js';
import type { Alert } from './alert-types.js';

export interface EveAlert {
  timestamp: string;
  event_type: 'alert';
  src_ip: string;
  src_port: number;
  dest_ip: string;
  dest_port: number;
  proto: string;
  /** The sensor that reported the event that caused this message (EVE's sensor-name field). */
  host: string;
  alert: { action: 'allowed'; signature_id: number; signature: string; category: string; severity: 1 | 2 | 3 };
  /** What EVE has no name for: the alert record's own fields (gateway/alert-types.ts), times as ISO strings. */
  netsensor: Pick<Alert, 'kind' | 'class' | 'status' | 'event_count' | 'flow_count' | 'sensors' | 'hosts' | 'host_count' | 'ports' | 'port_count'
    | 'score_max' | 'anomaly_max' | 'model' | 'top' | 'source_count' | 'sources' | 'class_counts' | 'merged_into'> & {
    alert_id: string;
    /** The alert's version (Alert.version): with alert_id, what a subscriber drops repeats by. */
    version: number;
    reason: AlertReason;
    first_seen: string;
    last_seen: string;
  };
}

const PROTO_NAMES: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'IPv6-ICMP' };

/** Suricata classification.config categories where one fits the model class. */
const CATEGORIES: Record<string, string> = {
  scan: 'Detection of a Network Scan',
  portscan: 'Detection of a Network Scan',
  port_scan: 'Detection of a Network Scan',
  host_sweep: 'Detection of a Network Scan',
  dos: 'Detection of a Denial of Service Attack',
  ddos: 'Detection of a Denial of Service Attack',
  bruteforce: 'Attempted User Privilege Gain',
  web_attack: 'Web Application Attack',
  exploit: 'Attempted Administrator Privilege Gain',
  dns_tunnel: 'Potential Corporate Privacy Violation',
  tunnel: 'Potential Corporate Privacy Violation',
  exfiltration: 'Potential Corporate Privacy Violation',
  malware: 'A Network Trojan was detected',
  c2: 'A Network Trojan was detected',
  anomaly: 'Misc activity',
};

/** Stable signature ids per rule kind/class (netsensor's own range, not Suricata's rule space). */
export function signatureId(a: Alert): number {
  let h = 0;
  for (const ch of `${a.kind}:${a.class}`) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return 9_000_000 + (h % 1_000_000);
}

export function signature(a: Alert): string {
  if (a.kind === 'port_scan') return `NETSENSOR port scan from ${a.src_ip} (${a.port_count} ports)`;
  if (a.kind === 'host_sweep') return `NETSENSOR host sweep / lateral movement from ${a.src_ip} (${a.host_count} hosts)`;
  if (a.kind === 'fan_in') return `NETSENSOR distributed ${a.class} against ${a.dest_ip} from ${a.source_count ?? 0} sources`;
  return `NETSENSOR ${a.class} from ${a.src_ip}`;
}

export const categoryOf = (cls: string): string => CATEGORIES[cls] ?? 'Potentially Bad Traffic';

export function toEve(a: Alert, sensor: string, reason: AlertReason): EveAlert {
  const eve: EveAlert = {
    timestamp: new Date(a.last_seen).toISOString(),
    event_type: 'alert',
    src_ip: a.src_ip,
    src_port: a.src_port,
    dest_ip: a.dest_ip,
    dest_port: a.dest_port,
    proto: PROTO_NAMES[a.proto] ?? String(a.proto),
    host: sensor,
    alert: { action: 'allowed', signature_id: signatureId(a), signature: signature(a), category: categoryOf(a.class), severity: a.severity },
    netsensor: {
      alert_id: a.id, version: a.version ?? 0, reason, kind: a.kind, class: a.class, status: a.status, event_count: a.event_count, flow_count: a.flow_count ?? a.event_count,
      first_seen: new Date(a.first_seen).toISOString(), last_seen: new Date(a.last_seen).toISOString(),
      sensors: a.sensors, hosts: a.hosts.slice(0, 64), host_count: a.host_count, ports: a.ports.slice(0, 64), port_count: a.port_count,
      score_max: a.score_max, anomaly_max: a.anomaly_max, model: a.model, top: a.top,
    },
  };
  if (a.kind === 'fan_in') {
    eve.netsensor.source_count = a.source_count;
    eve.netsensor.sources = a.sources?.slice(0, 64);
    eve.netsensor.class_counts = a.class_counts;
  }
  if (a.merged_into) eve.netsensor.merged_into = a.merged_into;
  return eve;
}

export function alertTopic(a: Alert, sensor: string): string {
  return topics.alert(SEVERITY_NAMES[a.severity], sensor);
}

/** The gateway's alert record: what correlation produces, the store keeps and the API returns. */
export type AlertKind = 'class' | 'port_scan' | 'host_sweep' | 'fan_in';

export interface AlertFlow {
  vlan: number;
  first_seen_ms: number;
  last_seen_ms: number;
  src2dst_packets: number;
  src2dst_bytes: number;
  dst2src_packets: number;
  dst2src_bytes: number;
  /** Application protocol the sensor recognised (EVE's app_proto): 'dns' when the flow carried a DNS name. */
  app_proto?: string;
}

export interface Alert {
  /** UUIDv7: creation-ordered, so the API pages by id. */
  id: string;
  /**
   * 'class': same source + class; 'port_scan': many ports of one host; 'host_sweep': many hosts (scan or lateral
   * movement); 'fan_in': many one-shot sources against one destination host (distributed attack, spoofed flood).
   */
  kind: AlertKind;
  /** The attack family: the events' class for kind 'class'; the majority class of its events for 'fan_in'; `scan` for port_scan / host_sweep. */
  class: string;
  /** The source; for kind 'fan_in' the first source folded into it (see `sources` / `source_count`). */
  src_ip: string;
  /** 1 high, 2 medium, 3 low (Suricata's order). */
  severity: 1 | 2 | 3;
  /** Severity before any raise for being seen by several sensors. */
  base_severity: 1 | 2 | 3;
  status: 'open' | 'closed';
  /** Flow time of the first / last event that joined (ms since the epoch). */
  first_seen: number;
  last_seen: number;
  /** Gateway wall-clock times. */
  created_at: number;
  updated_at: number;
  /**
   * Counts the alert's changes (1 when created, +1 for every correlation step that changed it). A message about
   * the alert carries it, so a subscriber drops a repeated announcement by (id, version). Absent in alerts stored
   * before it existed (read as 0).
   */
  version?: number;
  event_count: number;
  /** Flows behind the alert: the sum of its episodes' flow counts, plus one per single-flow event (older sensors). */
  flow_count?: number;
  sensors: string[];
  /** Affected destination hosts and ports (capped lists; the counts are exact up to the tracking cap). */
  hosts: string[];
  host_count: number;
  ports: number[];
  port_count: number;
  /** Of the first event, for the EVE-style flat fields. */
  src_port: number;
  dest_ip: string;
  dest_port: number;
  proto: number;
  /** Of the first event: its flow's counters and times (EVE's flow{} block); absent in alerts stored before it existed. */
  flow?: AlertFlow;
  score_max: number;
  anomaly_max: number;
  model: string;
  /** Features that contributed most, summed over the alert's events (largest first). */
  top: Array<[string, number]>;
  /** fan_in only: distinct sources folded into the alert (exact up to the tracking cap) and the first of them. */
  source_count?: number;
  sources?: string[];
  /** fan_in only: events per class (the majority gives `class`). */
  class_counts?: Record<string, number>;
  /** A one-event per-source alert absorbed by a fan_in alert: closed, and this is the fan_in alert's id. */
  merged_into?: string;
}

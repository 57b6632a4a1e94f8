/**
 * The gateway's Prometheus metrics, on a registry of its own (a process may also run a sensor). Names follow
 * Prometheus conventions: the stock `process_*` / `nodejs_*` series unprefixed (what Node dashboards expect),
 * `netsensor_build_info{version,nodejs,component} 1`, counters end in `_total`, units in the name. Labelled
 * counters start at 0 for every label value they can take, so `rate()` and alert rules see them from the
 * first scrape, not from the first increment.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { registerBuildInfo } from '../common/build-info.js';
import type { RejectReason } from '../protocol/event.js';
import type { AlertKind } from './alert-types.js';

// Every value a label can take (the `satisfies` lists fail to compile when their union gains a member).
const REJECT_REASONS = ['oversize', 'not_cbor', 'not_object', 'unknown_version', 'bad_sensor', 'sensor_mismatch', 'bad_events',
  'too_many_events', 'bad_seq', 'bad_event', 'bad_topic', 'store_failed'] as const satisfies ReadonlyArray<RejectReason | 'bad_topic' | 'store_failed'>;
const ALERT_KINDS = ['class', 'port_scan', 'host_sweep', 'fan_in'] as const satisfies readonly AlertKind[];
export const AUTH_FAILURES = ['anonymous_remote', 'bad_credentials', 'throttled', 'client_id', 'takeover'] as const;
export const RECORD_STAGES = ['alert', 'alert_changes', 'homeassistant'] as const;
const ACL_ACTIONS = ['publish', 'subscribe'] as const;

/** A labelled counter with each of `values` present at 0 from the start. */
function zeroed<L extends string>(c: Counter<L>, label: L, values: readonly string[]): Counter<L> {
  for (const v of values) c.inc({ [label]: v } as Partial<Record<L, string>>, 0);
  return c;
}

export function createGatewayMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerBuildInfo(registry, 'gateway');
  const counter = <L extends string>(name: string, help: string, label: L, values: readonly string[]) =>
    zeroed(new Counter({ name, help, labelNames: [label], registers: [registry] }), label, values);
  const m = {
    registry,
    batches: new Counter({ name: 'netsensor_gateway_batches_received_total', help: 'event batches received', registers: [registry] }),
    rejected: counter('netsensor_gateway_batches_rejected_total', 'event batches rejected, by reason', 'reason', REJECT_REASONS),
    stored: new Counter({ name: 'netsensor_gateway_events_stored_total', help: 'events stored (first delivery)', registers: [registry] }),
    duplicates: new Counter({ name: 'netsensor_gateway_events_duplicate_total', help: 'events ignored because already stored', registers: [registry] }),
    alertsCreated: counter('netsensor_gateway_alerts_created_total', 'alerts created, by kind', 'kind', ALERT_KINDS),
    alertsSuppressed: new Counter({ name: 'netsensor_gateway_alerts_suppressed_total', help: 'alerts held back by an operator suppression, by rule', labelNames: ['rule'] as const, registers: [registry] }),
    alertsEscalated: new Counter({ name: 'netsensor_gateway_alerts_escalated_total', help: 'alert severity raises', registers: [registry] }),
    aclDenied: counter('netsensor_gateway_acl_denied_total', 'embedded broker denials, by action', 'action', ACL_ACTIONS),
    authFailed: counter('netsensor_gateway_auth_failed_total', 'embedded broker refused connections, by reason', 'reason', AUTH_FAILURES),
    recordFailed: counter('netsensor_gateway_record_failed_total', 'records whose handling failed and was skipped (the gateway carries on), by stage', 'stage', RECORD_STAGES),
    sensorsOnline: new Gauge({ name: 'netsensor_gateway_sensors_online', help: 'sensors currently online', registers: [registry] }),
    openAlerts: new Gauge({ name: 'netsensor_gateway_alerts_open', help: 'open alerts', registers: [registry] }),
    ingestSeconds: new Histogram({ name: 'netsensor_gateway_ingest_batch_seconds', help: 'time to validate, store and correlate one batch', buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5], registers: [registry] }),
  };
  return m;
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

/** Series read from the running gateway at scrape time: per-sensor last seen and the store's size. */
export function watchGateway(m: GatewayMetrics, src: { sensors(): Array<{ id: string; last_seen: number }>; storeBytes(): number }): void {
  new Gauge({
    name: 'netsensor_gateway_sensor_last_seen_timestamp_seconds', help: 'when the gateway last heard from each sensor (status or events), Unix time',
    labelNames: ['sensor'] as const, registers: [m.registry],
    collect() {
      this.reset();
      for (const s of src.sensors()) this.set({ sensor: s.id }, s.last_seen / 1000);
    },
  });
  new Gauge({
    name: 'netsensor_gateway_store_bytes', help: 'bytes in use in the SQLite store (pages not on the free list)', registers: [m.registry],
    collect() { this.set(src.storeBytes()); },
  });
}

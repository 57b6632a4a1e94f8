/** The gateway's Prometheus metrics, on a registry of its own (a process may also run a sensor). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createGatewayMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'netsensor_gateway_process_' });
  const m = {
    registry,
    batches: new Counter({ name: 'netsensor_gateway_batches_received_total', help: 'event batches received', registers: [registry] }),
    rejected: new Counter({ name: 'netsensor_gateway_batches_rejected_total', help: 'event batches rejected, by reason', labelNames: ['reason'] as const, registers: [registry] }),
    stored: new Counter({ name: 'netsensor_gateway_events_stored_total', help: 'events stored (first delivery)', registers: [registry] }),
    duplicates: new Counter({ name: 'netsensor_gateway_events_duplicate_total', help: 'events ignored because already stored', registers: [registry] }),
    alertsCreated: new Counter({ name: 'netsensor_gateway_alerts_created_total', help: 'alerts created', labelNames: ['kind'] as const, registers: [registry] }),
    alertsEscalated: new Counter({ name: 'netsensor_gateway_alerts_escalated_total', help: 'alert severity raises', registers: [registry] }),
    aclDenied: new Counter({ name: 'netsensor_gateway_acl_denied_total', help: 'embedded broker denials', labelNames: ['action'] as const, registers: [registry] }),
    authFailed: new Counter({ name: 'netsensor_gateway_auth_failed_total', help: 'embedded broker refused connections, by reason', labelNames: ['reason'] as const, registers: [registry] }),
    recordFailed: new Counter({ name: 'netsensor_gateway_record_failed_total', help: 'records whose handling failed and was skipped (the gateway carries on), by stage', labelNames: ['stage'] as const, registers: [registry] }),
    sensorsOnline: new Gauge({ name: 'netsensor_gateway_sensors_online', help: 'sensors currently online', registers: [registry] }),
    openAlerts: new Gauge({ name: 'netsensor_gateway_alerts_open', help: 'open alerts', registers: [registry] }),
    ingestSeconds: new Histogram({ name: 'netsensor_gateway_ingest_batch_seconds', help: 'time to validate, store and correlate one batch', buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5], registers: [registry] }),
  };
  return m;
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

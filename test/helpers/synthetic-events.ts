/**
 * Synthetic risk events for delivery tests (outbox, publisher, outage, crash): what those tests check is
 * delivery, not detection, so the events come from the real event builder fed with made-up flows.
 */
import { buildEvent } from '../../detection/risk-event.ts';
import { NUM_FEATURES } from '../../core/schema.ts';
import type { RiskEvent } from '../../protocol/event.ts';

let n = 0;

export function syntheticEvent(sensorId: string, opts: { severityClass?: 'scan' | 'dos' | 'anomaly'; score?: number } = {}): RiskEvent {
  n++;
  const now = Date.now();
  const features = new Float32Array(NUM_FEATURES).map((_, i) => (i * 7 + n) % 100);
  const cls = opts.severityClass ?? (['scan', 'dos', 'anomaly'] as const)[n % 3];
  return buildEvent({
    sensorId,
    modelVersion: 'synthetic-1',
    flow: {
      src_ip: `10.0.${(n >> 8) & 255}.${n & 255}`, src_port: 1024 + (n % 60000), dst_ip: '10.1.0.1', dst_port: 22, proto: 6, vlan: 0,
      first_seen_ms: now - 1000, last_seen_ms: now, end_reason: 'unanswered',
      src2dst_packets: 1, src2dst_bytes: 60, dst2src_packets: 0, dst2src_bytes: 0,
    },
    features,
    verdict: { alertClass: cls, score: opts.score ?? 0.95, anomaly: cls === 'anomaly' ? 1.5 : 0.2, top: [['dst_port', 0.5], ['src2dst_packets', 0.25]] },
  });
}

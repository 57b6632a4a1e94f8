/**
 * Ingest: one event batch from the broker → validated (protocol/event.ts) → stored exactly once → correlated,
 * all in one SQLite transaction. A bad batch is rejected and counted with its reason; nothing a sensor sends
 * can throw out of here.
 */
import type { Logger } from '../common/log.js';
import { decodeBatch, EventRejected } from '../protocol/event.js';
import { parseSensorTopic } from '../protocol/topics.js';
import type { AlertChange, Correlator } from './correlate.js';
import type { GatewayMetrics } from './metrics.js';
import type { Registry } from './registry.js';
import type { Store } from './store.js';

export type IngestRejectReason = EventRejected['reason'] | 'bad_topic' | 'store_failed';

export interface IngestResult {
  accepted: boolean;
  stored: number;
  duplicates: number;
  reason?: IngestRejectReason;
}

export class Ingest {
  /** Rejected batches by reason since start (also exported as a Prometheus counter). */
  readonly rejected: Record<string, number> = {};
  batches = 0;
  stored = 0;
  duplicates = 0;

  constructor(
    private readonly store: Store,
    private readonly correlator: Correlator,
    private readonly registry: Registry,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    private readonly onAlerts: (changes: AlertChange[]) => void,
    private readonly now: () => number = Date.now,
  ) {}

  private reject(reason: IngestRejectReason, sensor: string | undefined, detail: string): IngestResult {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
    this.metrics.rejected.inc({ reason });
    if (sensor) this.registry.onRejected(sensor);
    // Debug level: a misbehaving sensor must not be able to flood the log.
    this.log.debug({ sensor, reason, detail: detail.slice(0, 200) }, 'batch rejected');
    return { accepted: false, stored: 0, duplicates: 0, reason };
  }

  handle(topic: string, payload: Buffer): IngestResult {
    this.batches += 1;
    this.metrics.batches.inc();
    const t = parseSensorTopic(topic);
    if (!t || t.kind !== 'events') return this.reject('bad_topic', undefined, topic);
    let batch;
    try {
      batch = decodeBatch(payload, t.sensorId);
    } catch (e) {
      if (e instanceof EventRejected) return this.reject(e.reason, t.sensorId, e.message);
      return this.reject('not_cbor', t.sensorId, String((e as Error)?.message ?? e));
    }
    const end = this.metrics.ingestSeconds.startTimer();
    let changes: AlertChange[];
    let stored: number;
    try {
      const received = this.now();
      ({ changes, stored } = this.store.transaction(() => {
        const fresh = this.store.insertEvents(batch.events, received);
        const result = this.correlator.ingest(fresh);
        for (const c of result.changes) this.store.upsertAlert(c.alert);
        for (const [alertId, seq] of result.links) this.store.linkEvent(alertId, seq);
        return { changes: result.changes, stored: fresh.length };
      }));
    } catch (e) {
      // Disk full, database locked too long, …: the batch is lost for this delivery; QoS 1 redelivery or the
      // sensor's outbox brings it again, and dedup makes that safe.
      this.log.error({ err: (e as Error).message, sensor: t.sensorId }, 'storing batch failed');
      end();
      return this.reject('store_failed', t.sensorId, (e as Error).message);
    }
    end();
    const dup = batch.events.length - stored;
    this.stored += stored;
    this.duplicates += dup;
    this.metrics.stored.inc(stored);
    if (dup) this.metrics.duplicates.inc(dup);
    this.registry.onEvents(t.sensorId, stored);
    if (changes.length) this.onAlerts(changes);
    return { accepted: true, stored, duplicates: dup };
  }
}

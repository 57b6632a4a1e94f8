/**
 * Ingest: one event batch from the broker → validated (protocol/event.ts) → stored exactly once → correlated,
 * in one SQLite transaction per group of batches (group commit). A bad batch is rejected and counted with its reason; nothing a sensor sends
 * can throw out of here.
 */
import type { Logger } from '../common/log.js';
import { decodeBatch, EventRejected, type EventBatch } from '../protocol/event.js';
import { parseSensorTopic } from '../protocol/topics.js';
import type { Alert } from './alert-types.js';
import type { AlertChange, Correlator } from './correlate.js';
import type { GatewayMetrics } from './metrics.js';
import type { Registry } from './registry.js';
import type { Store, StoredEvent } from './store.js';

export type IngestRejectReason = EventRejected['reason'] | 'bad_topic' | 'store_failed';

export interface IngestResult {
  accepted: boolean;
  stored: number;
  duplicates: number;
  reason?: IngestRejectReason;
}

export type DecodedMessage = { sensor: string; batch: EventBatch } | { reason: IngestRejectReason; sensor?: string; detail: string };

/** One event message → its validated batch, or why it is rejected (never throws). */
export function decodeEventMessage(topic: string, payload: Buffer): DecodedMessage {
  const t = parseSensorTopic(topic);
  if (!t || t.kind !== 'events') return { reason: 'bad_topic', detail: topic };
  try {
    return { sensor: t.sensorId, batch: decodeBatch(payload, t.sensorId) };
  } catch (e) {
    return e instanceof EventRejected ? { reason: e.reason, sensor: t.sensorId, detail: e.message } : { reason: 'not_cbor', sensor: t.sensorId, detail: String((e as Error)?.message ?? e) };
  }
}

export class Ingest {
  /** Rejected batches by reason since start (also exported as a Prometheus counter). */
  readonly rejected: Record<string, number> = {};
  batches = 0;
  /** Transactions (group commits) so far: batches / groups is the mean group size. */
  groups = 0;
  alertWrites = 0;
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
    /** Least time between two writes of an alert that only grew (see `persistAlerts`). */
    private readonly alertWriteMs = 1000,
  ) {}

  /**
   * Alerts that only grew (more events, hosts, …) since they were last written. Under load one alert is touched
   * by almost every group commit, and rewriting its row each time was the largest cost of ingest; so such
   * updates are written at most every `alertWriteMs` (created, escalated and closed alerts at once). Readers
   * that need the latest counts (the API) call `persistAlerts()` first; the events and their links to alerts
   * are always written in the batch's own transaction.
   */
  private readonly dirtyAlerts = new Map<string, Alert>();
  private alertsWrittenAt = 0;

  /** Writes the alerts that changed since their last write (the API calls this before reading alerts). */
  persistAlerts(): void {
    if (this.dirtyAlerts.size === 0) return;
    this.store.transaction(() => this.writeDirtyAlerts());
  }

  private writeDirtyAlerts(): void {
    for (const a of this.dirtyAlerts.values()) this.store.upsertAlert(a);
    this.alertWrites += this.dirtyAlerts.size;
    this.dirtyAlerts.clear();
    this.alertsWrittenAt = this.now();
  }

  private reject(reason: IngestRejectReason, sensor: string | undefined, detail: string): IngestResult {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
    this.metrics.rejected.inc({ reason });
    if (sensor) this.registry.onRejected(sensor);
    // Debug level: a misbehaving sensor must not be able to flood the log.
    this.log.debug({ sensor, reason, detail: detail.slice(0, 200) }, 'batch rejected');
    return { accepted: false, stored: 0, duplicates: 0, reason };
  }

  private queue: Array<{ topic: string; payload: Buffer; done?: () => void }> = [];
  private flushScheduled = false;

  /**
   * Queues a batch; everything queued within one turn of the event loop is stored in ONE transaction
   * (group commit). `done` runs after that commit: the embedded broker sends its PUBACK only then, so a
   * sensor's QoS 1 batch is acknowledged once it is on disk, and the broker's in-flight limit is the
   * back-pressure.
   */
  enqueue(topic: string, payload: Buffer, done?: () => void): void {
    this.queue.push({ topic, payload, done });
    if (this.queue.length >= 256) { this.flush(); return; }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.flushScheduled = false;
    const items = this.queue;
    if (items.length === 0) return;
    this.queue = [];
    try {
      this.process(items.map((i) => [i.topic, i.payload]));
    } finally {
      for (const i of items) i.done?.();
    }
  }

  /** Validates, stores and correlates one batch now (its own transaction). */
  handle(topic: string, payload: Buffer): IngestResult {
    return this.process([[topic, payload]])[0];
  }

  private process(items: Array<[string, Buffer]>): IngestResult[] {
    const results: IngestResult[] = new Array(items.length);
    const valid: Array<{ index: number; sensor: string; batch: EventBatch }> = [];
    items.forEach(([topic, payload], index) => {
      this.batches += 1;
      this.metrics.batches.inc();
      const d = decodeEventMessage(topic, payload);
      if ('reason' in d) results[index] = this.reject(d.reason, d.sensor, d.detail);
      else valid.push({ index, ...d });
    });
    if (valid.length === 0) return results;
    const end = this.metrics.ingestSeconds.startTimer();
    let changes: AlertChange[] = [];
    const stored: number[] = [];
    try {
      const received = this.now();
      changes = this.store.transaction(() => {
        const fresh: StoredEvent[] = [];
        for (const v of valid) {
          const f = this.store.insertEvents(v.batch.events, received);
          stored.push(f.length);
          for (const e of f) fresh.push(e);
        }
        const result = this.correlator.ingest(fresh);
        this.groups += 1;
        for (const c of result.changes) {
          if (c.created || c.escalated || c.alert.status === 'closed') {
            this.store.upsertAlert(c.alert);
            this.alertWrites += 1;
            this.dirtyAlerts.delete(c.alert.id);
          } else {
            this.dirtyAlerts.set(c.alert.id, c.alert);
          }
        }
        if (this.now() - this.alertsWrittenAt >= this.alertWriteMs) this.writeDirtyAlerts();
        this.store.linkEvents(result.links);
        return result.changes;
      });
    } catch (e) {
      // Disk full, database locked too long, …: these batches are lost for this delivery; the sensor's outbox
      // re-sends what was never acknowledged, and dedup makes that safe.
      this.log.error({ err: e, batches: valid.length }, 'storing batches failed');
      end();
      for (const v of valid) results[v.index] = this.reject('store_failed', v.sensor, (e as Error).message);
      return results;
    }
    end();
    valid.forEach((v, k) => {
      const dup = v.batch.events.length - stored[k];
      this.stored += stored[k];
      this.duplicates += dup;
      this.metrics.stored.inc(stored[k]);
      if (dup) this.metrics.duplicates.inc(dup);
      this.registry.onEvents(v.sensor, stored[k]);
      results[v.index] = { accepted: true, stored: stored[k], duplicates: dup };
    });
    if (changes.length) this.onAlerts(changes);
    return results;
  }
}

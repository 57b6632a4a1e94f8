/**
 * Ingest on a worker: event batches from the shared subscription → validated (the single gateway's rules) →
 * stored exactly once in the shared store. Nothing is correlated here (the leader does that from the store).
 * `done` runs only after the commit, and the worker acknowledges a message to the broker only then: a worker
 * killed mid-batch leaves it with the broker. A store that fails is retried with back-off, holding the message
 * unacknowledged meanwhile (the broker keeps queueing), never dropping it.
 */
import type { Logger } from '../../common/log.js';
import type { EventBatch } from '../../protocol/event.js';
import { decodeEventMessage, type IngestRejectReason } from '../ingest.js';
import type { GatewayMetrics } from '../metrics.js';
import type { EventStore } from '../store/event-store.js';
import type { SensorCounts } from './sensor-counts.js';

const RETRY_MS = [100, 500, 1000, 2000, 5000];

export class SharedIngest {
  readonly rejected: Record<string, number> = {};
  batches = 0;
  stored = 0;
  duplicates = 0;
  private queue: Array<{ sensor: string; batch: EventBatch; done: () => void }> = [];
  private busy = false;
  private stopped = false;

  constructor(
    private readonly store: EventStore,
    private readonly sensors: SensorCounts,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  enqueue(topic: string, payload: Buffer, done: () => void): void {
    this.batches += 1;
    this.metrics.batches.inc();
    const d = decodeEventMessage(topic, payload);
    if ('reason' in d) { this.reject(d.reason, d.sensor, d.detail); done(); return; }
    this.queue.push({ ...d, done });
    if (!this.busy) void this.drain();
  }

  private reject(reason: IngestRejectReason, sensor: string | undefined, detail: string): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
    this.metrics.rejected.inc({ reason });
    if (sensor) this.sensors.onRejected(sensor);
    this.log.debug({ sensor, reason, detail: detail.slice(0, 200) }, 'batch rejected');
  }

  /** Everything queued meanwhile goes into one transaction (group commit). */
  private async drain(): Promise<void> {
    this.busy = true;
    while (this.queue.length && !this.stopped) {
      const items = this.queue;
      this.queue = [];
      const end = this.metrics.ingestSeconds.startTimer();
      const received = Date.now();
      const fresh = await this.storeWithRetry(items.flatMap((i) => i.batch.events), received);
      end();
      if (fresh === undefined) return; // stopping: the messages stay unacknowledged with the broker
      const per = new Map<string, number>();
      for (const e of fresh) per.set(e.sensor, (per.get(e.sensor) ?? 0) + 1);
      for (const i of items) {
        const total = i.batch.events.length;
        const stored = Math.min(total, per.get(i.sensor) ?? 0);
        per.set(i.sensor, (per.get(i.sensor) ?? 0) - stored);
        this.stored += stored;
        this.duplicates += total - stored;
        this.metrics.stored.inc(stored);
        if (total - stored) this.metrics.duplicates.inc(total - stored);
        this.sensors.onEvents(i.sensor, stored);
        i.done();
      }
    }
    this.busy = false;
  }

  private async storeWithRetry(events: EventBatch['events'], received: number) {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        return await this.store.insertEvents(events, received);
      } catch (e) {
        this.metrics.rejected.inc({ reason: 'store_failed' });
        if (attempt % 10 === 0) this.log.error({ err: e, events: events.length, attempt }, 'storing events failed; retrying (the broker keeps them meanwhile)');
        await new Promise((r) => setTimeout(r, RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]));
      }
    }
    return undefined;
  }

  stop(): void {
    this.stopped = true;
  }
}

/**
 * Moves committed events from the outbox to the broker: CBOR batches bounded in events and bytes, sent when a
 * full batch is waiting or every `flushIntervalMs` for a partial one, at most `inflight` unacknowledged
 * batches on the wire. Rows are deleted only on PUBACK. A lost connection releases everything in flight, and
 * the rows go out again after reconnecting (at-least-once; event ids make the gateway's copy exactly-once).
 */
import { systemClock, type Clock, type TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { BATCH_ENVELOPE_BYTES, encodeStoredBatch } from '../protocol/batch.js';
import { topics } from '../protocol/topics.js';
import type { SensorConfig } from './config.js';
import type { SensorCounters, SensorMetrics } from './metrics.js';
import type { Outbox } from './outbox.js';
import type { Publisher } from './publish.js';

/** A failed publish on a live connection pauses sending this long before the rewind. */
const PAUSE_AFTER_FAILURE_MS = 1000;

/** What the forwarder needs of the MQTT connection (Publisher; a fake in tests). */
export type BatchPublisher = Pick<Publisher, 'connected' | 'generation' | 'publish' | 'on'>;

export interface ForwarderOptions {
  outbox: Outbox;
  publisher: BatchPublisher;
  sensorId: string;
  opts: SensorConfig['outbox'];
  counters: SensorCounters;
  metrics?: SensorMetrics;
  log: Logger;
  clock?: Clock;
}

export class Forwarder {
  private readonly outbox: Outbox;
  private readonly publisher: BatchPublisher;
  private readonly opts: SensorConfig['outbox'];
  private readonly sensorId: string;
  private readonly counters: SensorCounters;
  private readonly metrics?: SensorMetrics;
  private readonly log: Logger;
  private readonly clock: Clock;
  private timer?: TimerHandle;
  private seq: number;
  private addedSinceSend = 0;
  /** In-flight batches of the current connection generation. */
  private readonly inflight = new Map<number, number>();
  /** A publish failed on a live connection: rewind once the window has emptied. */
  private rewindPending = false;
  private pausedUntil = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(o: ForwarderOptions) {
    this.clock = o.clock ?? systemClock;
    this.seq = this.clock.now();
    this.outbox = o.outbox;
    this.publisher = o.publisher;
    this.opts = o.opts;
    this.sensorId = o.sensorId;
    this.counters = o.counters;
    this.metrics = o.metrics;
    this.log = o.log.child({ component: 'forwarder' });
    this.publisher.on('connect', () => this.pump());
    this.publisher.on('disconnect', () => {
      this.counters.publishFailures += this.inflight.size;
      this.inflight.clear();
      this.outbox.releaseAll();
    });
  }

  start(): void {
    this.timer = this.clock.setInterval(() => this.pump(), this.opts.flushIntervalMs);
    this.pump();
  }

  stop(): void {
    this.clock.clearInterval(this.timer);
  }

  /** Called after events were committed: a full batch goes out now, a partial one on the next tick. */
  notify(added: number): void {
    this.addedSinceSend += added;
    if (this.addedSinceSend >= this.opts.batchMaxEvents) this.pump();
  }

  get inflightBatches(): number { return this.inflight.size; }

  pump(): void {
    if (!this.publisher.connected || this.clock.now() < this.pausedUntil) return;
    while (this.inflight.size < this.opts.inflight) {
      if (this.rewindPending) {
        if (this.inflight.size > 0) return;
        this.rewindPending = false;
        this.outbox.releaseAll();
      }
      const batch = this.outbox.next(this.opts.batchMaxEvents, this.opts.batchMaxBytes - BATCH_ENVELOPE_BYTES);
      if (!batch) break;
      this.addedSinceSend = 0;
      const seq = ++this.seq;
      const gen = this.publisher.generation;
      const payload = encodeStoredBatch(this.sensorId, seq, batch.bodies);
      const t0 = performance.now();
      this.inflight.set(seq, gen);
      this.publisher.publish(topics.events(this.sensorId), payload, { qos: 1 }).then(
        () => {
          // a PUBACK is proof of delivery whatever connection it came on: delete (idempotent)
          const now = this.clock.now();
          this.outbox.ack(batch.seqs);
          this.counters.batchesAcked++;
          this.counters.eventsAcked += batch.seqs.length;
          this.metrics?.publishLatency.observe((performance.now() - t0) / 1000);
          // from commit to PUBACK (an event is committed within a millisecond of its creation)
          if (this.metrics) for (const t of batch.createdMs) this.metrics.eventLatency.observe(Math.max(0, now - t) / 1000);
          if (this.inflight.get(seq) === gen) this.inflight.delete(seq);
          this.pump();
          this.checkIdle();
        },
        (err: Error) => {
          if (this.inflight.get(seq) !== gen) return; // its connection is gone; already released
          this.inflight.delete(seq);
          this.counters.publishFailures++;
          this.log.warn({ err, events: batch.seqs.length }, 'publish failed; will resend');
          this.rewindPending = true;
          this.pausedUntil = this.clock.now() + PAUSE_AFTER_FAILURE_MS;
        },
      );
    }
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.outbox.depth === 0 && this.inflight.size === 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  /** Resolves true once the outbox is empty and nothing is in flight, false after `timeoutMs`. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.outbox.depth === 0 && this.inflight.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = this.clock.setTimeout(() => { this.idleWaiters = this.idleWaiters.filter((f) => f !== done); resolve(false); }, timeoutMs);
      const done = () => { this.clock.clearTimeout(t); resolve(true); };
      this.idleWaiters.push(done);
      this.pump();
    });
  }
}

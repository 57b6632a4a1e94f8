/**
 * Everything between "a risk event exists" and "the broker has it": the outbox (durable), the MQTT
 * connection, the forwarder (batches, window, resend) and the retained status heartbeat. The pipeline calls
 * `commit(events)`; when it returns, the events are on disk and will be delivered (at least once) unless the
 * outbox's size policy drops them.
 */
import { systemClock, type Clock, type TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { packageVersion } from '../common/version.js';
import type { RiskEvent } from '../protocol/event.js';
import { encodeStatus, type SensorState } from '../protocol/status.js';
import { topics } from '../protocol/topics.js';
import type { SensorConfig } from './config.js';
import { Forwarder } from './forwarder.js';
import type { SensorCounters, SensorMetrics } from './metrics.js';
import { Outbox } from './outbox.js';
import { Publisher } from './publish.js';

export interface StatusSource {
  model(): string;
  /** Extra counters the pipeline owns (packets, flows, decoder events …). */
  counters(): Record<string, unknown>;
}

export interface DeliveryOptions {
  cfg: SensorConfig;
  counters: SensorCounters;
  metrics?: SensorMetrics;
  status: StatusSource;
  log: Logger;
  /** The MQTT connection; by default one to cfg.broker (tests pass a fake). */
  publisher?: Publisher;
  clock?: Clock;
}

export class Delivery {
  readonly outbox: Outbox;
  readonly publisher: Publisher;
  readonly forwarder: Forwarder;
  private readonly cfg: SensorConfig;
  private readonly counters: SensorCounters;
  private readonly status: StatusSource;
  private readonly log: Logger;
  private readonly clock: Clock;
  private heartbeat?: TimerHandle;

  constructor(o: DeliveryOptions) {
    this.clock = o.clock ?? systemClock;
    this.cfg = o.cfg;
    this.counters = o.counters;
    this.status = o.status;
    this.log = o.log.child({ component: 'delivery' });
    this.outbox = new Outbox(o.cfg.outbox.db, {
      maxRows: o.cfg.outbox.maxRows,
      maxBytes: o.cfg.outbox.maxBytes,
      maxEventBytes: o.cfg.outbox.batchMaxBytes - 1024,
      synchronous: 'FULL',
    });
    this.counters.eventsDropped = this.outbox.dropped;
    this.publisher = o.publisher ?? new Publisher({ sensorId: o.cfg.id, broker: o.cfg.broker, log: o.log });
    this.forwarder = new Forwarder({
      outbox: this.outbox, publisher: this.publisher, sensorId: o.cfg.id, opts: o.cfg.outbox,
      counters: o.counters, metrics: o.metrics, log: o.log, clock: this.clock,
    });
    this.publisher.on('connect', () => this.publishStatus());
  }

  start(): void {
    if (this.outbox.depth > 0) this.log.info({ depth: this.outbox.depth }, 'outbox holds undelivered events from a previous run');
    this.publisher.start();
    this.forwarder.start();
    this.heartbeat = this.clock.setInterval(() => this.publishStatus(), this.cfg.heartbeatS * 1000);
  }

  /** Durably stores events (one fsynced transaction); returns once they are on disk. */
  commit(events: RiskEvent[]): void {
    if (events.length === 0) return;
    const r = this.outbox.add(events);
    this.counters.events += events.length;
    if (r.dropped > 0) {
      this.counters.eventsDropped = this.outbox.dropped;
      this.log.warn({ dropped: r.dropped, total: this.outbox.dropped, depth: this.outbox.depth }, 'outbox full: dropped oldest lowest-severity events');
    }
    this.forwarder.notify(r.added);
  }

  statusPayload(state: SensorState): string {
    return encodeStatus({
      state,
      ts: this.clock.now(),
      model: this.status.model(),
      version: packageVersion(),
      mqtt: this.publisher.protocolVersion,
      counters: {
        ...this.status.counters(),
        events: this.counters.events,
        outbox_depth: this.outbox.depth,
        outbox_bytes: this.outbox.bytes,
        dropped: this.outbox.dropped,
        events_acked: this.counters.eventsAcked,
        publish_failures: this.counters.publishFailures,
      },
    });
  }

  publishStatus(): void {
    if (!this.publisher.connected) return;
    this.publisher.publish(topics.status(this.cfg.id), this.statusPayload('online'), { qos: 1, retain: true }).catch((err: Error) => {
      this.log.debug({ err }, 'status publish failed');
    });
  }

  /**
   * Publishes what it can within `timeoutMs`, sets the retained status to offline, disconnects and closes the
   * database cleanly (WAL checkpointed). Returns whether the outbox was fully delivered.
   */
  async close(timeoutMs: number): Promise<boolean> {
    this.clock.clearInterval(this.heartbeat);
    const started = this.clock.now();
    // not connected yet (or reconnecting): drain() still waits, bounded, for a connection to deliver over
    const drained = await this.forwarder.drain(Math.max(0, timeoutMs - 500));
    this.forwarder.stop();
    await this.publisher.stop(encodeStatus({ state: 'offline', ts: this.clock.now() }), Math.max(200, timeoutMs - (this.clock.now() - started)));
    const left = this.outbox.depth;
    this.outbox.close();
    this.log.info({ drained, left, ms: this.clock.now() - started }, 'delivery closed');
    return drained;
  }
}

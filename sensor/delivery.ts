/**
 * Everything between "a risk event exists" and "the broker has it": the outbox (durable), the MQTT
 * connection, the forwarder (batches, window, resend) and the retained status heartbeat. The pipeline calls
 * `commit(events)`; when it returns, the events are on disk and will be delivered (at least once) unless the
 * outbox's size policy drops them.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from '../common/log.js';
import { packagePath } from '../common/paths.js';
import type { RiskEvent } from '../protocol/event.js';
import { topics } from '../protocol/topics.js';
import type { SensorConfig } from './config.js';
import { Forwarder } from './forwarder.js';
import type { SensorCounters, SensorMetrics } from './metrics.js';
import { Outbox } from './outbox.js';
import { OFFLINE_STATUS, Publisher } from './publish.js';

let versionCache: string | undefined;
export function sensorVersion(): string {
  if (!versionCache) {
    try { versionCache = String(JSON.parse(readFileSync(packagePath('package.json'), 'utf8')).version); } catch { versionCache = '0.0.0'; }
  }
  return versionCache;
}

export interface StatusSource {
  model(): string;
  /** Extra counters the pipeline owns (packets, flows, decoder events …). */
  counters(): Record<string, unknown>;
}

export class Delivery {
  readonly outbox: Outbox;
  readonly publisher: Publisher;
  readonly forwarder: Forwarder;
  private readonly cfg: SensorConfig;
  private readonly counters: SensorCounters;
  private readonly status: StatusSource;
  private readonly log: Logger;
  private heartbeat?: NodeJS.Timeout;

  constructor(o: { cfg: SensorConfig; counters: SensorCounters; metrics?: SensorMetrics; status: StatusSource; log: Logger }) {
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
    this.publisher = new Publisher({ sensorId: o.cfg.id, broker: o.cfg.broker, log: o.log });
    this.forwarder = new Forwarder({
      outbox: this.outbox, publisher: this.publisher, sensorId: o.cfg.id, opts: o.cfg.outbox,
      counters: o.counters, metrics: o.metrics, log: o.log,
    });
    this.publisher.on('connect', () => this.publishStatus());
  }

  start(): void {
    if (this.outbox.depth > 0) this.log.info({ depth: this.outbox.depth }, 'outbox holds undelivered events from a previous run');
    this.publisher.start();
    this.forwarder.start();
    this.heartbeat = setInterval(() => this.publishStatus(), this.cfg.heartbeatS * 1000);
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

  statusPayload(state: 'online' | 'offline'): string {
    return JSON.stringify({
      state,
      ts: Date.now(),
      model: this.status.model(),
      version: sensorVersion(),
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
    this.publisher.publish(topics.status(this.cfg.id), this.statusPayload('online'), { qos: 1, retain: true }).catch((e: Error) => {
      this.log.debug({ err: e.message }, 'status publish failed');
    });
  }

  /**
   * Publishes what it can within `timeoutMs`, sets the retained status to offline, disconnects and closes the
   * database cleanly (WAL checkpointed). Returns whether the outbox was fully delivered.
   */
  async close(timeoutMs: number): Promise<boolean> {
    clearInterval(this.heartbeat);
    const started = Date.now();
    // not connected yet (or reconnecting): drain() still waits, bounded, for a connection to deliver over
    const drained = await this.forwarder.drain(Math.max(0, timeoutMs - 500));
    this.forwarder.stop();
    const offline = JSON.parse(OFFLINE_STATUS) as Record<string, unknown>;
    await this.publisher.stop(JSON.stringify({ ...offline, ts: Date.now() }), Math.max(200, timeoutMs - (Date.now() - started)));
    const left = this.outbox.depth;
    this.outbox.close();
    this.log.info({ drained, left, ms: Date.now() - started }, 'delivery closed');
    return drained;
  }
}

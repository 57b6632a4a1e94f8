/**
 * An MQTT connection the test drives by hand, for the forwarder and delivery: it records every publish and
 * settles it (PUBACK or failure) when the test says so. Only the members the sensor uses exist.
 */
import { EventEmitter } from 'node:events';
import type { Publisher, PublisherEvents } from '../../sensor/publish.ts';

export interface SentMessage {
  topic: string;
  payload: Buffer;
  retain: boolean;
  ack(): void;
  fail(err: Error): void;
}

export class FakePublisher extends EventEmitter<PublisherEvents> {
  connected = false;
  generation = 0;
  readonly protocolVersion = 5 as const;
  readonly sent: SentMessage[] = [];
  /** Acknowledge every publish at once. */
  autoAck = false;
  finalStatus?: string;

  connect(): void {
    this.connected = true;
    this.generation++;
    this.emit('connect', { protocolVersion: 5 });
  }

  disconnect(): void {
    this.connected = false;
    this.emit('disconnect', { reason: 'test' });
  }

  start(): void {}

  async stop(finalStatus?: string): Promise<void> {
    if (finalStatus && this.connected) this.finalStatus = finalStatus;
    this.connected = false;
  }

  publish(topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain?: boolean } = { qos: 1 }): Promise<void> {
    if (!this.connected) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      this.sent.push({ topic, payload: Buffer.from(payload), retain: opts.retain ?? false, ack: () => resolve(), fail: reject });
      if (this.autoAck) resolve();
    });
  }

  /** Messages on one topic kind (`events`, `status`). */
  sentOn(kind: string): SentMessage[] { return this.sent.filter((m) => m.topic.endsWith(`/${kind}`)); }

  /** Typed as the real thing for constructors that take one. */
  asPublisher(): Publisher { return this as unknown as Publisher; }
}

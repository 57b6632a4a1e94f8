/**
 * The sensor's MQTT connection (mqtt.js): connect, reconnect with exponential backoff + jitter, pick the
 * protocol version, TLS / username / client certificates, a retained last will `{"state":"offline"}` on the
 * status topic, and `publish()` as a promise that settles on PUBACK.
 *
 * One mqtt.js client per connection attempt, with mqtt.js's own reconnect disabled (reconnectPeriod 0):
 * mqtt.js keeps unacknowledged QoS 1 packets of a dropped connection in its store and replays them later,
 * which would race with the outbox (the single source of truth for what still has to go). Dropping the client
 * means after a disconnect nothing is in flight, and the forwarder re-reads the outbox.
 *
 * Version `auto`: MQTT 5 first; a broker that refuses it (3.1.1-only, such as the embedded aedes: CONNACK
 * "unacceptable protocol version", or a close before any CONNACK) gets 3.1.1 from then on.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from '../common/log.js';
import { OFFLINE_STATUS } from '../protocol/status.js';
import { sensorClientId, topics } from '../protocol/topics.js';
import type { SensorConfig } from './config.js';

export interface PublisherOptions {
  sensorId: string;
  broker: SensorConfig['broker'];
  log: Logger;
}

export interface PublisherEvents {
  connect: [{ protocolVersion: 4 | 5 }];
  disconnect: [{ reason: string }];
}

/** Equal jitter: half the exponential delay fixed, half random — spreads a fleet reconnecting at once. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(exp / 2 + random() * (exp / 2));
}

export class Publisher extends EventEmitter<PublisherEvents> {
  private readonly opts: PublisherOptions;
  private readonly log: Logger;
  private client?: MqttClient;
  private version: 4 | 5;
  private attempt = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private isConnected = false;
  /** Incremented per connection: callbacks from a dead connection are recognisable. */
  generation = 0;
  connects = 0;
  failures = 0;

  constructor(opts: PublisherOptions) {
    super();
    this.opts = opts;
    this.log = opts.log.child({ component: 'publisher' });
    this.version = opts.broker.mqttVersion === 4 ? 4 : 5;
  }

  get connected(): boolean { return this.isConnected; }
  get protocolVersion(): 4 | 5 { return this.version; }
  /**
   * The current connection's mqtt.js client while connected (the OTA receiver subscribes on it), else undefined.
   * A new client is made per connection: users re-attach on every 'connect'.
   */
  get mqttClient(): MqttClient | undefined { return this.isConnected ? this.client : undefined; }

  start(): void {
    this.stopped = false;
    this.connectOnce();
  }

  private clientOptions(): IClientOptions {
    const b = this.opts.broker;
    const file = (f?: string) => (f === undefined ? undefined : readFileSync(f));
    return {
      protocolVersion: this.version,
      clientId: sensorClientId(this.opts.sensorId),
      clean: true,
      keepalive: b.keepaliveS,
      connectTimeout: b.connectTimeoutMs,
      reconnectPeriod: 0,
      resubscribe: false,
      username: b.username,
      password: b.password,
      ca: file(b.ca),
      cert: file(b.cert),
      key: file(b.key),
      rejectUnauthorized: b.rejectUnauthorized,
      will: { topic: topics.status(this.opts.sensorId), payload: Buffer.from(OFFLINE_STATUS), qos: 1, retain: true },
    };
  }

  private connectOnce(): void {
    if (this.stopped) return;
    const gen = ++this.generation;
    let gotConnack = false;
    let refusedVersion = false;
    let networkError = false;
    const client = mqtt.connect(this.opts.broker.url, this.clientOptions());
    this.client = client;
    client.on('connect', () => {
      if (gen !== this.generation) return;
      gotConnack = true;
      this.attempt = 0;
      this.isConnected = true;
      this.connects++;
      this.log.info({ url: this.opts.broker.url, protocolVersion: this.version }, 'connected to broker');
      this.emit('connect', { protocolVersion: this.version });
    });
    client.on('error', (err: Error & { code?: number | string }) => {
      if (gen !== this.generation) return;
      // CONNACK 1 (3.1.1) / 0x84 (5): unsupported protocol version
      if (typeof err.code === 'string') networkError = true; // ECONNREFUSED, ENOTFOUND, TLS…: not a version matter
      if (!gotConnack && (err.code === 1 || err.code === 132 || /protocol version/i.test(err.message))) refusedVersion = true;
      this.log.warn({ err }, 'mqtt error');
    });
    client.on('close', () => {
      if (gen !== this.generation) return;
      const wasConnected = this.isConnected;
      this.isConnected = false;
      client.removeAllListeners('connect');
      client.end(true);
      if (wasConnected) this.emit('disconnect', { reason: 'connection closed' });
      if (this.stopped) return;
      if (this.opts.broker.mqttVersion === 'auto' && !gotConnack && !networkError) {
        // reached a broker that did not accept our CONNECT: an explicit version refusal, or a 3.1.1-only
        // broker hanging up on a v5 CONNECT — try the other version right away
        const next = this.version === 5 ? 4 : 5;
        if (refusedVersion || this.version === 5) {
          this.log.info({ from: this.version, to: next }, 'broker refused the MQTT version: switching');
          this.version = next;
          if (next === 4) { this.timer = setTimeout(() => this.connectOnce(), 0); return; }
        }
      }
      const delay = backoffDelay(this.attempt++, this.opts.broker.reconnectMinMs, this.opts.broker.reconnectMaxMs);
      this.log.debug({ delay, attempt: this.attempt }, 'reconnect scheduled');
      this.timer = setTimeout(() => this.connectOnce(), delay);
    });
  }

  /** Publishes; resolves on PUBACK (QoS 1) or when written (QoS 0). Rejects when not connected or on error. */
  publish(topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain?: boolean } = { qos: 1 }): Promise<void> {
    const client = this.client;
    if (!client || !this.isConnected) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      client.publish(topic, payload, { qos: opts.qos, retain: opts.retain ?? false }, (err) => {
        if (err) { this.failures++; reject(err); } else resolve();
      });
    });
  }

  /**
   * Publishes a final retained status (e.g. offline) if connected, then disconnects cleanly (no last will).
   * Bounded by `timeoutMs`.
   */
  async stop(finalStatus?: string, timeoutMs = 2000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const client = this.client;
    if (!client) return;
    const work = (async () => {
      if (finalStatus && this.isConnected) {
        await this.publish(topics.status(this.opts.sensorId), finalStatus, { qos: 1, retain: true }).catch(() => undefined);
      }
      await new Promise<void>((r) => client.end(false, {}, () => r()));
    })();
    await Promise.race([work, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    this.isConnected = false;
    client.end(true);
  }
}

/**
 * The gateway as a client of an external broker (Mosquitto, EMQX, …) over MQTT v5. Event topics are
 * subscribed through a shared subscription (`$share/<group>/…`) so several gateways split the load; status and
 * OTA topics are subscribed normally because every gateway keeps the whole registry.
 */
import { connect as mqttConnect, type MqttClient } from 'mqtt';
import { readPem } from './tls-files.js';
import type { Logger } from '../common/log.js';
import { NetsensorError } from '../common/errors.js';
import { topicMatches, type Bus, type MessageHandler, type PublishOptions } from './bus.js';
import type { GatewayConfig } from './config.js';

/** Which messages are acknowledged only once handled: all, none, or those matching these topic filters. */
export type AckAfterHandled = boolean | readonly string[];

/** Messages held for a handler not subscribed yet. */
const MAX_UNCLAIMED = 10_000;

export class ExternalBroker implements Bus {
  readonly kind = 'external' as const;
  private readonly handlers: Array<{ filter: string; handler: MessageHandler }> = [];
  private unclaimed: Array<{ topic: string; payload: Buffer; release: () => void }> = [];
  private warnedUnclaimed = false;

  /** Runs the matching handlers; with `wait`, resolves once each called `done` (undefined: no handler matched). */
  private dispatch(topic: string, payload: Buffer, wait: boolean): Promise<unknown> | undefined {
    const waits: Array<Promise<void>> = [];
    for (const h of this.handlers) {
      if (!topicMatches(h.filter, topic)) continue;
      let done = () => {};
      waits.push(wait ? new Promise<void>((r) => { done = r; }) : Promise.resolve());
      try {
        h.handler(topic, payload, done);
      } catch (e) {
        done();
        this.log.error({ err: e, topic }, 'message handler failed');
      }
    }
    return waits.length ? Promise.all(waits) : undefined;
  }

  private constructor(private readonly client: MqttClient, private readonly group: string, private readonly log: Logger, ackAfterHandled: AckAfterHandled = false) {
    // A QoS 1 message on a topic that ackAfterHandled names is acknowledged (PUBACK) only once every handler called
    // `done` (the batch is committed): a gateway killed before that leaves the message with the broker, which
    // delivers it again. mqtt.js reads incoming packets one at a time and goes on only after the PUBACK, so such a
    // message holds every later packet (SUBACKs, PUBACKs) until it is handled: its handler must be subscribed before
    // anything else awaits the broker. Other topics are acknowledged on receipt.
    // Messages that arrive before their handler subscribed (a persistent session's queue is delivered right after
    // CONNACK) wait for it rather than being dropped (or acknowledged unhandled, where ackAfterHandled names them).
    const afterHandled = ackAfterHandled === true ? () => true
      : ackAfterHandled === false ? () => false
        : (topic: string) => ackAfterHandled.some((f) => topicMatches(f, topic));
    const handled = new WeakMap<object, Promise<unknown>>();
    client.on('message', (topic, payload, packet) => {
      const wait = afterHandled(topic);
      const claimed = this.dispatch(topic, payload, wait);
      if (claimed) { if (wait) handled.set(packet, claimed); return; }
      // Kept for the handler that subscribes next (a resumed session's queue arrives before it); bounded, as a
      // session may hold a subscription this version no longer makes.
      if (this.unclaimed.length >= MAX_UNCLAIMED) {
        this.unclaimed.shift()!.release();
        if (!this.warnedUnclaimed) { this.warnedUnclaimed = true; log.warn({ topic }, 'messages for topics nothing subscribes to: dropping the oldest'); }
      }
      const waiting = new Promise<void>((r) => this.unclaimed.push({ topic, payload, release: r }));
      if (wait) handled.set(packet, waiting);
    });
    if (ackAfterHandled !== false) {
      // mqtt.js calls handleMessage after 'message' and sends the PUBACK when it calls back.
      const base = client.handleMessage.bind(client);
      client.handleMessage = (packet, callback) => {
        const wait = handled.get(packet);
        if (!wait) return base(packet, callback);
        handled.delete(packet);
        void wait.then(() => base(packet, callback));
      };
    }
    client.on('error', (e) => log.warn({ err: e }, 'external broker error'));
    client.on('reconnect', () => log.info('reconnecting to external broker'));
  }

  /**
   * `status`: the gateway's status topic; `will` is published (retained) by the broker when this connection dies,
   * `online()` is published again after every reconnect (the will may have said offline meanwhile).
   */
  static async connect(cfg: GatewayConfig['mqtt'], log: Logger, status?: { topic: string; will: string; online: () => string },
    opts: { ackAfterHandled?: AckAfterHandled } = {}): Promise<ExternalBroker> {
    const url = cfg.broker!;
    if (!cfg.brokerTls.verify) log.warn({ broker: url.replace(/\/\/[^@]*@/, '//') }, 'the external broker\'s certificate is NOT verified (mqtt.brokerTls.verify false): anyone on the path can pose as the broker');
    try {
      const client = mqttConnect(url, {
        protocolVersion: 5,
        clientId: cfg.clientId,
        username: cfg.username,
        password: cfg.password,
        // A persistent session so QoS 1 events queued while the gateway restarts are not lost.
        clean: false,
        properties: { sessionExpiryInterval: 3600 },
        reconnectPeriod: 2000,
        connectTimeout: 10_000,
        will: status ? { topic: status.topic, payload: Buffer.from(status.will), qos: 1, retain: true } : undefined,
        // mqtt.tls.caFile served this before mqtt.brokerTls existed; still honoured
        ca: readPem(cfg.brokerTls.caFile, 'mqtt.brokerTls.caFile') ?? readPem(cfg.tls?.caFile, 'mqtt.tls.caFile'),
        cert: readPem(cfg.brokerTls.certFile, 'mqtt.brokerTls.certFile'),
        key: readPem(cfg.brokerTls.keyFile, 'mqtt.brokerTls.keyFile'),
        rejectUnauthorized: cfg.brokerTls.verify,
      });
      // Listening before the connection is up: a persistent session's queued messages come right after CONNACK.
      const broker = new ExternalBroker(client, cfg.shareGroup, log, opts.ackAfterHandled);
      await connected(client);
      log.info({ broker: url.replace(/\/\/[^@]*@/, '//') }, 'connected to external broker (MQTT v5)');
      if (status) {
        client.on('connect', () => client.publish(status.topic, status.online(), { qos: 1, retain: true }, (e) => {
          if (e) log.warn({ err: e }, 'publishing the online status failed');
        }));
      }
      return broker;
    } catch (e) {
      throw new NetsensorError('ERR_CONFIG', `cannot connect to broker ${url}: ${(e as Error).message}`, { cause: e });
    }
  }

  async subscribe(filter: string, handler: MessageHandler, opts: { shared?: boolean } = {}): Promise<void> {
    this.handlers.push({ filter, handler });
    const waiting = this.unclaimed.filter((m) => topicMatches(filter, m.topic));
    this.unclaimed = this.unclaimed.filter((m) => !topicMatches(filter, m.topic));
    for (const m of waiting) void this.dispatch(m.topic, m.payload, true)!.then(m.release);
    const wire = opts.shared ? `$share/${this.group}/${filter}` : filter;
    const granted = await this.client.subscribeAsync(wire, { qos: 1 });
    if (granted.some((g) => g.qos > 2)) throw new NetsensorError('ERR_CONFIG', `broker refused subscription to ${wire} (check its ACL)`);
  }

  async publish(topic: string, payload: Buffer | string, opts: PublishOptions): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: opts.qos, retain: opts.retain ?? false });
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

/** Resolves on CONNACK; the first error before it ends the client and rejects (as mqtt's connectAsync does). */
function connected(client: MqttClient): Promise<void> {
  return new Promise((resolve, reject) => {
    const off = () => { client.off('connect', onConnect); client.off('error', onError); };
    const onConnect = () => { off(); resolve(); };
    const onError = (e: Error) => { off(); client.end(); reject(e); };
    client.on('connect', onConnect);
    client.on('error', onError);
  });
}

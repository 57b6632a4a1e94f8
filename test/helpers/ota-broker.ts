/**
 * A real embedded MQTT broker (aedes on a loopback TCP port) for the OTA tests, with an in-process `Bus` for the
 * gateway side — the same shape as the gateway's own embedded broker — and a log of client subscriptions so
 * tests can tell which sensors ever asked for a payload.
 */
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';
import type { Bus, MessageHandler, PublishOptions } from '../../gateway/bus.ts';

export interface TestBroker {
  port: number;
  url: string;
  bus: Bus;
  /** client id → topic filters it subscribed to. */
  subscriptions: Map<string, string[]>;
  connect(clientId: string): Promise<MqttClient>;
  close(): Promise<void>;
}

export async function startTestBroker(port: number): Promise<TestBroker> {
  const aedes = await Aedes.createBroker({ id: `ota-test-${port}` });
  const server: Server = createServer(aedes.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const subscriptions = new Map<string, string[]>();
  aedes.on('subscribe', (subs, client) => {
    if (!client) return;
    const list = subscriptions.get(client.id) ?? [];
    list.push(...subs.map((s) => s.topic));
    subscriptions.set(client.id, list);
  });
  const clients: MqttClient[] = [];
  const bus: Bus = {
    kind: 'embedded',
    subscribe(filter: string, handler: MessageHandler): Promise<void> {
      return new Promise((resolve) => {
        aedes.subscribe(filter, (packet, cb) => {
          handler(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload as string));
          cb();
        }, resolve);
      });
    },
    publish(topic: string, payload: Buffer | string, opts: PublishOptions): Promise<void> {
      return new Promise((resolve, reject) => {
        aedes.publish({
          cmd: 'publish', topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos: opts.qos,
          retain: opts.retain ?? false, dup: false,
        } as Parameters<Aedes['publish']>[0], (err) => (err ? reject(err) : resolve()));
      });
    },
    async close() { /* closed with the broker */ },
  };
  const url = `mqtt://127.0.0.1:${port}`;
  return {
    port,
    url,
    bus,
    subscriptions,
    async connect(clientId: string) {
      const c = await connectAsync(url, { clientId, reconnectPeriod: 0, protocolVersion: 4 });
      clients.push(c);
      return c;
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `cond` every 20 ms until it holds or `ms` pass. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

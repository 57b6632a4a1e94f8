/**
 * A subscriber that collects every event id delivered on netsensor/v1/sensors/+/events (persistent session,
 * QoS 1, so a broker restart does not lose what was queued for it) and counts duplicates.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { decodeBatch, type RiskEvent } from '../../protocol/event.ts';
import { parseSensorTopic, topics } from '../../protocol/topics.ts';

export class EventSubscriber {
  readonly ids = new Set<string>();
  readonly events: RiskEvent[] = [];
  readonly firstSeenAt = new Map<string, number>();
  duplicates = 0;
  batches = 0;
  statuses: Array<{ topic: string; payload: string; retain: boolean }> = [];
  /** CONNACK session-present flag of each connection: after a broker restart, false means queued messages were lost. */
  readonly sessionPresent: boolean[] = [];
  private client?: MqttClient;

  async connect(url: string, clientId: string, protocolVersion: 4 | 5 = 5): Promise<void> {
    // MQTT 5 ends a session at disconnect unless it has an expiry interval; without one, events the broker accepts
    // after a restart but before this client re-subscribes would be lost to it (not to the sensor).
    const properties = protocolVersion === 5 ? { sessionExpiryInterval: 3600 } : undefined;
    const client = mqtt.connect(url, { clientId, clean: false, protocolVersion, properties, reconnectPeriod: 200, connectTimeout: 3000 });
    this.client = client;
    client.on('connect', (connack) => this.sessionPresent.push(connack.sessionPresent));
    client.on('message', (topic, payload, packet) => {
      const t = parseSensorTopic(topic);
      if (!t) return;
      if (t.kind === 'status') { this.statuses.push({ topic, payload: payload.toString(), retain: packet.retain }); return; }
      if (t.kind !== 'events') return;
      const batch = decodeBatch(payload, t.sensorId);
      this.batches++;
      for (const e of batch.events) {
        if (this.ids.has(e.id)) { this.duplicates++; continue; }
        this.ids.add(e.id);
        this.events.push(e);
        this.firstSeenAt.set(e.id, Date.now());
      }
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync([topics.allEvents, topics.allStatus], { qos: 1 });
  }

  async close(): Promise<void> {
    await this.client?.endAsync(true);
  }
}

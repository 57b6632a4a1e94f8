/**
 * Home Assistant MQTT discovery (optional, `homeAssistant.enabled`): per sensor a binary_sensor
 * "Intrusion detected" (on while the sensor has open alerts) and a sensor "Open alerts" (their count).
 * Discovery configs are retained on <prefix>/<component>/netsensor_<id>/<object>/config; state is JSON on
 * netsensor/v1/ha/<id>/state and availability follows the sensor's status on netsensor/v1/ha/<id>/availability.
 */
import type { Logger } from '../common/log.js';
import { TOPIC_ROOT } from '../protocol/topics.js';
import type { Alert } from './alert-types.js';
import type { Bus } from './bus.js';

export const haTopics = {
  state: (id: string) => `${TOPIC_ROOT}/ha/${id}/state`,
  availability: (id: string) => `${TOPIC_ROOT}/ha/${id}/availability`,
};

const nodeId = (id: string) => `netsensor_${id.replace(/[^A-Za-z0-9_-]/g, '_')}`;

export function discoveryMessages(prefix: string, id: string, model: string | null): Array<{ topic: string; payload: Record<string, unknown> }> {
  const node = nodeId(id);
  const device = { identifiers: [node], name: `netsensor ${id}`, manufacturer: 'netsensor', model: 'network intrusion sensor', sw_version: model ?? undefined };
  const common = { state_topic: haTopics.state(id), availability_topic: haTopics.availability(id), device };
  return [
    {
      topic: `${prefix}/binary_sensor/${node}/intrusion/config`,
      payload: { ...common, name: 'Intrusion detected', unique_id: `${node}_intrusion`, device_class: 'safety', value_template: '{{ value_json.intrusion }}', payload_on: 'ON', payload_off: 'OFF' },
    },
    {
      topic: `${prefix}/sensor/${node}/open_alerts/config`,
      payload: { ...common, name: 'Open alerts', unique_id: `${node}_open_alerts`, state_class: 'measurement', icon: 'mdi:shield-alert', value_template: '{{ value_json.open_alerts }}' },
    },
  ];
}

export class HomeAssistant {
  private readonly announced = new Set<string>();
  private readonly lastState = new Map<string, string>();

  constructor(private readonly bus: Bus, private readonly prefix: string, private readonly log: Logger) {}

  async announce(id: string, model: string | null, online: boolean): Promise<void> {
    try {
      if (!this.announced.has(id)) {
        for (const m of discoveryMessages(this.prefix, id, model)) await this.bus.publish(m.topic, JSON.stringify(m.payload), { qos: 1, retain: true });
        this.announced.add(id);
      }
      await this.bus.publish(haTopics.availability(id), online ? 'online' : 'offline', { qos: 1, retain: true });
      await this.publishState(id, this.lastCount.get(id) ?? 0);
    } catch (e) {
      this.log.warn({ err: e, sensor: id }, 'home assistant discovery failed');
    }
  }

  private readonly lastCount = new Map<string, number>();

  /** Recomputes each announced sensor's open-alert count and publishes the ones that changed. */
  async update(open: Alert[]): Promise<void> {
    const counts = new Map<string, number>();
    for (const a of open) for (const s of a.sensors) counts.set(s, (counts.get(s) ?? 0) + 1);
    for (const id of this.announced) await this.publishState(id, counts.get(id) ?? 0);
  }

  private async publishState(id: string, count: number): Promise<void> {
    this.lastCount.set(id, count);
    const state = JSON.stringify({ intrusion: count > 0 ? 'ON' : 'OFF', open_alerts: count });
    if (this.lastState.get(id) === state) return;
    this.lastState.set(id, state);
    await this.bus.publish(haTopics.state(id), state, { qos: 1, retain: true }).catch((e) =>
      this.log.warn({ err: e }, 'home assistant state publish failed'));
  }
}

/**
 * Home Assistant MQTT discovery (optional, `homeAssistant.enabled`).
 *
 * - The gateway is a device of its own: a `binary_sensor` "Gateway" (connectivity, from the gateway's status
 *   topic, whose last will says offline) and an `event` entity "Alert" that fires once per new alert and once per
 *   escalation (event type = severity name), for automations.
 * - Each sensor is a device (via the gateway) with a `binary_sensor` "Intrusion detected" and a `sensor` "Open
 *   alerts". Their `availability` lists the sensor's availability AND the gateway's status (mode `all`): a dead
 *   gateway, or a dead sensor, shows the entities unavailable instead of their last state.
 *
 * Every config carries `origin` (netsensor and its version) and a device with the real software version and the
 * dashboard as `configuration_url`. Configs are retained on <prefix>/<component>/<node>/<object>/config and sent
 * again when they change (a sensor's new software version); sensor state is retained JSON on
 * netsensor/v1/ha/<id>/state, alert events are not retained (a restart of Home Assistant must not replay them).
 */
import type { Logger } from '../common/log.js';
import { SEVERITY_NAMES } from '../protocol/event.js';
import { TOPIC_ROOT, topics } from '../protocol/topics.js';
import type { Alert } from './alert-types.js';
import type { Bus } from './bus.js';

export const haTopics = {
  state: (id: string) => `${TOPIC_ROOT}/ha/${id}/state`,
  availability: (id: string) => `${TOPIC_ROOT}/ha/${id}/availability`,
  /** Alert events of the gateway's `event` entity (not retained). */
  alerts: (gatewayId: string) => `${TOPIC_ROOT}/ha/gateway/${gatewayId}/alert`,
};

export const ALERT_EVENT_TYPES = Object.values(SEVERITY_NAMES);

export interface HaIdentity {
  prefix: string;
  gatewayId: string;
  /** netsensor's version: the gateway device's sw_version and the origin's. */
  version: string;
  /** The dashboard (device page link in Home Assistant). */
  configurationUrl?: string;
}

type Discovery = { topic: string; payload: Record<string, unknown> };

const nodeId = (id: string) => `netsensor_${id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
const gatewayNode = (gatewayId: string) => `netsensor_gateway_${gatewayId.replace(/[^A-Za-z0-9_-]/g, '_')}`;

/** The gateway's status topic as an availability source (its payload is JSON with `state`). */
const gatewayAvailability = (gatewayId: string) => ({ topic: topics.gatewayStatus(gatewayId), value_template: '{{ value_json.state }}' });

export function gatewayDiscovery(ha: HaIdentity): Discovery[] {
  const node = gatewayNode(ha.gatewayId);
  const origin = { name: 'netsensor', sw_version: ha.version };
  const device = {
    identifiers: [node], name: `netsensor gateway ${ha.gatewayId}`, manufacturer: 'netsensor', model: 'netsensor gateway',
    sw_version: ha.version, ...(ha.configurationUrl ? { configuration_url: ha.configurationUrl } : {}),
  };
  return [
    {
      topic: `${ha.prefix}/binary_sensor/${node}/connectivity/config`,
      payload: {
        name: 'Gateway', unique_id: `${node}_connectivity`, device_class: 'connectivity', entity_category: 'diagnostic',
        state_topic: topics.gatewayStatus(ha.gatewayId), value_template: '{{ value_json.state }}', payload_on: 'online', payload_off: 'offline',
        device, origin,
      },
    },
    {
      topic: `${ha.prefix}/event/${node}/alert/config`,
      payload: {
        name: 'Alert', unique_id: `${node}_alert`, icon: 'mdi:shield-alert', event_types: ALERT_EVENT_TYPES,
        state_topic: haTopics.alerts(ha.gatewayId), availability: [gatewayAvailability(ha.gatewayId)], device, origin,
      },
    },
  ];
}

export function sensorDiscovery(ha: HaIdentity, id: string, sensorVersion: string | undefined): Discovery[] {
  const node = nodeId(id);
  const device = {
    identifiers: [node], name: `netsensor ${id}`, manufacturer: 'netsensor', model: 'netsensor sensor',
    via_device: gatewayNode(ha.gatewayId),
    ...(sensorVersion ? { sw_version: sensorVersion } : {}), ...(ha.configurationUrl ? { configuration_url: ha.configurationUrl } : {}),
  };
  const common = {
    state_topic: haTopics.state(id),
    availability: [{ topic: haTopics.availability(id) }, gatewayAvailability(ha.gatewayId)],
    availability_mode: 'all',
    device, origin: { name: 'netsensor', sw_version: ha.version },
  };
  return [
    {
      topic: `${ha.prefix}/binary_sensor/${node}/intrusion/config`,
      payload: { ...common, name: 'Intrusion detected', unique_id: `${node}_intrusion`, device_class: 'safety', value_template: '{{ value_json.intrusion }}', payload_on: 'ON', payload_off: 'OFF' },
    },
    {
      topic: `${ha.prefix}/sensor/${node}/open_alerts/config`,
      payload: { ...common, name: 'Open alerts', unique_id: `${node}_open_alerts`, state_class: 'measurement', icon: 'mdi:shield-alert', value_template: '{{ value_json.open_alerts }}' },
    },
  ];
}

/** The event entity's message: `event_type` (one of ALERT_EVENT_TYPES) and attributes for automations. */
export function alertEvent(a: Alert, reason: 'created' | 'escalated'): Record<string, unknown> {
  return {
    event_type: SEVERITY_NAMES[a.severity], reason, alert_id: a.id, kind: a.kind, class: a.class,
    src_ip: a.src_ip, dest_ip: a.dest_ip, dest_port: a.dest_port, sensors: a.sensors, event_count: a.event_count,
  };
}

export class HomeAssistant {
  private readonly sent = new Map<string, string>();
  private readonly announced = new Set<string>();
  private readonly lastState = new Map<string, string>();
  /** Open alerts per sensor as of the last update, announced or not (an alert may beat its sensor's discovery). */
  private counts = new Map<string, number>();

  constructor(private readonly bus: Bus, private readonly ha: HaIdentity, private readonly log: Logger) {}

  /** Retained discovery configs, each sent again only when it changed. */
  private async publishConfigs(configs: Discovery[]): Promise<void> {
    for (const m of configs) {
      const text = JSON.stringify(m.payload);
      if (this.sent.get(m.topic) === text) continue;
      await this.bus.publish(m.topic, text, { qos: 1, retain: true });
      this.sent.set(m.topic, text);
    }
  }

  async announceGateway(): Promise<void> {
    await this.publishConfigs(gatewayDiscovery(this.ha)).catch((e) => this.log.warn({ err: e }, 'home assistant discovery failed'));
  }

  async announce(id: string, sensorVersion: string | undefined, online: boolean): Promise<void> {
    try {
      await this.publishConfigs(sensorDiscovery(this.ha, id, sensorVersion));
      this.announced.add(id);
      await this.bus.publish(haTopics.availability(id), online ? 'online' : 'offline', { qos: 1, retain: true });
      await this.publishState(id);
    } catch (e) {
      this.log.warn({ err: e, sensor: id }, 'home assistant discovery failed');
    }
  }

  /** Fires the gateway's `event` entity for a new or escalated alert. */
  async alert(a: Alert, reason: 'created' | 'escalated'): Promise<void> {
    await this.bus.publish(haTopics.alerts(this.ha.gatewayId), JSON.stringify(alertEvent(a, reason)), { qos: 1, retain: false });
  }

  /** Recomputes each announced sensor's open-alert count and publishes the ones that changed. */
  async update(open: Alert[]): Promise<void> {
    const counts = new Map<string, number>();
    for (const a of open) for (const s of a.sensors) counts.set(s, (counts.get(s) ?? 0) + 1);
    this.counts = counts;
    for (const id of this.announced) await this.publishState(id);
  }

  /** Publishes the current count when it changed; whichever caller comes last sends the latest counts. */
  private async publishState(id: string): Promise<void> {
    const count = this.counts.get(id) ?? 0;
    const state = JSON.stringify({ intrusion: count > 0 ? 'ON' : 'OFF', open_alerts: count });
    if (this.lastState.get(id) === state) return;
    this.lastState.set(id, state);
    await this.bus.publish(haTopics.state(id), state, { qos: 1, retain: true }).catch((e) =>
      this.log.warn({ err: e }, 'home assistant state publish failed'));
  }
}

/**
 * Home Assistant discovery checked against HA's documented rules (test/helpers/ha-discovery-rules.ts): every
 * config the gateway announces, the gateway's own device with the real software version, origin and
 * configuration_url, the `event` entity firing on a new and an escalated alert, and availability that lists the
 * gateway: a killed gateway (SIGKILL, external Mosquitto) turns the sensors' entities unavailable via its will.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { packageVersion } from '../common/version.ts';
import { topics } from '../protocol/topics.ts';
import { connect, makeBatch, makeEvent, startGateway } from './helpers/gateway-fixtures.ts';
import { startChildGateway } from './helpers/gateway-process.ts';
import { checkDiscovery, isAvailable } from './helpers/ha-discovery-rules.ts';
import { Mosquitto } from './helpers/mosquitto.ts';
import { withTools } from './helpers/tools.ts';

const MOSQUITTO_PORT = 20401;

async function waitFor<T>(get: () => T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Records the last payload per topic and every message on the alert-event topic, with its retain flag. */
function watch(c: MqttClient) {
  const last = new Map<string, string>();
  const events: Array<{ msg: Record<string, unknown>; retain: boolean }> = [];
  c.on('message', (topic, payload, packet) => {
    last.set(topic, payload.toString());
    if (/^netsensor\/v1\/ha\/gateway\/[^/]+\/alert$/.test(topic)) events.push({ msg: JSON.parse(payload.toString()), retain: packet.retain });
  });
  return { last, events };
}

const configs = (last: Map<string, string>) =>
  [...last].filter(([t]) => t.startsWith('homeassistant/')).map(([topic, text]) => ({ topic, payload: JSON.parse(text) as Record<string, any> }));

test('the rules catch what Home Assistant refuses', () => {
  const ok = { name: 'x', unique_id: 'u1', state_topic: 'a/b', event_types: ['high'], device: { identifiers: ['d'] }, origin: { name: 'n' } };
  assert.equal(checkDiscovery('homeassistant/event/node/x/config', ok), []);
  const bad = (p: Record<string, unknown>, topic = 'homeassistant/event/node/x/config') => checkDiscovery(topic, { ...ok, ...p });
  assert.ok(bad({ availability: [{ topic: 'a' }], availability_topic: 'a' }).some((e) => e.includes('together')));
  assert.ok(bad({ stat_t: 'a/c' }).some((e) => e.includes('given twice')));
  assert.ok(bad({ event_types: [] }).some((e) => e.includes('event_types')));
  assert.ok(bad({ device: { name: 'no ids' } }).some((e) => e.includes('identifiers')));
  assert.ok(bad({ device: { identifiers: ['d'], configuration_url: 'ftp://x/' } }).some((e) => e.includes('configuration_url')));
  assert.ok(bad({ origin: { sw: '1' } }).some((e) => e.includes('origin.name')));
  assert.ok(bad({ availability: [{ topic: 'a/+' }] }).some((e) => e.includes('wildcard')));
  assert.ok(bad({ colour: 'red' }).some((e) => e.includes("unknown key 'colour'")));
  assert.ok(bad({}, 'homeassistant/event/x.y/config').length > 0);
});

test('every discovery config follows the rules; gateway device, origin, versions; the event entity fires on new and escalated alerts', async () => {
  const g = await startGateway({ mqtt: { port: 0 }, http: { port: 0 }, homeAssistant: { enabled: true, configurationUrl: 'https://gw.example:8443/' }, gatewayId: 'gw-ha' });
  const watcher = await connect(`mqtt://127.0.0.1:${g.gw.mqttPort}`);
  const sensor = await connect(`mqtt://127.0.0.1:${g.gw.mqttPort}`);
  const { last, events } = watch(watcher);
  try {
    await watcher.subscribeAsync(['homeassistant/#', 'netsensor/v1/ha/#', 'netsensor/v1/gateway/+/status'], { qos: 1 });
    await sensor.publishAsync(topics.status('edge-1'), JSON.stringify({ state: 'online', ts: Date.now(), model: 'm-7', version: '9.9.9-test' }), { qos: 1, retain: true });
    await sensor.publishAsync(topics.events('edge-1'), makeBatch('edge-1', [makeEvent({ sensor: 'edge-1', severity: 2 })]), { qos: 1 });
    await sensor.publishAsync(topics.events('edge-2'), makeBatch('edge-2', [makeEvent({ sensor: 'edge-2', severity: 2 })]), { qos: 1 });
    await waitFor(() => events.length >= 2 && last.has('homeassistant/sensor/netsensor_edge-1/open_alerts/config'), 5000, 'alert events and discovery');

    const all = configs(last);
    assert.ok(all.length >= 4, `gateway and sensor configs announced (${all.map((c) => c.topic).join(', ')})`);
    for (const c of all) assert.equal(checkDiscovery(c.topic, c.payload), [], c.topic);
    const ids = all.map((c) => c.payload.unique_id);
    assert.is(new Set(ids).size, ids.length, 'unique_id unique');
    for (const c of all) {
      assert.equal(c.payload.origin, { name: 'netsensor', sw_version: packageVersion() });
      assert.is(c.payload.device.configuration_url, 'https://gw.example:8443/');
    }

    const event = all.find((c) => c.topic === 'homeassistant/event/netsensor_gateway_gw-ha/alert/config')!;
    assert.ok(event, 'event entity announced on the gateway device');
    assert.is(event.payload.device.sw_version, packageVersion(), 'the gateway device shows the software version');
    const intrusion = all.find((c) => c.topic === 'homeassistant/binary_sensor/netsensor_edge-1/intrusion/config')!;
    assert.is(intrusion.payload.device.sw_version, '9.9.9-test', "a sensor device shows the sensor's software version, not its model's");
    assert.is(intrusion.payload.device.via_device, 'netsensor_gateway_gw-ha');
    assert.ok(intrusion.payload.availability.some((a: { topic: string }) => a.topic === topics.gatewayStatus('gw-ha')), 'availability lists the gateway');
    assert.ok(isAvailable(intrusion.payload, last), 'sensor and gateway online: available');
    // the alert may arrive before the sensor's discovery is out: its state must still end up counting it
    await waitFor(() => last.get('netsensor/v1/ha/edge-1/state') === JSON.stringify({ intrusion: 'ON', open_alerts: 1 }), 5000, 'edge-1 state ON');

    const [created, escalated] = events;
    assert.equal([created.msg.reason, created.msg.event_type], ['created', 'medium']);
    assert.equal([escalated.msg.reason, escalated.msg.event_type], ['escalated', 'high']);
    assert.is(escalated.msg.alert_id, created.msg.alert_id);
    for (const e of events) {
      assert.ok((event.payload.event_types as string[]).includes(e.msg.event_type as string), 'event_type is one of event_types');
      assert.is(e.retain, false, 'alert events are not retained');
    }
    assert.is(events.length, 2, 'one event per new alert and per escalation, none for updates');
  } finally {
    await watcher.endAsync();
    await sensor.endAsync();
    await g.stop();
  }
});

withTools(test, ['mosquitto'])('a killed gateway turns the entities unavailable through its last will (external broker)', async () => {
  const mosq = new Mosquitto(MOSQUITTO_PORT);
  await mosq.start();
  const dir = mkdtempSync(join(tmpdir(), 'nsops-ha-'));
  let watcher: MqttClient | undefined;
  let child: Awaited<ReturnType<typeof startChildGateway>> | undefined;
  try {
    watcher = await connect(mosq.url, { protocolVersion: 5 });
    const { last } = watch(watcher);
    await watcher.subscribeAsync(['homeassistant/#', 'netsensor/v1/ha/#', 'netsensor/v1/gateway/+/status'], { qos: 1 });
    child = await startChildGateway({
      mqtt: { broker: mosq.url, clientId: 'nsops-gw' }, http: { port: 0 }, store: { path: join(dir, 'gw.db') },
      homeAssistant: { enabled: true }, gatewayId: 'gw-kill',
    });
    await watcher.publishAsync(topics.status('edge-9'), JSON.stringify({ state: 'online', ts: Date.now(), version: '1.2.3' }), { qos: 1, retain: true });
    const cfgText = await waitFor(() => last.get('homeassistant/binary_sensor/netsensor_edge-9/intrusion/config'), 10_000, 'sensor discovery');
    const cfg = JSON.parse(cfgText);
    await waitFor(() => last.get('netsensor/v1/ha/edge-9/availability') === 'online', 5000, 'sensor availability');
    assert.is(JSON.parse(last.get(topics.gatewayStatus('gw-kill'))!).state, 'online');
    assert.ok(isAvailable(cfg, last), 'available while both run');

    child.proc.kill('SIGKILL');
    await child.stop();
    await waitFor(() => JSON.parse(last.get(topics.gatewayStatus('gw-kill')) ?? '{}').state === 'offline', 5000, 'the will');
    assert.not.ok(isAvailable(cfg, last), 'unavailable once the gateway is dead, although the sensor still says online');
    assert.is(last.get('netsensor/v1/ha/edge-9/availability'), 'online');
    const connectivity = JSON.parse(last.get('homeassistant/binary_sensor/netsensor_gateway_gw-kill/connectivity/config')!);
    assert.equal(checkDiscovery('homeassistant/binary_sensor/netsensor_gateway_gw-kill/connectivity/config', connectivity), []);
    assert.is(JSON.parse(last.get(connectivity.state_topic)!).state, connectivity.payload_off, 'the gateway connectivity sensor reads off');
  } finally {
    await watcher?.endAsync();
    if (child && child.exited() === undefined) child.proc.kill('SIGKILL');
    await mosq.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

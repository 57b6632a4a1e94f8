import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Correlator } from '../gateway/correlate.ts';
import { defaults } from '../gateway/config.ts';
import type { StoredEvent } from '../gateway/store.ts';
import { topics } from '../protocol/topics.ts';
import { connect, makeBatch, makeEvent, startGateway, waitFor, type EventSpec } from './helpers/gateway-fixtures.ts';

const MQTT = 18833;
const HTTP = 18083;
const rules = { ...defaults.correlation, windowMs: 60_000, scanPorts: 20, sweepHosts: 10, multiSensor: 2 };
let seq = 0;
const ev = (s: EventSpec): StoredEvent => ({ ...makeEvent(s), seq: ++seq, received: Date.now() });
const T0 = 1_700_000_000_000;

test('same source + class within the window → one alert with counts, first/last seen and affected hosts', () => {
  const c = new Correlator(rules, () => T0);
  const r1 = c.ingest([ev({ t: T0, dst: '10.0.0.1' }), ev({ t: T0 + 10_000, dst: '10.0.0.2' })]);
  const r2 = c.ingest([ev({ t: T0 + 50_000, dst: '10.0.0.1' })]);
  assert.is(r1.changes.length, 1);
  assert.ok(r1.changes[0].created);
  assert.is(r2.changes.length, 1);
  assert.not.ok(r2.changes[0].created);
  const a = r2.changes[0].alert;
  assert.is(a.id, r1.changes[0].alert.id);
  assert.is(a.event_count, 3);
  assert.is(a.first_seen, T0 - 1000);
  assert.is(a.last_seen, T0 + 50_000);
  assert.equal(a.hosts.sort(), ['10.0.0.1', '10.0.0.2']);
  assert.is(a.host_count, 2);
  assert.is(r1.links.length + r2.links.length, 3);
  assert.ok(a.top.length > 0 && a.top[0][0] === 'bidirectional_syn_packets');
});

test('outside the window, or another class or source → separate alerts', () => {
  const c = new Correlator(rules, () => T0);
  const r = c.ingest([
    ev({ t: T0 }), ev({ t: T0 + 200_000 }), // beyond the 60 s window
    ev({ t: T0, cls: 'dos' }), ev({ t: T0, src: '10.0.0.6' }),
  ]);
  const created = r.changes.filter((x) => x.created);
  assert.is(created.length, 4);
  const closed = r.changes.filter((x) => x.alert.status === 'closed');
  assert.is(closed.length, 1, 'the first alert is closed when the next window starts');
});

test('the same source seen by several sensors raises the severity (and reports an escalation)', () => {
  const c = new Correlator(rules, () => T0);
  const r1 = c.ingest([ev({ t: T0, sensor: 'a', severity: 2 }), ev({ t: T0 + 1, sensor: 'a', severity: 2 })]);
  assert.is(r1.changes[0].alert.severity, 2);
  const r2 = c.ingest([ev({ t: T0 + 5, sensor: 'b', severity: 2 })]);
  assert.is(r2.changes[0].alert.severity, 1);
  assert.ok(r2.changes[0].escalated);
  assert.equal(r2.changes[0].alert.sensors, ['a', 'b']);
  const r3 = c.ingest([ev({ t: T0 + 6, sensor: 'c', severity: 3 })]);
  assert.not.ok(r3.changes[0].escalated, 'already at the top');
  assert.is(r3.changes[0].alert.severity, 1);
});

test('one source touching many ports of a host → port-scan alert; many hosts → host-sweep alert', () => {
  const c = new Correlator(rules, () => T0);
  const scan = Array.from({ length: 25 }, (_, i) => ev({ t: T0 + i, src: '192.0.2.7', dst: '10.0.0.1', dport: 1000 + i, cls: 'anomaly' }));
  const r = c.ingest(scan);
  const ps = r.changes.find((x) => x.alert.kind === 'port_scan');
  assert.ok(ps, 'port scan alert');
  assert.ok(ps!.created);
  assert.is(ps!.alert.port_count, 25);
  assert.is(ps!.alert.event_count, 25, 'events before the threshold belong to it too');
  assert.is(r.links.filter(([id]) => id === ps!.alert.id).length, 25);
  assert.not.ok(r.changes.find((x) => x.alert.kind === 'host_sweep'));

  const sweep = Array.from({ length: 12 }, (_, i) => ev({ t: T0 + i, src: '192.0.2.8', dst: `10.0.3.${i}`, dport: 445, cls: 'anomaly' }));
  const r2 = c.ingest(sweep);
  const hs = r2.changes.find((x) => x.alert.kind === 'host_sweep');
  assert.ok(hs, 'host sweep alert');
  assert.is(hs!.alert.host_count, 12);
  assert.is(hs!.alert.severity, 2);
  // Below the thresholds: no scan alerts.
  const quiet = c.ingest(Array.from({ length: 5 }, (_, i) => ev({ t: T0 + i, src: '192.0.2.9', dst: `10.0.4.${i}`, dport: 80 + i })));
  assert.is(quiet.changes.filter((x) => x.alert.kind !== 'class').length, 0);
});

test('idle alerts are closed after a window of wall-clock silence', () => {
  let now = T0;
  const c = new Correlator(rules, () => now);
  c.ingest([ev({ t: T0 })]);
  assert.is(c.openCount(), 1);
  now += 30_000;
  assert.is(c.closeIdle().length, 0);
  now += 40_000;
  const closed = c.closeIdle();
  assert.is(closed.length, 1);
  assert.is(closed[0].status, 'closed');
  assert.is(c.openCount(), 0);
});

test('end to end: alerts are published as EVE-style JSON on create and on escalation; HA discovery', async () => {
  const g = await startGateway({ mqtt: { port: MQTT }, http: { port: HTTP }, homeAssistant: { enabled: true } });
  const watcher = await connect(`mqtt://127.0.0.1:${MQTT}`);
  const sa = await connect(`mqtt://127.0.0.1:${MQTT}`);
  const got: Array<{ topic: string; msg: any }> = [];
  const retained = new Map<string, string>();
  watcher.on('message', (topic, payload) => {
    if (topic.startsWith('netsensor/v1/alerts/')) got.push({ topic, msg: JSON.parse(payload.toString()) });
    else retained.set(topic, payload.toString());
  });
  try {
    await watcher.subscribeAsync(['netsensor/v1/alerts/#', 'homeassistant/#', 'netsensor/v1/ha/#'], { qos: 1 });
    await sa.publishAsync(topics.status('edge-1'), JSON.stringify({ state: 'online', ts: Date.now(), model: 'm-1', counters: { packets: 5 } }), { qos: 1, retain: true });
    await sa.publishAsync(topics.events('edge-1'), makeBatch('edge-1', [makeEvent({ sensor: 'edge-1', severity: 2, dport: 22 })]), { qos: 1 });
    const first = await waitFor(() => got[0], 5000, 'created alert');
    assert.is(first.topic, 'netsensor/v1/alerts/medium/edge-1');
    assert.is(first.msg.event_type, 'alert');
    assert.is(first.msg.src_ip, '10.0.0.5');
    assert.is(first.msg.dest_ip, '10.0.0.9');
    assert.is(first.msg.dest_port, 22);
    assert.is(first.msg.proto, 'TCP');
    assert.is(first.msg.host, 'edge-1');
    assert.is(first.msg.alert.severity, 2);
    assert.is(first.msg.alert.category, 'Attempted User Privilege Gain');
    assert.ok(!Number.isNaN(Date.parse(first.msg.timestamp)));
    assert.is(first.msg.netsensor.reason, 'created');
    // More events from the same sensor: stored and counted, but no new message (no escalation).
    await sa.publishAsync(topics.events('edge-1'), makeBatch('edge-1', [makeEvent({ sensor: 'edge-1' })]), { qos: 1 });
    await waitFor(() => g.gw.ingest.stored === 2);
    await new Promise((r) => setTimeout(r, 200));
    assert.is(got.length, 1);
    // A second sensor sees the same source + class → escalation to high.
    await sa.publishAsync(topics.events('edge-2'), makeBatch('edge-2', [makeEvent({ sensor: 'edge-2' })]), { qos: 1 });
    const second = await waitFor(() => got[1], 5000, 'escalation');
    assert.is(second.topic, 'netsensor/v1/alerts/high/edge-2');
    assert.is(second.msg.netsensor.reason, 'escalated');
    assert.is(second.msg.alert.severity, 1);
    assert.is(second.msg.netsensor.alert_id, first.msg.netsensor.alert_id);
    assert.is(second.msg.netsensor.event_count, 3);
    // Home Assistant: discovery for the sensor and its state.
    const cfg = await waitFor(() => retained.get('homeassistant/binary_sensor/netsensor_edge-1/intrusion/config'), 5000, 'discovery');
    const parsed = JSON.parse(cfg);
    assert.is(parsed.state_topic, 'netsensor/v1/ha/edge-1/state');
    assert.ok(retained.has('homeassistant/sensor/netsensor_edge-1/open_alerts/config'));
    const state = await waitFor(() => retained.get('netsensor/v1/ha/edge-1/state'), 5000, 'ha state');
    assert.equal(JSON.parse(state), { intrusion: 'ON', open_alerts: 1 });
    assert.is(retained.get('netsensor/v1/ha/edge-1/availability'), 'online');
    // The registry took the model version and counters from the status message.
    const s = g.gw.registry.list().find((x) => x.id === 'edge-1')!;
    assert.is(s.state, 'online');
    assert.is(s.model, 'm-1');
    assert.equal(s.counters, { packets: 5 });
  } finally {
    await watcher.endAsync();
    await sa.endAsync();
    await g.stop();
  }
});

test('last will marks a sensor offline; CBOR status is accepted too', async () => {
  const g = await startGateway({ mqtt: { port: MQTT }, http: { port: HTTP } });
  const { encode } = await import('cbor-x');
  try {
    const s = await connect(`mqtt://127.0.0.1:${MQTT}`, { clientId: 'edge-9', will: { topic: topics.status('edge-9'), payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true } });
    await s.publishAsync(topics.status('edge-9'), Buffer.from(encode({ state: 'online', ts: Date.now(), model: 'cbor-model' })), { qos: 1, retain: true });
    await waitFor(() => g.gw.registry.list().find((x) => x.id === 'edge-9' && x.state === 'online'), 5000, 'online');
    assert.is(g.gw.registry.list().find((x) => x.id === 'edge-9')!.model, 'cbor-model');
    s.stream.destroy(); // connection dies without DISCONNECT → broker sends the will
    await waitFor(() => g.gw.registry.list().find((x) => x.id === 'edge-9' && x.state === 'offline'), 5000, 'offline by last will');
    s.end(true);
  } finally {
    await g.stop();
  }
});

test.run();

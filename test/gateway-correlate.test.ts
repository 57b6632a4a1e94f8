import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlertPublisher, type AlertReason } from '../gateway/alert-publisher.ts';
import { toEve } from '../gateway/alerts.ts';
import { Correlator, type CorrelationResult } from '../gateway/correlate.ts';
import { Store } from '../gateway/store.ts';
import { defaults } from '../gateway/config.ts';
import type { StoredEvent } from '../gateway/store.ts';
import { topics } from '../protocol/topics.ts';
import { connect, getJson, makeBatch, makeEvent, startGateway, waitFor, type EventSpec } from './helpers/gateway-fixtures.ts';

const MQTT = 18896;
const HTTP = 18097;
const rules = { ...defaults.correlation, windowMs: 60_000, scanPorts: 20, sweepHosts: 10, multiSensor: 2, fanInSources: 10 };
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

/** Spoofed one-shot sources: one event each against one host (a SYN flood with random source addresses). */
const spoofed = (n: number, from: number, t: number, cls = 'scan', dst = '10.1.1.10', dport = 80) =>
  Array.from({ length: n }, (_, i) => ev({ t: t + i, src: `198.18.${(from + i) >> 8}.${(from + i) & 255}`, dst, dport, cls, severity: 2 }));

/** Stores events and persists what correlation returns, as the ingest path does (one transaction). */
function persist(store: Store, c: Correlator, events: ReturnType<typeof makeEvent>[]): CorrelationResult {
  return store.transaction(() => {
    const fresh = store.insertEvents(events, Date.now());
    const r = c.ingest(fresh);
    for (const ch of r.changes) store.upsertAlert(ch.alert);
    for (const [id, seq] of r.links) store.linkEvent(id, seq);
    return r;
  });
}

function withStore(fn: (s: Store) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'nsgw-corr-'));
  const s = new Store(join(dir, 'gw.db'));
  try { fn(s); } finally { s.close(); rmSync(dir, { recursive: true, force: true }); }
}

test('fan-in: many one-shot sources against one host → ONE fan_in alert; earlier one-event alerts merged into it (real store)', () => withStore((store) => {
  const c = new Correlator(rules, () => T0);
  // Below the threshold (9 sources, in separate batches): each source still has its own alert, no fan_in.
  const early: string[] = [];
  for (const e of spoofed(9, 0, T0)) {
    const r = persist(store, c, [e]);
    assert.is(r.changes.length, 1);
    assert.is(r.changes[0].alert.kind, 'class');
    assert.ok(r.changes[0].created);
    early.push(r.changes[0].alert.id);
  }
  // The 10th distinct one-shot source reaches the threshold: a fan_in alert, no per-source alert for it.
  const r10 = persist(store, c, spoofed(1, 9, T0 + 100));
  const fan = r10.changes.find((x) => x.alert.kind === 'fan_in');
  assert.ok(fan && fan.created, 'fan_in alert created');
  assert.not.ok(r10.changes.some((x) => x.created && x.alert.kind === 'class'), 'no alert for the 10th source itself');
  assert.is(fan!.alert.source_count, 10);
  assert.is(fan!.alert.event_count, 10);
  assert.is(fan!.alert.dest_ip, '10.1.1.10');
  const merged = r10.changes.filter((x) => x.alert.merged_into === fan!.alert.id);
  assert.equal(merged.map((x) => x.alert.id).sort(), [...early].sort());
  for (const m of merged) { assert.is(m.alert.status, 'closed'); assert.not.ok(m.created || m.escalated || m.silent); }
  // 500 more spoofed sources, some classed dos: they fold in (no alert per source); severity high for dos.
  const flood = [...spoofed(400, 10, T0 + 200), ...spoofed(100, 410, T0 + 300, 'dos')];
  const rf = persist(store, c, flood);
  assert.is(rf.changes.length, 1, 'only the fan_in alert changed');
  const a = rf.changes[0].alert;
  assert.is(a.id, fan!.alert.id);
  assert.ok(rf.changes[0].escalated, 'medium → high once dos events fold in');
  assert.is(a.severity, 1);
  assert.is(a.class, 'scan', 'majority class');
  assert.equal(a.class_counts, { scan: 410, dos: 100 });
  assert.is(a.source_count, 510);
  assert.is(a.event_count, 510);
  assert.equal(a.ports, [80]);
  // In the store: 1 fan_in + 9 merged (closed) alerts; the fan_in alert holds all 510 events.
  const open = store.queryAlerts({ limit: 100, status: 'open' }).alerts;
  assert.equal(open.map((x) => x.kind), ['fan_in']);
  assert.is(store.queryAlerts({ limit: 100 }).alerts.length, 10);
  assert.is(store.alertEvents(a.id, 1000).length, 510);
  assert.is(store.getAlert(early[0])!.merged_into, a.id);
  assert.is(store.alertEvents(early[0], 10).length, 1, 'a merged alert keeps its event');
  const eve = toEve(a, 's1', 'created');
  assert.match(eve.alert.signature, /distributed scan against 10\.1\.1\.10 from 510 sources/);
  assert.is(eve.netsensor.source_count, 510);
  assert.is(eve.netsensor.sources!.length, 64);
  assert.is(eve.alert.severity, 1);
  const st = store.stats({ since: 0, until: Number.MAX_SAFE_INTEGER, bucketMs: 3_600_000 });
  assert.is(st.top_sources.length, 0, 'spoofed sources are not top sources');
  assert.equal(st.top_destinations.map((d) => d.dest_ip), ['10.1.1.10'], 'the fan-in target is the top destination');
  assert.is(st.alerts.total, 1, 'merged alerts are not counted');
}));

test('fan-in: a source with events of its own keeps (or gets) its own alert; other hosts and active sources are untouched', () => {
  const c = new Correlator(rules, () => T0);
  c.ingest(spoofed(30, 0, T0));
  // A real attacker among the flood: 3 events of its own against the same host → its own alert with all 3.
  const attacker = '192.0.2.50';
  const r1 = c.ingest([ev({ t: T0 + 100, src: attacker, dst: '10.1.1.10', dport: 80, cls: 'scan' })]);
  assert.is(r1.changes.length, 1);
  assert.is(r1.changes[0].alert.kind, 'fan_in', 'its first event is one-shot: folded');
  const r2 = c.ingest([ev({ t: T0 + 200, src: attacker, dst: '10.1.1.10', dport: 80, cls: 'scan' }), ev({ t: T0 + 300, src: attacker, dst: '10.1.1.10', dport: 80, cls: 'scan' })]);
  const own = r2.changes.find((x) => x.alert.kind === 'class');
  assert.ok(own && own.created, 'second event: its own alert');
  assert.is(own!.alert.src_ip, attacker);
  assert.is(own!.alert.event_count, 3, 'takes its folded first event along');
  assert.is(r2.links.filter(([id]) => id === own!.alert.id).length, 3);
  // A source active elsewhere is not one-shot even for its first event against the flooded host.
  c.ingest([ev({ t: T0, src: '192.0.2.60', dst: '10.9.9.9', cls: 'bruteforce' })]);
  const r3 = c.ingest([ev({ t: T0 + 400, src: '192.0.2.60', dst: '10.1.1.10', cls: 'bruteforce' })]);
  assert.ok(r3.changes.every((x) => x.alert.kind === 'class' && x.alert.src_ip === '192.0.2.60'));
  // Another host with few one-shot sources: per-source alerts as before.
  const other = c.ingest(spoofed(5, 1000, T0, 'scan', '10.1.1.20'));
  assert.is(other.changes.filter((x) => x.created && x.alert.kind === 'class').length, 5);
  // Many sources with several events each against one host: per-source alerts, no fan_in.
  const busy = c.ingest(Array.from({ length: 24 }, (_, i) => ev({ t: T0 + i, src: `192.0.2.${100 + (i % 12)}`, dst: '10.1.1.30', cls: 'bruteforce' })));
  assert.not.ok(busy.changes.some((x) => x.alert.kind === 'fan_in' && x.alert.dest_ip === '10.1.1.30'));
  assert.is(busy.changes.filter((x) => x.created && x.alert.kind === 'class').length, 12);
});

test('fan-in: sources outside the window do not count; one batch that opens and merges alerts announces only the fan_in alert', () => {
  const c = new Correlator(rules, () => T0);
  // 9 sources, then 9 more after the window: never 10 inside one window.
  c.ingest(spoofed(9, 0, T0));
  const late = c.ingest(spoofed(9, 100, T0 + 120_000));
  assert.not.ok(late.changes.some((x) => x.alert.kind === 'fan_in'));
  // 9 one-shot sources that each send more later are alerted on their own: a 10th one-shot source makes no fan-in.
  c.ingest(spoofed(9, 300, T0 + 200_000, 'scan', '10.1.1.50'));
  c.ingest(spoofed(9, 300, T0 + 201_000, 'scan', '10.1.1.50'));
  const tenth = c.ingest(spoofed(1, 309, T0 + 202_000, 'scan', '10.1.1.50'));
  assert.not.ok(tenth.changes.some((x) => x.alert.kind === 'fan_in'), 'sources with activity of their own do not count');
  // 50 one-shot sources in one batch: the first 9 open alerts that the 10th merges within the same batch.
  const r = c.ingest(spoofed(50, 200, T0 + 300_000, 'scan', '10.1.1.40'));
  const announced = r.changes.filter((x) => (x.created || x.escalated) || !x.silent && x.alert.status === 'open');
  assert.equal(announced.map((x) => x.alert.kind), ['fan_in']);
  assert.is(r.changes.filter((x) => x.silent).length, 9);
  assert.is(r.changes.find((x) => x.alert.kind === 'fan_in')!.alert.event_count, 50);
});

test('alert publisher: created/escalated at once; updates at most once per interval per alert, the latest state trailing', async () => {
  const sent: Array<{ id: string; reason: AlertReason; events: number }> = [];
  const pub = new AlertPublisher((a, _s, reason) => sent.push({ id: a.id, reason, events: a.event_count }), 300);
  const c = new Correlator(rules, () => Date.now());
  const t = Date.now();
  for (let k = 0; k < 20; k++) {
    pub.onChanges(c.ingest(spoofed(50, k * 50, t + k)).changes);
    await new Promise((r) => setTimeout(r, 50));
  }
  // 20 batches over ~1 s: created once, escalated never (no dos), updates ≤ 1 per 300 ms.
  const fan = sent.filter((m) => m.reason === 'created');
  assert.is(fan.length, 1);
  const updates = sent.filter((m) => m.reason === 'updated');
  assert.ok(updates.length >= 2 && updates.length <= 5, `${updates.length} updates`);
  await new Promise((r) => setTimeout(r, 1300));
  const last = sent.filter((m) => m.reason === 'updated').at(-1)!;
  assert.is(last.events, 1000, 'the trailing update carries the final count');
  assert.is(pub.sent.created + pub.sent.updated, sent.length);
  await new Promise((r) => setTimeout(r, 1100));
  assert.is(pub.tracked, 0, 'entries expire once quiet');
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

test('end to end: a spoofed-source flood gives one fan_in alert on MQTT and in the API, updates rate-limited', async () => {
  const g = await startGateway({ mqtt: { port: MQTT }, http: { port: HTTP }, correlation: { updateIntervalMs: 400 } });
  const watcher = await connect(`mqtt://127.0.0.1:${MQTT}`);
  const sensor = await connect(`mqtt://127.0.0.1:${MQTT}`);
  const got: any[] = [];
  watcher.on('message', (_t, p) => got.push(JSON.parse(p.toString())));
  try {
    await watcher.subscribeAsync('netsensor/v1/alerts/#', { qos: 1 });
    const t = Date.now();
    for (let b = 0; b < 12; b++) {
      const events = Array.from({ length: 100 }, (_, i) => makeEvent({ sensor: 'edge-f', src: `100.64.${b}.${i}`, dst: '10.7.7.7', dport: 80, cls: b % 3 ? 'scan' : 'dos', t: t + b * 100 + i }));
      await sensor.publishAsync(topics.events('edge-f'), makeBatch('edge-f', events, b + 1), { qos: 1 });
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitFor(() => g.gw.ingest.stored === 1200, 10_000, 'all stored');
    const final = await waitFor(() => got.find((m) => m.netsensor.source_count === 1200), 5000, 'trailing update with all sources');
    assert.is(final.netsensor.kind, 'fan_in');
    assert.is(final.alert.severity, 1);
    assert.is(final.dest_ip, '10.7.7.7');
    assert.is(new Set(got.map((m) => m.netsensor.alert_id)).size, 1, `one alert announced, ${got.length} messages`);
    assert.is(got.filter((m) => m.netsensor.reason === 'created').length, 1);
    assert.ok(got.length <= 6, `${got.length} messages for 1200 events over ~1.2 s (created + updates ≤ 1 per 400 ms)`);
    const api = await getJson(`http://127.0.0.1:${HTTP}/api/alerts?status=open`);
    assert.is(api.body.alerts.length, 1);
    assert.is(api.body.alerts[0].kind, 'fan_in');
    assert.is(api.body.alerts[0].event_count, 1200);
  } finally {
    await watcher.endAsync();
    await sensor.endAsync();
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

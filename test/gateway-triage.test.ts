import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { topics } from '../protocol/topics.ts';
import { Store } from '../gateway/store.ts';
import { SCHEMA_VERSION } from '../gateway/store-migrations.ts';
import { connect, getJson, makeBatch, makeEvent, startGateway, waitFor } from './helpers/gateway-fixtures.ts';

const MQTT = 20510;
const HTTP = 20511;
const TOKEN = 'triage-token-0123456789abcdef';
const T0 = Date.parse('2024-05-01T12:00:00Z');
const HOUR = 3_600_000;
/** Flow times of the two attacks: 12:10 and 13:10 UTC. */
const TA = T0 + 600_000;
const TB = TA + HOUR;

function post(url: string, body: unknown, headers: Record<string, string> = { 'x-netsensor-request': '1' }, type = 'application/json') {
  return fetch(url, { method: 'POST', headers: { 'content-type': type, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) })
    .then(async (r) => ({ status: r.status, body: await r.json() as any }));
}

test('migration: a database from before triage opens with destination, merge and triage columns filled', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nsdash-mig-'));
  const path = join(dir, 'old.db');
  try {
    // The alerts table as the first release created it (no user_version).
    const old = new Database(path);
    old.exec(`CREATE TABLE alerts (id TEXT PRIMARY KEY, kind TEXT NOT NULL, class TEXT NOT NULL, src_ip TEXT NOT NULL,
      severity INTEGER NOT NULL, status TEXT NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
      created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, event_count INTEGER NOT NULL, sensors TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID`);
    const ins = old.prepare(`INSERT INTO alerts VALUES (?, 'class', 'scan', ?, 2, 'closed', 1, 2, 3, 4, 1, '["s1"]', ?)`);
    ins.run('0190b4c0-0000-7000-8000-000000000001', '10.0.0.1', JSON.stringify({ id: '0190b4c0-0000-7000-8000-000000000001', dest_ip: '10.9.0.1', hosts: ['10.9.0.1'], sensors: ['s1'] }));
    ins.run('0190b4c0-0000-7000-8000-000000000002', '10.0.0.2', JSON.stringify({ id: '0190b4c0-0000-7000-8000-000000000002', dest_ip: '10.9.0.2', hosts: ['10.9.0.2'], sensors: ['s1'], merged_into: '0190b4c0-0000-7000-8000-000000000003' }));
    old.close();

    const s = new Store(path);
    try {
      assert.is(s.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(s.queryAlerts({ limit: 10, dest_ip: '10.9.0.2' }).alerts.map((a) => a.id), ['0190b4c0-0000-7000-8000-000000000002']);
      assert.equal(s.queryAlerts({ limit: 10, merged: false }).alerts.map((a) => a.id), ['0190b4c0-0000-7000-8000-000000000001']);
      assert.equal(s.queryAlerts({ limit: 10, merged: true }).alerts.map((a) => a.id), ['0190b4c0-0000-7000-8000-000000000002']);
      assert.equal(s.getAlert('0190b4c0-0000-7000-8000-000000000001')!.triage, { state: 'new', ts: null, actor: null, note: null });
    } finally { s.close(); }
    // Opening again runs nothing twice.
    const again = new Store(path);
    assert.is(again.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    again.close();
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('history: other parts of the gateway append their own entries; bad entries are refused with a code', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nsdash-hist-'));
  const s = new Store(join(dir, 'gw.db'));
  try {
    const id = '0190b4c0-0000-7000-8000-00000000000a';
    s.upsertAlert({ id, kind: 'class', class: 'scan', src_ip: '10.0.0.1', dest_ip: '10.0.0.2', severity: 2, status: 'open', first_seen: 1, last_seen: 2,
      created_at: 3, updated_at: 4, event_count: 1, sensors: ['s1'] } as never);
    s.history.append({ alert_id: id, ts: 5, kind: 'response', actor: 'playbook:block', detail: { action: 'block', ttl_s: 600 } });
    assert.equal(s.history.list(id).map((h) => [h.kind, h.actor, h.detail]), [['response', 'playbook:block', { action: 'block', ttl_s: 600 }]]);
    assert.throws(() => s.history.append({ alert_id: id, ts: 5, kind: 'Not A Kind', actor: 'x' }), (e: any) => e.code === 'ERR_ALERT_HISTORY_INVALID');
    assert.throws(() => s.history.append({ alert_id: '0190b4c0-0000-7000-8000-0000000000ff', ts: 5, kind: 'note', actor: 'x' }), (e: any) => e.code === 'ERR_ALERT_NOT_FOUND');
    // Retention deleting the alert (ended long ago, no events left) takes its history along.
    assert.equal(s.applyRetention(Date.now(), 86_400_000, 1 << 30), { events: 0, alerts: 1 });
    assert.is(s.getAlert(id), undefined);
    assert.is(s.history.list(id).length, 0);
  } finally { s.close(); rmSync(dir, { recursive: true, force: true }); }
});

test('reopen: a closed alert that gets events after a restart reopens; acknowledged or ended alerts do not', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nsdash-reopen-'));
  const path = join(dir, 'gw.db');
  const alert = (n: number, over: Record<string, unknown> = {}) => ({ id: `0190b4c0-0000-7000-8000-00000000000${n}`, kind: 'class', class: 'scan', src_ip: '10.0.0.1',
    dest_ip: '10.0.0.2', severity: 2, status: 'open', first_seen: 1, last_seen: 2, created_at: 3, updated_at: 4, event_count: 1, sensors: ['s1'], ...over }) as never;
  try {
    let s = new Store(path);
    for (const n of [1, 2, 3]) s.upsertAlert(alert(n));
    s.history.act(alert(1).id, 'close', 'bob', 'known', 10);
    s.history.act(alert(2).id, 'acknowledge', 'bob', null, 10);
    s.history.act(alert(3).id, 'close', 'bob', null, 10);
    s.upsertAlert(alert(3, { status: 'closed', updated_at: 20 })); // correlation ended it: nothing can join any more
    s.close();
    s = new Store(path);
    s.upsertAlert(alert(1, { event_count: 2, updated_at: 30 }));
    s.upsertAlert(alert(2, { event_count: 2, updated_at: 30 }));
    assert.equal([1, 2, 3].map((n) => s.getAlert(alert(n).id)!.triage.state), ['reopened', 'acknowledged', 'closed']);
    assert.equal(s.history.list(alert(1).id).map((h) => [h.kind, h.ts]), [['closed', 10], ['reopened', 30]]);
    s.upsertAlert(alert(1, { event_count: 3, updated_at: 40 }));
    assert.is(s.history.list(alert(1).id).length, 2, 'reopened once, not on every later write');
    s.close();
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('API: acknowledge and close with a note, persisted; a closed alert that fires again reopens; filters', async () => {
  const g = await startGateway({ mqtt: { port: MQTT }, http: { port: HTTP } });
  const base = `http://127.0.0.1:${HTTP}`;
  const c = await connect(`mqtt://127.0.0.1:${MQTT}`);
  let stopped = false;
  try {
    // Two brute-force sources against two servers, on two sensors, an hour apart (flow time).
    const a1 = [0, 1, 2].map((i) => makeEvent({ sensor: 'edge-a', src: '10.1.0.1', dst: '10.2.0.1', cls: 'bruteforce', t: TA + i }));
    const b1 = [0, 1].map((i) => makeEvent({ sensor: 'edge-b', src: '10.1.0.2', dst: '10.2.0.2', cls: 'bruteforce', t: TB + i }));
    await c.publishAsync(topics.events('edge-a'), makeBatch('edge-a', a1, 1), { qos: 1 });
    await c.publishAsync(topics.events('edge-b'), makeBatch('edge-b', b1, 1), { qos: 1 });
    await waitFor(() => g.gw.store.countEvents() === 5, 5000, 'events stored');

    // Destination filter: the alert's destination or any host it touched.
    const byDest = await getJson(`${base}/api/alerts?dest_ip=10.2.0.2`);
    assert.equal(byDest.body.alerts.map((a: any) => a.src_ip), ['10.1.0.2']);
    assert.is((await getJson(`${base}/api/alerts?dest_ip=10.2.0.9`)).body.alerts.length, 0);
    assert.is((await getJson(`${base}/api/alerts?dest_ip=not-an-ip`)).status, 400);
    const alert = (await getJson(`${base}/api/alerts?src_ip=10.1.0.1`)).body.alerts[0];
    assert.equal(alert.triage, { state: 'new', ts: null, actor: null, note: null });

    // State changes from loopback need the custom header; bodies must be JSON objects with known fields.
    assert.is((await post(`${base}/api/alerts/${alert.id}/acknowledge`, { note: 'x' }, {})).status, 403);
    assert.is((await post(`${base}/api/alerts/${alert.id}/acknowledge`, 'note=x', undefined, 'application/x-www-form-urlencoded')).status, 415);
    assert.is((await post(`${base}/api/alerts/${alert.id}/acknowledge`, { note: 'x'.repeat(2001) })).status, 400);
    assert.is((await post(`${base}/api/alerts/${alert.id}/acknowledge`, { notes: 'typo' })).status, 400);
    assert.is((await post(`${base}/api/alerts/${alert.id}/acknowledge`, { actor: '<script>' })).status, 400);
    assert.is((await post(`${base}/api/alerts/${alert.id}/note`, {})).status, 400, 'a note needs text');
    assert.is((await post(`${base}/api/alerts/0190b4c0-0000-7000-8000-0000000000ff/close`, {})).status, 404);
    assert.is((await post(`${base}/api/alerts/not-a-uuid/close`, {})).status, 400);
    assert.equal((await getJson(`${base}/api/alerts/${alert.id}/history`)).body.history, [], 'refused requests left no trace');

    const ack = await post(`${base}/api/alerts/${alert.id}/acknowledge`, { note: 'looking into it', actor: 'alice' });
    assert.is(ack.status, 200);
    assert.is(ack.body.triage.state, 'acknowledged');
    assert.is(ack.body.entry.note, 'looking into it');
    assert.is((await getJson(`${base}/api/alerts?triage=acknowledged`)).body.alerts.length, 1);
    assert.is((await getJson(`${base}/api/alerts?triage=new,reopened`)).body.alerts.length, 1);
    assert.is((await getJson(`${base}/api/alerts?triage=done`)).status, 400);
    const closed = await post(`${base}/api/alerts/${alert.id}/close`, { note: 'lab test, expected', actor: 'alice' });
    assert.equal(closed.body.triage.state, 'closed');
    const one = await getJson(`${base}/api/alerts/${alert.id}`);
    assert.equal([one.body.triage.state, one.body.triage.actor, one.body.triage.note], ['closed', 'alice', 'lab test, expected']);

    // The same source attacks again inside the correlation window: its alert fires again and reopens.
    const a2 = [3, 4].map((i) => makeEvent({ sensor: 'edge-a', src: '10.1.0.1', dst: '10.2.0.1', cls: 'bruteforce', t: TA + 60_000 + i }));
    await c.publishAsync(topics.events('edge-a'), makeBatch('edge-a', a2, 2), { qos: 1 });
    await waitFor(() => g.gw.store.countEvents() === 7, 5000, 'second batch stored');
    const h = (await getJson(`${base}/api/alerts/${alert.id}/history`)).body;
    assert.is(h.triage.state, 'reopened');
    assert.equal(h.history.map((e: any) => [e.kind, e.actor, e.note]), [
      ['acknowledged', 'alice', 'looking into it'], ['closed', 'alice', 'lab test, expected'], ['reopened', 'gateway', null]]);
    assert.equal(h.history[2].detail, { event_count_at_close: 3, event_count: 5, last_seen: TA + 60_004 });
    const other = (await getJson(`${base}/api/alerts?src_ip=10.1.0.2`)).body.alerts[0];
    const ackOther = await post(`${base}/api/alerts/${other.id}/acknowledge`, {});
    assert.equal([ackOther.body.triage.state, ackOther.body.triage.actor], ['acknowledged', 'api']);

    // Time range and sensor on one basis (flow time) for the list and the aggregates.
    const hourTwo = `since=${T0 + HOUR}&until=${T0 + 2 * HOUR}`;
    assert.equal((await getJson(`${base}/api/alerts?${hourTwo}`)).body.alerts.map((a: any) => a.src_ip), ['10.1.0.2']);
    const range = `since=${T0}&until=${T0 + 2 * HOUR}`;
    const st = (await getJson(`${base}/api/stats?${range}`)).body;
    assert.is(st.time_basis, 'flow');
    assert.is(st.bucket, 300_000, 'the smallest bucket giving at most 48 over two hours');
    assert.equal(st.alerts.in_range, 2);
    const hourly = (await getJson(`${base}/api/stats?${range}&bucket=${HOUR}`)).body;
    assert.equal(hourly.timeline.map((b: any) => [b.t, b.n]), [[T0, 1], [T0 + HOUR, 1]], 'bucketed by first seen (flow time)');
    const perSensor = (await getJson(`${base}/api/stats?${range}&sensor=edge-b`)).body;
    assert.equal(perSensor.top_sources.map((s: any) => s.src_ip), ['10.1.0.2']);
    assert.equal(perSensor.top_destinations.map((s: any) => s.dest_ip), ['10.2.0.2']);
    const empty = (await getJson(`${base}/api/stats`)).body;
    assert.equal([empty.alerts.in_range, empty.alerts.total, empty.alerts.first_seen], [0, 2, TA - 1000], 'last 24 h is empty; the store says what lies outside');
    assert.is((await getJson(`${base}/api/stats?since=${T0}&until=${T0 - 1}`)).status, 400);

    // Persisted: the history is in the SQLite file after the gateway stops.
    await c.endAsync();
    await g.gw.stop();
    stopped = true;
    const s = new Store(join(g.dir, 'gw.db'));
    try {
      assert.equal(s.history.list(alert.id).map((e) => e.kind), ['acknowledged', 'closed', 'reopened']);
      assert.is(s.getAlert(other.id)!.triage.state, 'acknowledged');
    } finally { s.close(); }
  } finally {
    if (!stopped) { await c.endAsync(); await g.gw.stop(); }
    rmSync(g.dir, { recursive: true, force: true });
  }
});

test('API: with a token required, triage needs it (the custom header is not enough)', async () => {
  const g = await startGateway({ mqtt: { port: MQTT }, http: { port: HTTP, token: TOKEN, loopbackExempt: false } });
  const base = `http://127.0.0.1:${HTTP}`;
  const c = await connect(`mqtt://127.0.0.1:${MQTT}`);
  try {
    await c.publishAsync(topics.events('edge-a'), makeBatch('edge-a', [makeEvent({ sensor: 'edge-a', t: T0 })], 1), { qos: 1 });
    await waitFor(() => g.gw.store.countEvents() === 1, 5000, 'event stored');
    const auth = { authorization: `Bearer ${TOKEN}` };
    const id = (await getJson(`${base}/api/alerts`, auth)).body.alerts[0].id;
    assert.is((await post(`${base}/api/alerts/${id}/close`, { note: 'n' })).status, 401);
    assert.is((await post(`${base}/api/alerts/${id}/close`, { note: 'n' }, { authorization: 'Bearer wrong-token-xxxxxxxx' })).status, 401);
    const ok = await post(`${base}/api/alerts/${id}/close`, { note: 'n' }, auth);
    assert.equal([ok.status, ok.body.triage.state], [200, 'closed']);
    assert.is((await getJson(`${base}/api/alerts/${id}/history`)).status, 401);
  } finally {
    await c.endAsync();
    await g.stop();
  }
});

test.run();

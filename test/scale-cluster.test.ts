/**
 * Several gateway workers: three real `netsensor gateway` processes on one Mosquitto (MQTT v5 shared
 * subscription) and one PostgreSQL, 100 simulated sensors (MQTT clients publishing CBOR event batches). The same
 * event stream also goes to one gateway on SQLite (embedded broker). Both must store every event exactly once and
 * make the same alerts (kind, class, source, event count, severity). The leader is killed with kill -9 while
 * sensors publish: nothing is lost or doubled, the lead moves to another worker, and the killed worker, started
 * again, drains what the broker kept for it. Ports 20020–20049; PostgreSQL and Mosquitto are this test's own.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import type { MqttClient } from 'mqtt';
import type { RiskEvent } from '../protocol/event.ts';
import { topics } from '../protocol/topics.ts';
import { connect, makeBatch, startGateway } from './helpers/gateway-fixtures.ts';
import { sleep } from './helpers/mosquitto.ts';
import { health, newCluster, startWorker, closeCluster, until } from './helpers/cluster-workers.ts';
import { buildTestModel, keys, release } from './helpers/ota-fixtures.ts';
import { encodeBundle } from '../protocol/manifest.ts';

const MQTT_PORT = 20020;
const PG_PORT = 20021;
const SINGLE_MQTT = 20025;
const SINGLE_HTTP = 20026;
const WORKER_HTTP = [20030, 20031, 20032];
const SENSORS = 100;
const BATCHES = 4;
const PER_BATCH = 25;
const SOURCES = 60;
const CLASSES = ['scan', 'dos', 'bruteforce'] as const;

/** The deterministic stream: per sensor, BATCHES batches; a source's class, host and port(s) follow from its number. */
function makeStream(): Array<{ sensor: string; payload: Buffer }> {
  const base = Date.now() - 60_000;
  const out: Array<{ sensor: string; payload: Buffer }> = [];
  for (let k = 0; k < SENSORS; k++) {
    const sensor = `s${String(k).padStart(3, '0')}`;
    for (let b = 0; b < BATCHES; b++) {
      const events: RiskEvent[] = [];
      for (let i = 0; i < PER_BATCH; i++) {
        const n = b * PER_BATCH + i;
        const j = (k * 7 + n) % SOURCES;
        const t = base + n * 100 + k;
        events.push({
          v: 1, id: uuidv7(), sensor, ts: t,
          flow: {
            src_ip: `10.240.1.${j + 1}`, src_port: 40000 + n, dst_ip: `10.240.2.${j + 1}`, dst_port: j < 3 ? 1000 + ((k * 100 + n) % 29) : 22, proto: 6, vlan: 0,
            first_seen_ms: t - 500, last_seen_ms: t, end_reason: 'fin', src2dst_packets: 4, src2dst_bytes: 300, dst2src_packets: 2, dst2src_bytes: 120,
          },
          class: CLASSES[j % 3], score: 0.9, anomaly: 0.5, severity: ((j % 3) + 1) as 1 | 2 | 3, model: 'test-model-1',
          features: { duration_ms: 500 }, top: [['dst_port', 0.5]],
        });
      }
      out.push({ sensor, payload: makeBatch(sensor, events, b + 1) });
    }
  }
  return out;
}

const TOTAL = SENSORS * BATCHES * PER_BATCH;

async function sensorsConnect(url: string, v5: boolean): Promise<Map<string, MqttClient>> {
  const clients = new Map<string, MqttClient>();
  await Promise.all(Array.from({ length: SENSORS }, async (_, k) => {
    const id = `s${String(k).padStart(3, '0')}`;
    clients.set(id, await connect(url, { clientId: `netsensor-${id}`, protocolVersion: v5 ? 5 : 4 }));
  }));
  return clients;
}

async function publish(clients: Map<string, MqttClient>, items: Array<{ sensor: string; payload: Buffer }>): Promise<void> {
  await Promise.all(items.map((i) => clients.get(i.sensor)!.publishAsync(topics.events(i.sensor), i.payload, { qos: 1 })));
}

type AlertView = { id: string; kind: string; class: string; src_ip: string; event_count: number; severity: number };

async function alerts(httpPort: number): Promise<AlertView[]> {
  const r = await fetch(`http://127.0.0.1:${httpPort}/api/alerts?limit=500`, { signal: AbortSignal.timeout(5000) });
  assert.is(r.status, 200);
  return ((await r.json()) as { alerts: AlertView[] }).alerts;
}

const step = (m: string) => { if (process.env.SCL_DEBUG) process.stderr.write(`[scale] ${new Date().toISOString().slice(11, 23)} ${m}\n`); };

const shape = (as: AlertView[]) => as.map((a) => `${a.kind} ${a.class} ${a.src_ip} ${a.event_count} ${a.severity}`).sort();

test('three workers on PostgreSQL give the single SQLite gateway\'s events and alerts; kill -9 of the leader loses and doubles nothing', async () => {
  const stream = makeStream();
  // Short lease so the takeover is quick; every alert change published at once (counted below).
  const lab = newCluster('nsscl-cluster-', { cluster: { leaseMs: 2000 }, correlation: { updateIntervalMs: 0 } }, MQTT_PORT, PG_PORT);
  const { config, mosq, db: pg, workers, clients } = lab;
  let single: Awaited<ReturnType<typeof startGateway>> | undefined;
  try {
    // The reference: one gateway, SQLite, embedded broker.
    single = await startGateway({ mqtt: { port: SINGLE_MQTT }, http: { port: SINGLE_HTTP }, correlation: { updateIntervalMs: 0 } });
    const singleSensors = await sensorsConnect(`mqtt://127.0.0.1:${SINGLE_MQTT}`, false);
    clients.push(...singleSensors.values());
    await publish(singleSensors, stream);
    await until('the single gateway to store every event', async () => single!.gw.store.countEvents(), (n) => n === TOTAL);
    const reference = await until('the single gateway\'s alerts to settle', () => alerts(SINGLE_HTTP),
      (as) => as.filter((a) => a.kind === 'class').reduce((s, a) => s + a.event_count, 0) === TOTAL);
    assert.ok(reference.some((a) => a.kind === 'port_scan'), 'the stream makes port scans');
    assert.ok(reference.some((a) => a.severity < 3 && a.class === 'bruteforce'), 'the stream escalates (several sensors)');

    step('reference done');
    await Promise.all([mosq.start(), pg.start()]);
    step('broker+pg up');
    for (let i = 0; i < 3; i++) workers.push(await startWorker(`w${i + 1}`, WORKER_HTTP[i], config, pg, MQTT_PORT));
    step('workers up');
    const leaderId = (await until('a leader', () => health(WORKER_HTTP[0]), (h) => h.worker.leader_id !== null)).worker.leader_id!;
    const watcher = await connect(`mqtt://127.0.0.1:${MQTT_PORT}`, { protocolVersion: 5, clientId: 'scl-watcher' });
    clients.push(watcher);
    // Alert messages are at least once across a leader change, each carrying (alert_id, version): a subscriber drops a
    // repeat by that pair (docs/gateway.md). So: each alert created at exactly one version, and a repeat is identical.
    const created = new Map<string, Set<number>>();
    const bodies = new Map<string, string>();
    const differing: string[] = [];
    watcher.on('message', (_t, payload) => {
      const body = payload.toString();
      const m = JSON.parse(body) as { netsensor: { alert_id: string; reason: string; version: number } };
      const { alert_id: id, reason, version } = m.netsensor;
      const key = `${id}/${version}`;
      if (bodies.has(key) && bodies.get(key) !== body) differing.push(key);
      bodies.set(key, body);
      if (reason === 'created') created.set(id, (created.get(id) ?? new Set()).add(version));
    });
    await watcher.subscribeAsync('netsensor/v1/alerts/#', { qos: 1 });

    step('leader known');
    const sensors = await sensorsConnect(`mqtt://127.0.0.1:${MQTT_PORT}`, true);
    clients.push(...sensors.values());
    step('sensors connected');
    const half = stream.length / 2;
    await publish(sensors, stream.slice(0, half));
    // kill -9 the leader while the second half is being published.
    step('first half published');
    const second = publish(sensors, stream.slice(half));
    await sleep(50);
    const leader = workers.find((w) => w.id === leaderId)!;
    leader.proc.kill('SIGKILL');
    await second;
    step('second half published');
    const survivor = workers.find((w) => w !== leader)!;
    const moved = await until('the lead to move', () => health(survivor.http), (h) => h.worker.leader_id !== null && h.worker.leader_id !== leaderId);
    assert.is.not(moved.worker.leader_id, leaderId);
    // Started again (as its service manager would), the killed worker gets what the broker kept for its session.
    if (leader.proc.exitCode === null && leader.proc.signalCode === null) await new Promise((r) => leader.proc.once('exit', r));
    workers[workers.indexOf(leader)] = await startWorker(leader.id, leader.http, config, pg, MQTT_PORT);
    step('restarted');
    await until('every event stored', async () => (await health(survivor.http)).store.events, (n) => n === TOTAL);
    const restarted = workers[workers.indexOf(workers.find((w) => w.id === leader.id)!)];
    assert.ok((await health(restarted.http)).ingest.stored > 0, 'the restarted worker stored what its session kept');
    step('all stored');
    const clustered = await until('the cluster\'s alerts to settle', () => alerts(survivor.http),
      (as) => as.filter((a) => a.kind === 'class').reduce((s, a) => s + a.event_count, 0) === TOTAL);
    // Same alerts, whichever worker answers; an alert's events from another worker than the one asked before.
    assert.equal(shape(clustered), shape(reference));
    assert.equal(shape(await alerts(workers[0].http)), shape(reference));
    const stats = async (port: number) => (await (await fetch(`http://127.0.0.1:${port}/api/stats`, { signal: AbortSignal.timeout(5000) })).json()) as
      { alerts: { total: number }; open_by_severity: Array<{ severity: number; n: number }>; timeline: Array<{ severity: number; n: number }> };
    const [ss, cs] = [await stats(SINGLE_HTTP), await stats(workers[1].http)];
    assert.is(cs.alerts.total, ss.alerts.total);
    const bySev = (x: typeof ss) => x.open_by_severity.map((r) => `${r.severity}:${r.n}`).sort();
    assert.equal(bySev(cs), bySev(ss), 'the dashboard\'s figures from a worker are the single gateway\'s');
    const big = clustered.find((a) => a.kind === 'class')!;
    const page = (await (await fetch(`http://127.0.0.1:${workers[0].http}/api/alerts/${big.id}/events?limit=500`, { signal: AbortSignal.timeout(5000) })).json()) as { events: Array<{ flow: { src_ip: string } }> };
    assert.is(page.events.length, big.event_count);
    assert.ok(page.events.every((e) => e.flow.src_ip === big.src_ip));
    // Exactly once: every event once, each linked to its alerts once (same links as the single gateway).
    const db = (await import('pg')).default;
    const c = new db.Client({ host: '127.0.0.1', port: PG_PORT, user: 'netsensor', database: 'netsensor', password: 'test-password-not-secret' });
    await c.connect();
    try {
      const ev = (await c.query('SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM events')).rows[0];
      assert.equal(ev, { n: TOTAL, d: TOTAL });
      const links = (await c.query('SELECT count(*)::int AS n FROM alert_events')).rows[0].n;
      const singleLinks = (single.gw.store.db.prepare('SELECT count(*) AS n FROM alert_events').get() as { n: number }).n;
      assert.is(links, singleLinks, 'the same event→alert links as the single gateway');
    } finally {
      await c.end();
    }
    // Announced once per (alert, version), though the leader changed mid-run: no alert created twice.
    await sleep(300);
    assert.ok(created.size > 0, 'alerts were announced');
    for (const [id, versions] of created) assert.equal([...versions], [1], `alert ${id} announced as created at versions ${[...versions]}`);
    assert.equal(differing, [], 'a repeated (alert_id, version) carries the same message');
  } finally {
    await single?.stop();
    await closeCluster(lab);
  }
});

test('a model rollout in progress goes on when the leader is killed: the new leader completes it from the store', async () => {
  const [mqttPort, pgPort, httpBase] = [20040, 20041, 20042];
  const owner = keys();
  const lab = newCluster('nsscl-ota-', { cluster: { leaseMs: 2000 } }, mqttPort, pgPort);
  const { dir, config, mosq, db: pg, workers, clients } = lab;
  const keyFile = join(dir, 'trusted.pem');
  writeFileSync(keyFile, owner.publicKey.export({ type: 'spki', format: 'pem' }));
  try {
    await Promise.all([mosq.start(), pg.start()]);
    for (let i = 0; i < 3; i++) workers.push(await startWorker(`o${i + 1}`, httpBase + i, config, pg, mqttPort, ['--model-keys', keyFile]));
    // A killed worker does not answer: it is simply not the leader.
    const ready = async () => (await Promise.all(workers.map((w) => health(w.http).then((h) => ({ w, h }), () => undefined))))
      .find((x) => x?.h.worker.leader)?.w;
    const leader = await until('a leader that took over', ready, (w) => w !== undefined);
    const url = `mqtt://127.0.0.1:${mqttPort}`;
    const watcher = await connect(url, { protocolVersion: 5, clientId: 'scl-ota-watcher' });
    clients.push(watcher);
    let record: { seq: number; state: string; admitted: string[] } | undefined;
    watcher.on('message', (_t, p) => { if (p.length) record = JSON.parse(p.toString()); });
    await watcher.subscribeAsync(topics.modelRollout('stable'), { qos: 1 });
    const ids = ['o-s1', 'o-s2', 'o-s3', 'o-s4'];
    const sensors = await Promise.all(ids.map((id) => connect(url, { protocolVersion: 5, clientId: `netsensor-${id}` })));
    clients.push(...sensors);
    const report = (k: number, r: Record<string, unknown>) =>
      sensors[k].publishAsync(topics.ota(ids[k]), JSON.stringify({ v: 1, sensor: ids[k], channel: 'stable', ts: Date.now(), ...r }), { qos: 1 });
    await Promise.all(ids.map((_, k) => report(k, { state: 'current', current: { model_id: 'm10', seq: 10 } })));
    const rel = await release(buildTestModel({ seed: 5, hidden: 16 }), owner.privateKey, { seq: 12, rolloutPercent: 50 });
    await watcher.publishAsync(topics.modelUpload('stable'), encodeBundle({ v: 1, envelope: rel.envelope, payload: rel.payload }), { qos: 1, retain: true });
    await until('stage 1 admitted', async () => record, (r) => r?.seq === 12 && r.state === 'staged' && r.admitted.length === 2);
    const admitted = record!.admitted;
    const db = (await import('pg')).default;
    const c = new db.Client({ host: '127.0.0.1', port: pgPort, user: 'netsensor', database: 'netsensor', password: 'test-password-not-secret' });
    await c.connect();
    try {
      await until('the rollout in the store', async () => (await c.query(`SELECT state, admitted FROM model_releases WHERE channel = 'stable' AND seq = 12`)).rows[0],
        (r) => r?.state === 'staged' && JSON.parse(r.admitted).length === 2);
      leader!.proc.kill('SIGKILL');
      const next = await until('another leader', ready, (w) => w !== undefined && w !== leader);
      assert.is.not(next!.id, leader!.id);
      // Stage 1 applies the update; the new leader sees it and opens the rollout to every sensor.
      for (const id of admitted) await report(ids.indexOf(id), { state: 'applied', seq: 12, model_id: 'm12', current: { model_id: 'm12', seq: 12 } });
      await until('the rollout to complete', async () => record, (r) => r?.seq === 12 && r.state === 'complete');
      const row = await until('the store to say complete', async () => (await c.query(`SELECT state, applied FROM model_releases WHERE channel = 'stable'`)).rows[0],
        (r) => r?.state === 'complete');
      assert.equal(JSON.parse(row.applied).sort(), [...admitted].sort());
    } finally {
      await c.end();
    }
  } finally {
    await closeCluster(lab);
  }
});

test.run();

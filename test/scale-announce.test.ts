/**
 * Alert messages survive the leader: the leader (a real worker process) is made to die with SIGKILL right after a
 * correlation commit, before it publishes anything (test-only hook NETSENSOR_TEST_KILL_AFTER_COMMIT). The commit
 * holds the messages to make; the worker that leads next publishes every one of them, with the alert's version,
 * and the store has none left pending. Own Mosquitto and PostgreSQL; ports 20300–20309.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { topics } from '../protocol/topics.ts';
import { connect, makeBatch, makeEvent } from './helpers/gateway-fixtures.ts';
import { health, newCluster, startWorker, closeCluster, until } from './helpers/cluster-workers.ts';
import { sleep } from './helpers/mosquitto.ts';
import { PG_PASSWORD } from './helpers/postgres.ts';

const [MQTT_PORT, PG_PORT, HTTP_A, HTTP_B] = [20300, 20301, 20302, 20303];

interface Message { netsensor: { alert_id: string; version: number; reason: string; event_count: number } }

test('alerts committed by a leader killed before publishing are announced by the next leader', async () => {
  const lab = newCluster('nss2-announce-', { cluster: { leaseMs: 1500 }, correlation: { updateIntervalMs: 0 } }, MQTT_PORT, PG_PORT);
  const { config, mosq, db, workers, clients } = lab;
  let c: pg.Client | undefined;
  try {
    await Promise.all([mosq.start(), db.start()]);
    const doomed = await startWorker('a1', HTTP_A, config, db, MQTT_PORT, [], { NETSENSOR_TEST_KILL_AFTER_COMMIT: '1' });
    workers.push(doomed);
    await until('a1 to lead', () => health(HTTP_A), (h) => h.worker.leader);
    workers.push(await startWorker('a2', HTTP_B, config, db, MQTT_PORT));
    const url = `mqtt://127.0.0.1:${MQTT_PORT}`;
    const watcher = await connect(url, { protocolVersion: 5, clientId: 'nss2-watcher' });
    clients.push(watcher);
    const messages: Message[] = [];
    watcher.on('message', (_t, p) => messages.push(JSON.parse(p.toString()) as Message));
    await watcher.subscribeAsync('netsensor/v1/alerts/#', { qos: 1 });
    const died = new Promise<NodeJS.Signals | null>((r) => doomed.proc.once('exit', (_code, sig) => r(sig)));

    // Three sources, three classes: three alerts in the leader's first commit.
    const sensor = await connect(url, { protocolVersion: 5, clientId: 'netsensor-nss2-s1' });
    clients.push(sensor);
    const events = ['bruteforce', 'dos', 'scan'].flatMap((cls, k) =>
      [0, 1].map((i) => makeEvent({ sensor: 'nss2-s1', src: `10.243.1.${k + 1}`, dst: '10.243.2.1', sport: 40000 + i, cls, severity: 2 })));
    await sensor.publishAsync(topics.events('nss2-s1'), makeBatch('nss2-s1', events), { qos: 1 });

    assert.is(await died, 'SIGKILL', 'the leader died right after its commit');
    assert.is(messages.length, 0, 'the killed leader published nothing');
    c = new pg.Client({ host: '127.0.0.1', port: PG_PORT, user: 'netsensor', database: 'netsensor', password: PG_PASSWORD });
    await c.connect();
    const stored = (await c.query('SELECT id, event_count FROM alerts ORDER BY id')).rows as Array<{ id: string; event_count: string }>;
    assert.is(stored.length, 3, 'the commit made three alerts');
    const pending = (await c.query('SELECT count(*)::int AS n FROM alert_announcements')).rows[0].n as number;
    assert.is(pending, 3, 'and stored their three announcements with them');

    await until('a2 to lead', () => health(HTTP_B), (h) => h.worker.leader);
    await until('every alert announced', async () => messages.length, (n) => n >= 3, 15_000);
    await until('no announcement left pending', async () => (await c!.query('SELECT count(*)::int AS n FROM alert_announcements')).rows[0].n as number, (n) => n === 0);
    await sleep(300);
    const created = messages.filter((m) => m.netsensor.reason === 'created');
    assert.equal(created.map((m) => m.netsensor.alert_id).sort(), stored.map((a) => a.id));
    for (const m of created) {
      assert.is(m.netsensor.version, 1, 'a created alert is version 1');
      assert.is(m.netsensor.event_count, 2);
    }
    // At least once, and a repeat would carry the same (alert_id, version): no two different messages share a key.
    const keys = new Map<string, string>();
    for (const m of messages) {
      const k = `${m.netsensor.alert_id}/${m.netsensor.version}`;
      const body = JSON.stringify(m);
      assert.ok(!keys.has(k) || keys.get(k) === body, `two different messages for ${k}`);
      keys.set(k, body);
    }
  } finally {
    await c?.end();
    await closeCluster(lab);
  }
});

test.run();

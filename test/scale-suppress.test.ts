/**
 * Operator suppressions on gateway workers (real `netsensor gateway` processes on PostgreSQL): the leader stores
 * no announcement for an alert a rule holds back, so the worker that leads after it was killed publishes none
 * either; a rule reloaded away on SIGHUP releases the alert as created. Own Mosquitto and PostgreSQL; ports 20370–20379.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import pg from 'pg';
import { topics } from '../protocol/topics.ts';
import { alertSubscriber, connect, makeBatch, makeEvent } from './helpers/gateway-fixtures.ts';
import { health, newCluster, startWorker, closeCluster, until } from './helpers/cluster-workers.ts';
import { sleep } from './helpers/mosquitto.ts';
import { PG_PASSWORD } from './helpers/postgres.ts';

const [MQTT_PORT, PG_PORT, HTTP_A, HTTP_B] = [20370, 20371, 20372, 20373];

interface Message { src_ip: string; netsensor: { alert_id: string; reason: string; event_count: number } }

test('a held-back alert leaves no announcement for the next leader; SIGHUP without the rule releases it as created', async () => {
  const base = { cluster: { leaseMs: 1500 }, correlation: { updateIntervalMs: 0 } };
  const rule = { name: 'hub', class: 'scan', src: '10.244.1.1', reason: 'the hub polls devices that are off' };
  const lab = newCluster('nss2-suppress-', { ...base, suppress: [rule] }, MQTT_PORT, PG_PORT);
  const { config, mosq, db, workers, clients } = lab;
  let c: pg.Client | undefined;
  try {
    await Promise.all([mosq.start(), db.start()]);
    const first = await startWorker('s1', HTTP_A, config, db, MQTT_PORT);
    workers.push(first);
    await until('s1 to lead', () => health(HTTP_A), (h) => h.worker.leader);
    const second = await startWorker('s2', HTTP_B, config, db, MQTT_PORT);
    workers.push(second);
    const url = `mqtt://127.0.0.1:${MQTT_PORT}`;
    const { messages, client: watcher } = await alertSubscriber<Message>(url, { protocolVersion: 5, clientId: 'nss2-sup-watcher' });
    clients.push(watcher);
    const sensor = await connect(url, { protocolVersion: 5, clientId: 'netsensor-nss2-sup' });
    clients.push(sensor);
    const t = Date.now() - 10_000;
    const scans = (src: string, n: number, k: number) => Array.from({ length: n }, (_, i) => makeEvent({ sensor: 'nss2-sup', src, dst: `10.244.2.${k + i}`, cls: 'scan', t: t + k + i }));

    await sensor.publishAsync(topics.events('nss2-sup'), makeBatch('nss2-sup', [...scans('10.244.1.1', 2, 1), ...scans('10.244.1.2', 2, 1)], 1), { qos: 1 });
    await until('the unsuppressed alert', async () => messages.length, (n) => n >= 1, 15_000);
    c = new pg.Client({ host: '127.0.0.1', port: PG_PORT, user: 'netsensor', database: 'netsensor', password: PG_PASSWORD });
    await c.connect();
    await until('no announcement pending', async () => (await c!.query('SELECT count(*)::int AS n FROM alert_announcements')).rows[0].n as number, (n) => n === 0);
    assert.is((await c.query('SELECT count(*)::int AS n FROM alerts')).rows[0].n, 2, 'both alerts stored');
    assert.equal(messages.map((m) => m.src_ip), ['10.244.1.2']);
    const held = await (await fetch(`http://127.0.0.1:${HTTP_A}/api/suppressions`)).json() as { suppressions: Array<{ name: string; alerts: number }> };
    assert.equal(held.suppressions.map((r) => [r.name, r.alerts]), [['hub', 1]]);
    const listed = await (await fetch(`http://127.0.0.1:${HTTP_B}/api/alerts?src_ip=10.244.1.1`)).json() as { alerts: Array<{ suppressed_by?: string }> };
    assert.is(listed.alerts[0].suppressed_by, 'hub', 'any worker marks it');

    // The leader dies; the next one publishes what was left unannounced: nothing of the held-back alert.
    first.proc.kill('SIGKILL');
    await until('s2 to lead', () => health(HTTP_B), (h) => h.worker.leader && h.worker.leader_id === 's2', 15_000);
    await sleep(1000);
    assert.equal(messages.map((m) => m.src_ip), ['10.244.1.2'], 'no announcement of the held-back alert after the takeover');

    // SIGHUP without the rule: the alert's next change announces it, as created (s2 rebuilt what was held).
    writeFileSync(config, JSON.stringify(base));
    second.proc.kill('SIGHUP');
    const rules = async () => ((await (await fetch(`http://127.0.0.1:${HTTP_B}/api/suppressions`)).json()) as { suppressions: unknown[] }).suppressions.length;
    await until('the reload', rules, (n) => n === 0, 10_000);
    await sensor.publishAsync(topics.events('nss2-sup'), makeBatch('nss2-sup', scans('10.244.1.1', 1, 10), 2), { qos: 1 });
    await until('the released alert', async () => messages.filter((m) => m.src_ip === '10.244.1.1').length, (n) => n >= 1, 15_000);
    const released = messages.filter((m) => m.src_ip === '10.244.1.1');
    assert.is(released.length, 1);
    assert.is(released[0].netsensor.reason, 'created');
    assert.is(released[0].netsensor.event_count, 3);
  } finally {
    await c?.end();
    await closeCluster(lab);
  }
});

test.run();

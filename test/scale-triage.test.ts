/**
 * Triage through any worker: two real worker processes on one Mosquitto and one PostgreSQL. An alert is closed
 * through one worker's API, its history read through the other; new events for it make the leader reopen it
 * (as the single gateway does), and the history says so. Own Mosquitto and PostgreSQL; ports 20320–20329.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { topics } from '../protocol/topics.ts';
import { connect, makeBatch, makeEvent } from './helpers/gateway-fixtures.ts';
import { health, newCluster, startWorker, closeCluster, until } from './helpers/cluster-workers.ts';

const [MQTT_PORT, PG_PORT, HTTP_A, HTTP_B] = [20320, 20321, 20322, 20323];

interface History { alert_id: string; triage: { state: string; actor: string | null; note: string | null }; history: Array<{ kind: string; actor: string; note: string | null; detail: Record<string, number> | null }> }

const get = async (port: number, path: string) => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, body: await r.json() as any };
};
const post = async (port: number, path: string, body: unknown) => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(5000),
    headers: { 'content-type': 'application/json', 'x-netsensor-request': '1' },
  });
  return { status: r.status, body: await r.json() as any };
};

test('an alert closed through one worker, read through another, reopened by the leader when it fires again', async () => {
  const lab = newCluster('nss2-triage-', { cluster: { leaseMs: 2000 } }, MQTT_PORT, PG_PORT);
  const { config, mosq, db, workers, clients } = lab;
  try {
    await Promise.all([mosq.start(), db.start()]);
    workers.push(await startWorker('t1', HTTP_A, config, db, MQTT_PORT), await startWorker('t2', HTTP_B, config, db, MQTT_PORT));
    await until('a leader', () => health(HTTP_A), (h) => h.worker.leader_id !== null);
    const sensor = await connect(`mqtt://127.0.0.1:${MQTT_PORT}`, { protocolVersion: 5, clientId: 'netsensor-nss2-t1' });
    clients.push(sensor);
    const send = (n: number, seq: number) => sensor.publishAsync(topics.events('nss2-t1'),
      makeBatch('nss2-t1', Array.from({ length: n }, (_, i) => makeEvent({ sensor: 'nss2-t1', src: '10.243.3.1', sport: 41000 + seq * 10 + i })), seq), { qos: 1 });
    await send(2, 1);
    const listed = await until('the alert', () => get(HTTP_A, '/api/alerts'), (r) => r.body.alerts?.length === 1 && r.body.alerts[0].event_count === 2);
    const id = listed.body.alerts[0].id as string;
    assert.is(listed.body.alerts[0].triage.state, 'new');

    const closed = await post(HTTP_B, `/api/alerts/${id}/close`, { note: 'blocked at the firewall', actor: 'ops' });
    assert.is(closed.status, 200, JSON.stringify(closed.body));
    assert.equal(closed.body.triage, { state: 'closed', ts: closed.body.triage.ts, actor: 'ops', note: 'blocked at the firewall' });
    const seen = (await get(HTTP_A, `/api/alerts/${id}/history`)).body as History;
    assert.is(seen.triage.state, 'closed');
    assert.equal(seen.history.map((h) => `${h.kind} ${h.actor} ${h.note}`), ['closed ops blocked at the firewall']);
    assert.is((await get(HTTP_A, `/api/alerts/${id}`)).body.triage.state, 'closed', 'the alert itself says closed on the other worker');

    // Bad requests are refused with the single gateway's answers.
    assert.is((await post(HTTP_A, `/api/alerts/${id}/note`, {})).status, 400);
    assert.is((await post(HTTP_A, '/api/alerts/01900000-0000-7000-8000-000000000000/close', {})).status, 404);
    assert.is((await get(HTTP_B, '/api/alerts/01900000-0000-7000-8000-000000000000/history')).status, 404);

    await send(1, 2);
    const reopened = await until('the alert to reopen', async () => (await get(HTTP_B, `/api/alerts/${id}/history`)).body as History,
      (h) => h.triage.state === 'reopened', 15_000);
    const last = reopened.history[reopened.history.length - 1];
    assert.is(last.kind, 'reopened');
    assert.is(last.actor, 'gateway');
    assert.is(last.detail?.event_count_at_close, 2);
    assert.is(last.detail?.event_count, 3);
    const noted = await post(HTTP_A, `/api/alerts/${id}/note`, { note: 'seen again' });
    assert.is(noted.status, 200);
    assert.is(noted.body.triage.state, 'reopened', 'a note leaves the state');
    assert.is(((await get(HTTP_B, `/api/alerts/${id}/history`)).body as History).history.length, 3);
  } finally {
    await closeCluster(lab);
  }
});

test.run();

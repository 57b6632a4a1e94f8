/**
 * Retention on PostgreSQL (run by the leading worker): events older than the age limit that correlation has passed
 * go, with their links; alerts whose activity ended before the limit and that have no events left go, with their
 * history and pending announcements; nothing newer, nothing correlation has not seen yet. Own PostgreSQL on 20330.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Correlator } from '../gateway/correlate.ts';
import { defaults } from '../gateway/config.ts';
import { LEADER_LEASE } from '../gateway/store/event-store.ts';
import { PostgresStore } from '../gateway/store/postgres.ts';
import { PostgresAlertHistory } from '../gateway/store/postgres-triage.ts';
import { makeEvent } from './helpers/gateway-fixtures.ts';
import { Postgres } from './helpers/postgres.ts';

const DAY = 86_400_000;

test('PostgreSQL retention removes old correlated events and the alerts left without events, nothing else', async () => {
  const db = new Postgres(20330);
  let store: PostgresStore | undefined;
  try {
    await db.start();
    store = await PostgresStore.open({ url: db.url, passwordFile: db.passwordFile() });
    const now = Date.now();
    const old = now - 40 * DAY;
    const stored = [
      ...await store.insertEvents([0, 1, 2].map((i) => makeEvent({ src: '10.243.4.1', sport: 42000 + i, t: old + i })), old),
      ...await store.insertEvents([0, 1].map((i) => makeEvent({ src: '10.243.4.2', sport: 43000 + i, t: now - 1000 + i })), now),
    ];
    const r = new Correlator(defaults.correlation).ingest(stored);
    const alerts = r.changes.map((c) => c.alert);
    assert.is(alerts.length, 2);
    assert.ok(await store.tryLease(LEADER_LEASE, 'r1', 60_000));
    const announcements = r.changes.map((c) => ({ alert: c.alert, sensor: c.sensor, reason: 'created' as const }));
    assert.ok(await store.commitCorrelation({ alerts, links: r.links, cursor: stored[stored.length - 1].seq, from: 0, holder: 'r1', announcements }));
    const gone = alerts.find((a) => a.src_ip === '10.243.4.1')!;
    await new PostgresAlertHistory(store.pool).act(gone.id, 'close', 'ops', null, now);
    // Old by its arrival, but correlation has not passed it: kept.
    await store.insertEvents([makeEvent({ src: '10.243.4.3', t: old })], old);

    assert.equal(await store.applyRetention(now, 30 * DAY), { events: 3, alerts: 1 });
    assert.is(await store.countEvents(), 3);
    const left = (await store.queryAlerts({ limit: 10 })).alerts.map((a) => a.src_ip);
    assert.equal(left, ['10.243.4.2']);
    const rows = async (sql: string) => Number((await store!.pool.query(sql, [gone.id])).rows[0].n);
    assert.is(await rows('SELECT count(*) AS n FROM alert_history WHERE alert_id = $1'), 0);
    assert.is(await rows('SELECT count(*) AS n FROM alert_announcements WHERE alert_id = $1'), 0);
    assert.is(await rows('SELECT count(*) AS n FROM alert_events WHERE alert_id = $1'), 0);
    assert.equal(await store.applyRetention(now, 30 * DAY), { events: 0, alerts: 0 }, 'nothing more on a second run');
  } finally {
    await store?.close();
    await db.dispose();
  }
});

test.run();

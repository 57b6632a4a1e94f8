/**
 * The same store cases against both EventStore backends: SQLite (a temp file) and PostgreSQL (a throw-away
 * cluster of its own on port 20010). Then what only a shared store must show: two workers inserting the same
 * batches at once store each event once, seqs follow commit order, and migrations applied by two starts at once.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Correlator } from '../gateway/correlate.ts';
import { defaults } from '../gateway/config.ts';
import type { EventStore } from '../gateway/store/event-store.ts';
import { SqliteEventStore } from '../gateway/store/sqlite.ts';
import { POSTGRES_SCHEMA_VERSION } from '../gateway/store/postgres-migrations.ts';
import { PostgresStore } from '../gateway/store/postgres.ts';
import { postgresOptions } from '../gateway/store/postgres-connection.ts';
import { makeEvent } from './helpers/gateway-fixtures.ts';
import { Postgres } from './helpers/postgres.ts';
import { makeTestCerts } from './helpers/test-certs.ts';

const PG_PORT = 20010;
const pgServer = new Postgres(PG_PORT);
const dirs: string[] = [];

type Backend = { name: string; open: () => Promise<EventStore>; reset: () => Promise<void> };

const backends: Backend[] = [
  {
    name: 'sqlite',
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'nsscl-store-'));
      dirs.push(dir);
      return SqliteEventStore.open(join(dir, 'gw.db'));
    },
    reset: async () => {},
  },
  {
    name: 'postgres',
    open: () => PostgresStore.open({ url: pgServer.url, passwordFile: pgServer.passwordFile() }),
    reset: async () => {
      const s = await PostgresStore.open({ url: pgServer.url, passwordFile: pgServer.passwordFile() });
      await s.pool.query('TRUNCATE events, alerts, alert_events, sensors, cursors, leases RESTART IDENTITY');
      await s.close();
    },
  },
];

for (const b of backends) {
  const t = suite(`store (${b.name})`);
  let s: EventStore;
  t.before(async () => { if (b.name === 'postgres') await pgServer.start(); });
  t.before.each(async () => { await b.reset(); s = await b.open(); });
  t.after.each(async () => { await s.close(); });

  t('events stored exactly once by id; round-trip with flow, features and top', async () => {
    const a = makeEvent({ sensor: 'x', src: '10.9.0.1' });
    const original = structuredClone(a);
    const first = await s.insertEvents([a, makeEvent({ sensor: 'x' })], 1000);
    assert.is(first.length, 2);
    assert.ok(first[0].seq < first[1].seq);
    const again = await s.insertEvents([structuredClone(original), makeEvent({ sensor: 'x' }), structuredClone(original)], 2000);
    assert.is(again.length, 1, 'only the new event, once, though its neighbour came twice');
    assert.is(await s.countEvents(), 3);
    const back = await s.eventsAfter(0, 10);
    assert.equal(back.map((e) => e.seq), [...back.map((e) => e.seq)].sort((x, y) => x - y));
    const { seq: _seq, received, ...rest } = back[0];
    assert.is(received, 1000);
    assert.equal(rest, original);
    assert.is((await s.eventsAfter(back[1].seq, 10)).length, 1);
  });

  t('correlation commit writes alerts, links and the cursor together; a stale cursor or a lost lease writes nothing', async () => {
    assert.ok(await s.tryLease('leader', 'w1', 10_000));
    const stored = await s.insertEvents([makeEvent({ src: '10.9.0.7', cls: 'scan' }), makeEvent({ src: '10.9.0.7', cls: 'scan' })], 1000);
    const r = new Correlator(defaults.correlation).ingest(stored);
    const cursor = stored[stored.length - 1].seq;
    assert.is(await s.correlationCursor(), 0);
    assert.not.ok(await s.commitCorrelation({ alerts: r.changes.map((c) => c.alert), links: r.links, cursor, from: 5, holder: 'w1' }), 'cursor moved');
    assert.not.ok(await s.commitCorrelation({ alerts: r.changes.map((c) => c.alert), links: r.links, cursor, from: 0, holder: 'w2' }), 'not the holder');
    assert.is((await s.queryAlerts({ limit: 10 })).alerts.length, 0);
    assert.ok(await s.commitCorrelation({ alerts: r.changes.map((c) => c.alert), links: r.links, cursor, from: 0, holder: 'w1' }));
    assert.is(await s.correlationCursor(), cursor);
    const [alert] = (await s.queryAlerts({ limit: 10 })).alerts;
    assert.is(alert.event_count, 2);
    assert.is(alert.triage.state, 'new');
    assert.equal((await s.alertEvents(alert.id, 10)).map((e) => e.seq), stored.map((e) => e.seq));
    assert.is((await s.getAlert(alert.id))?.src_ip, '10.9.0.7');
    assert.is((await s.openAlerts(0)).length, 1);
    // The same commit again (a leader that did not see its own success): refused, nothing doubled.
    assert.not.ok(await s.commitCorrelation({ alerts: r.changes.map((c) => c.alert), links: r.links, cursor, from: 0, holder: 'w1' }));
    assert.is((await s.alertEvents(alert.id, 10)).length, 2);
  });

  t('lease: one holder at a time, renewed by it, taken over only after it expired, released on request', async () => {
    assert.ok(await s.tryLease('leader', 'w1', 300));
    assert.not.ok(await s.tryLease('leader', 'w2', 300));
    assert.ok(await s.tryLease('leader', 'w1', 300), 'renewal');
    assert.is(await s.leaseHolder('leader'), 'w1');
    await new Promise((r) => setTimeout(r, 350));
    assert.is(await s.leaseHolder('leader'), undefined);
    assert.ok(await s.tryLease('leader', 'w2', 10_000), 'taken over after expiry');
    assert.not.ok(await s.tryLease('leader', 'w1', 10_000));
    await s.releaseLease('leader', 'w1'); // not the holder: no effect
    assert.is(await s.leaseHolder('leader'), 'w2');
    await s.releaseLease('leader', 'w2');
    assert.ok(await s.tryLease('leader', 'w1', 10_000));
  });

  t('alert queries: filters, sensor and destination host, cursor paging', async () => {
    assert.ok(await s.tryLease('leader', 'w1', 10_000));
    const events = [
      ...Array.from({ length: 3 }, (_, i) => makeEvent({ sensor: 'a', src: `10.9.1.${i}`, dst: '10.8.0.1', cls: 'scan' })),
      makeEvent({ sensor: 'b', src: '10.9.2.1', dst: '10.8.0.2', cls: 'dos', severity: 1 }),
    ];
    const stored = await s.insertEvents(events, 1000);
    const r = new Correlator(defaults.correlation).ingest(stored);
    assert.ok(await s.commitCorrelation({ alerts: r.changes.map((c) => c.alert), links: r.links, cursor: stored[3].seq, from: 0, holder: 'w1' }));
    assert.is((await s.queryAlerts({ limit: 10 })).alerts.length, 4);
    assert.is((await s.queryAlerts({ limit: 10, class: 'dos' })).alerts.length, 1);
    assert.is((await s.queryAlerts({ limit: 10, severity: 1 })).alerts.length, 1);
    assert.is((await s.queryAlerts({ limit: 10, sensor: 'a' })).alerts.length, 3);
    assert.is((await s.queryAlerts({ limit: 10, dest_ip: '10.8.0.2' })).alerts[0].src_ip, '10.9.2.1');
    assert.is((await s.queryAlerts({ limit: 10, src_ip: '10.9.1.1' })).alerts.length, 1);
    const p1 = await s.queryAlerts({ limit: 3 });
    assert.is(p1.alerts.length, 3);
    const p2 = await s.queryAlerts({ limit: 3, cursor: p1.next_cursor! });
    assert.is(p2.alerts.length, 1);
    assert.is(p2.next_cursor, null);
  });

  t('dashboard stats: timeline buckets, top sources and destinations, open by severity', async () => {
    assert.ok(await s.tryLease('leader', 'w1', 10_000));
    const t0 = 1_000_000_000_000;
    const events = [
      ...Array.from({ length: 3 }, (_, i) => makeEvent({ sensor: 'a', src: '10.9.4.1', dst: '10.8.4.1', cls: 'scan', t: t0 + i * 1000 })),
      ...Array.from({ length: 2 }, (_, i) => makeEvent({ sensor: 'b', src: '10.9.4.2', dst: '10.8.4.2', cls: 'dos', severity: 1, t: t0 + 120_000 + i })),
    ];
    const stored = await s.insertEvents(events, t0);
    const r = new Correlator(defaults.correlation, () => t0).ingest(stored);
    assert.ok(await s.commitCorrelation({ alerts: r.changes.map((c) => c.alert), links: r.links, cursor: stored[4].seq, from: 0, holder: 'w1' }));
    const st = await s.stats({ since: t0 - 60_000, until: t0 + 600_000, bucketMs: 60_000 });
    assert.equal(st.timeline.map((x) => x.t), [t0 - 1000 - ((t0 - 1000) % 60_000), t0 + 120_000 - ((t0 + 120_000) % 60_000)], 'buckets of first_seen');
    assert.equal(st.timeline.map((x) => [x.severity, x.n]), [[2, 1], [1, 1]]);
    assert.equal(st.top_sources.map((x) => [x.src_ip, x.alerts, x.events]), [['10.9.4.1', 1, 3], ['10.9.4.2', 1, 2]]);
    assert.equal(st.top_destinations.map((x) => [x.dest_ip, x.events]), [['10.8.4.1', 3], ['10.8.4.2', 2]]);
    assert.equal(st.open_by_severity.map((x) => [x.severity, x.n]).sort(), [[1, 1], [2, 1]]);
    assert.equal(st.alerts, { in_range: 2, total: 2, first_seen: t0 - 1000, last_seen: t0 + 120_001 });
    assert.is((await s.stats({ since: t0 - 60_000, until: t0 + 600_000, bucketMs: 60_000, sensor: 'b' })).alerts.total, 1);
  });

  t('recent events up to the cursor, oldest first, for a new leader to warm up from', async () => {
    const stored = await s.insertEvents(Array.from({ length: 5 }, (_, i) => makeEvent({ src: `10.9.3.${i}` })), 1000);
    await s.insertEvents([makeEvent()], 500); // received before `since`
    const recent = await s.recentEvents(stored[3].seq, 900, 3);
    assert.equal(recent.map((e) => e.seq), [stored[1].seq, stored[2].seq, stored[3].seq], 'the newest 3 up to the cursor, in seq order');
    assert.is((await s.recentEvents(Number.MAX_SAFE_INTEGER, 900, 100)).length, 5);
  });

  t('sensors: counts from several writers add up; state and model follow the latest write', async () => {
    const row = { id: 's1', state: 'online', first_seen: 1, last_seen: 10, status_ts: 5, model: 'm1', counters: { flows: 3 }, events: 7, rejected: 1 };
    await s.addSensorCounts([row]);
    await s.addSensorCounts([{ ...row, last_seen: 8, status_ts: null, model: null, events: 5, rejected: 0 }]);
    const [back] = await s.sensors();
    assert.is(back.events, 12);
    assert.is(back.rejected, 1);
    assert.is(back.last_seen, 10);
    assert.is(back.model, 'm1');
    assert.equal(back.counters, { flows: 3 });
  });

  t.run();
}

const shared = suite('store (postgres, several workers)');
shared.after(async () => { await pgServer.dispose(); for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

shared('two workers storing the same batches at once: each event once, seqs in commit order', async () => {
  const opts = { url: pgServer.url, passwordFile: pgServer.passwordFile() };
  const [w1, w2] = await Promise.all([PostgresStore.open(opts), PostgresStore.open(opts)]);
  try {
    const version = await w1.pool.query('SELECT version FROM schema_version ORDER BY version');
    assert.equal(version.rows.map((r) => r.version), Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1), 'two starts at once applied each migration once');
    const batches = Array.from({ length: 40 }, (_, i) => Array.from({ length: 50 }, () => makeEvent({ sensor: `s${i % 7}` })));
    const results = await Promise.all(batches.flatMap((b) => [w1.insertEvents(structuredClone(b), 1), w2.insertEvents(structuredClone(b), 2)]));
    const fresh = results.flat();
    assert.is(fresh.length, 2000, 'each event returned as fresh by exactly one worker');
    assert.is(new Set(fresh.map((e) => e.id)).size, 2000);
    assert.is(await w1.countEvents(), 2000);
    const seqs = (await w1.eventsAfter(0, 5000)).map((e) => e.seq);
    assert.is(seqs.length, 2000);
    // Commit order: while a reader sees seq n, it sees every seq below it (checked by a reader racing the writers).
    const racing = batches.map((b) => w1.insertEvents(b.map(() => makeEvent()), 3));
    let cursor = seqs[seqs.length - 1];
    let seen = 0;
    const done = Promise.all(racing);
    let finished = false;
    void done.then(() => { finished = true; });
    const deadline = Date.now() + 20_000;
    while ((!finished || seen < 2000) && Date.now() < deadline) {
      const page = await w2.eventsAfter(cursor, 500);
      for (const e of page) {
        const below = await w2.pool.query('SELECT count(*)::bigint AS n FROM events WHERE seq < $1 AND seq > $2', [e.seq, cursor]);
        assert.is(Number(below.rows[0].n), 0, `a seq below ${e.seq} appeared after it`);
        cursor = e.seq;
        seen += 1;
      }
      if (page.length === 0) await new Promise((r) => setTimeout(r, 2));
    }
    assert.is(seen, 2000);
  } finally {
    await w1.close();
    await w2.close();
  }
});

shared('store.url: a password in the URL is refused; the password comes from its file', () => {
  assert.throws(() => postgresOptions({ url: 'postgres://u:secret@db:5432/ns' }), /no password in the URL/);
  assert.throws(() => postgresOptions({ url: 'mysql://u@db/ns' }), /expected postgres/);
  assert.throws(() => postgresOptions({ url: 'postgres://u@db:5432/ns', passwordFile: '/nonexistent/pw' }), /store.passwordFile: cannot read/);
  const o = postgresOptions({ url: 'postgres://u@db:5433/ns', passwordFile: pgServer.passwordFile() });
  assert.is(o.password, 'test-password-not-secret');
  assert.is(o.port, 5433);
});

shared('store.caFile: TLS to PostgreSQL, the server verified against the CA; another CA is refused', async () => {
  const certs = makeTestCerts();
  const tlsServer = new Postgres(PG_PORT + 2, { cert: certs.serverCert, key: certs.serverKey });
  try {
    await tlsServer.start();
    const s = await PostgresStore.open({ url: tlsServer.url, passwordFile: tlsServer.passwordFile(), caFile: certs.ca });
    try {
      const r = await s.pool.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      assert.is(r.rows[0].ssl, true, 'the connection is TLS');
    } finally {
      await s.close();
    }
    try {
      await (await PostgresStore.open({ url: tlsServer.url, passwordFile: tlsServer.passwordFile(), caFile: certs.rogueCa })).close();
      assert.unreachable('a server the CA did not sign was accepted');
    } catch (e) {
      assert.match(String((e as Error).message), /certificate/);
    }
  } finally {
    await tlsServer.dispose();
    certs.dispose();
  }
});

shared('netsensor gateway with a store it cannot open: exit 2, one line naming the store, no stack', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'gateway', '--broker', 'mqtt://127.0.0.1:1',
    '--store-url', `postgres://netsensor@127.0.0.1:${PG_PORT + 3}/netsensor`], { cwd: new URL('..', import.meta.url).pathname, encoding: 'utf8', timeout: 30_000 });
  assert.is(r.status, 2);
  const lines = r.stderr.trim().split('\n');
  assert.is(lines.length, 1, r.stderr);
  assert.match(lines[0], /store\.url: cannot open the PostgreSQL store postgres:\/\/netsensor@127\.0\.0\.1:\d+\/netsensor: connect ECONNREFUSED/);
});

shared.run();

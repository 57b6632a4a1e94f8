/**
 * The EventStore on PostgreSQL, shared by several gateway workers.
 *
 * Exactly once: `events.id` is UNIQUE and inserts are `ON CONFLICT (id) DO NOTHING`, so whichever worker
 * receives a batch (or several, after a redelivery) each event is stored once.
 * Commit order: event inserts take one transaction-scoped advisory lock, so seqs are handed out in commit order
 * and a reader that saw seq n has seen every seq below it. The correlation leader can then follow the events
 * with a plain cursor (`seq > cursor`) and never skip a row that commits late. The lock is held for one batch
 * insert (a few ms), which is the price of that guarantee; docs/scale.md has the figures.
 * Leases use the database's clock, so workers on machines whose clocks differ agree on when a lease expired.
 */
import pg from 'pg';
import type { RiskEvent } from '../../protocol/event.js';
import type { Alert } from '../alert-types.js';
import {
  ALERT_COLUMNS, EVENT_COLUMN_NAMES, EVENT_COLUMNS, alertOf, annotate, eventArgs, rowToEvent,
  type AlertQuery, type AlertRow, type AlertStats, type SensorRow, type StatsQuery, type StoredAlert, type StoredEvent,
} from '../store.js';
import { LEADER_LEASE, type Announcement, type CorrelationCommit, type EventStore } from './event-store.js';
import type { AlertReason } from '../alert-publisher.js';
import { migratePostgres } from './postgres-migrations.js';
import { describeUrl, postgresOptions, type PostgresSettings } from './postgres-connection.js';
import { NetsensorError } from '../../common/errors.js';

/** BIGINT columns (ms timestamps, seqs, counts) as numbers: every value the gateway stores is below 2^53. */
const BIGINT_AS_NUMBER = {
  getTypeParser: (oid: number, format?: string) =>
    oid === pg.types.builtins.INT8 ? (v: string) => Number(v) : (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format),
} as pg.CustomTypesConfig;

const EVENT_LOCK = 0x6e73_6576;
const CORRELATION = 'correlation';
/** Rows per multi-row INSERT (PostgreSQL allows 65535 parameters per statement). */
const EVENT_ROWS = 1000;
const ALERT_ROWS = 500;
const LINK_ROWS = 2000;
const NOW_MS = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

const ALERT_FIELDS = ['id', 'kind', 'class', 'src_ip', 'dest_ip', 'merged_into', 'severity', 'status', 'first_seen', 'last_seen',
  'created_at', 'updated_at', 'event_count', 'sensors', 'body'] as const;

function values(rows: number, cols: number, from = 1): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const ps: string[] = [];
    for (let c = 0; c < cols; c++) ps.push(`$${from + r * cols + c}`);
    out.push(`(${ps.join(', ')})`);
  }
  return out.join(', ');
}

function alertArgs(a: Alert): unknown[] {
  return [a.id, a.kind, a.class, a.src_ip, a.dest_ip, a.merged_into ?? null, a.severity, a.status, a.first_seen, a.last_seen,
    a.created_at, a.updated_at, a.event_count, JSON.stringify(a.sensors), JSON.stringify(a)];
}

export class PostgresStore implements EventStore {
  readonly backend = 'postgres' as const;

  private constructor(readonly pool: pg.Pool) {}

  /** Connects, applies the migrations this version needs, and returns the store. */
  static async open(settings: PostgresSettings): Promise<PostgresStore> {
    const pool = new pg.Pool({ ...postgresOptions(settings), types: BIGINT_AS_NUMBER });
    // An idle pooled connection that dies (server restart) must not end the process; the next query reconnects.
    pool.on('error', () => {});
    try {
      await migratePostgres(pool);
    } catch (e) {
      await pool.end().catch(() => {});
      // Unreachable, refused login, untrusted certificate, no right to create tables: one line naming the store.
      throw new NetsensorError('ERR_CONFIG', `store.url: cannot open the PostgreSQL store ${describeUrl(settings.url)}: ${(e as Error).message}`, { cause: e });
    }
    return new PostgresStore(pool);
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  async insertEvents(events: RiskEvent[], received: number): Promise<StoredEvent[]> {
    if (events.length === 0) return [];
    const seqs = new Map<string, number>();
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [EVENT_LOCK]);
      for (let i = 0; i < events.length; i += EVENT_ROWS) {
        const chunk = events.slice(i, i + EVENT_ROWS);
        const args: unknown[] = new Array(chunk.length * EVENT_COLUMNS);
        chunk.forEach((e, k) => eventArgs(e, received, args, k * EVENT_COLUMNS));
        const r = await c.query(`INSERT INTO events (${EVENT_COLUMN_NAMES}) VALUES ${values(chunk.length, EVENT_COLUMNS)}
          ON CONFLICT (id) DO NOTHING RETURNING id, seq`, args);
        for (const row of r.rows as Array<{ id: string; seq: number }>) seqs.set(row.id, row.seq);
      }
    });
    const fresh: StoredEvent[] = [];
    for (const e of events) {
      const seq = seqs.get(e.id);
      if (seq !== undefined) { fresh.push(annotate(e, seq, received)); seqs.delete(e.id); }
    }
    return fresh.sort((a, b) => a.seq - b.seq);
  }

  async eventsAfter(afterSeq: number, limit: number): Promise<StoredEvent[]> {
    const r = await this.pool.query('SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2', [afterSeq, limit]);
    return (r.rows as Array<Record<string, unknown>>).map(rowToEvent);
  }

  async recentEvents(untilSeq: number, since: number, limit: number): Promise<StoredEvent[]> {
    const r = await this.pool.query('SELECT * FROM (SELECT * FROM events WHERE seq <= $1 AND received >= $2 ORDER BY seq DESC LIMIT $3) r ORDER BY seq',
      [untilSeq, since, limit]);
    return (r.rows as Array<Record<string, unknown>>).map(rowToEvent);
  }

  async correlationCursor(): Promise<number> {
    const r = await this.pool.query('SELECT seq FROM cursors WHERE name = $1', [CORRELATION]);
    return r.rows.length ? Number(r.rows[0].seq) : 0;
  }

  async commitCorrelation(cm: CorrelationCommit): Promise<boolean> {
    return this.tx(async (c) => {
      // Row locks on the lease and the cursor: a second leader (a paused one that lost its lease) waits here and then
      // finds the cursor moved, so two workers never both apply the same events.
      const lease = await c.query(`SELECT holder, expires_ms > ${NOW_MS} AS live FROM leases WHERE name = $1 FOR UPDATE`, [LEADER_LEASE]);
      if (!lease.rows.length || lease.rows[0].holder !== cm.holder || !lease.rows[0].live) return false;
      await c.query('INSERT INTO cursors (name, seq) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING', [CORRELATION]);
      const at = Number((await c.query('SELECT seq FROM cursors WHERE name = $1 FOR UPDATE', [CORRELATION])).rows[0].seq);
      if (at !== cm.from) return false;
      // Alerts an operator closed that get more events fire again: reopened, as the single gateway does (alert-history.ts).
      const closed = new Map((await c.query(`SELECT id, event_count FROM alerts WHERE id = ANY($1) AND triage = 'closed' AND status = 'open' FOR UPDATE`,
        [cm.alerts.map((a) => a.id)])).rows.map((r: { id: string; event_count: number }) => [r.id, r.event_count]));
      for (let i = 0; i < cm.alerts.length; i += ALERT_ROWS) {
        const chunk = cm.alerts.slice(i, i + ALERT_ROWS);
        await c.query(
          `INSERT INTO alerts (${ALERT_FIELDS.join(', ')}) VALUES ${values(chunk.length, ALERT_FIELDS.length)}
           ON CONFLICT (id) DO UPDATE SET merged_into = excluded.merged_into, severity = excluded.severity, status = excluded.status,
             last_seen = excluded.last_seen, first_seen = excluded.first_seen, updated_at = excluded.updated_at,
             event_count = excluded.event_count, sensors = excluded.sensors, body = excluded.body`,
          chunk.flatMap(alertArgs),
        );
      }
      for (let i = 0; i < cm.links.length; i += LINK_ROWS) {
        const chunk = cm.links.slice(i, i + LINK_ROWS);
        await c.query(`INSERT INTO alert_events (alert_id, event_seq) VALUES ${values(chunk.length, 2)} ON CONFLICT DO NOTHING`, chunk.flat());
      }
      for (const a of cm.alerts) {
        const at = closed.get(a.id);
        if (at === undefined || a.event_count <= at) continue;
        await c.query(`UPDATE alerts SET triage = 'reopened', triage_ts = $2, triage_actor = 'gateway', triage_note = NULL WHERE id = $1`, [a.id, a.updated_at]);
        await c.query(`INSERT INTO alert_history (alert_id, ts, kind, actor, note, detail) VALUES ($1, $2, 'reopened', 'gateway', NULL, $3)`,
          [a.id, a.updated_at, JSON.stringify({ event_count_at_close: at, event_count: a.event_count, last_seen: a.last_seen })]);
      }
      const ann = cm.announcements ?? [];
      for (let i = 0; i < ann.length; i += ALERT_ROWS) {
        const chunk = ann.slice(i, i + ALERT_ROWS);
        await c.query(`INSERT INTO alert_announcements (alert_id, version, reason, sensor, body) VALUES ${values(chunk.length, 5)} ON CONFLICT DO NOTHING`,
          chunk.flatMap((a) => [a.alert.id, a.alert.version ?? 0, a.reason, a.sensor, JSON.stringify(a.alert)]));
      }
      await c.query('UPDATE cursors SET seq = $2 WHERE name = $1', [CORRELATION, cm.cursor]);
      return true;
    });
  }

  /**
   * Deletes events received before now − maxAgeMs that correlation has passed (oldest first, in bounded chunks
   * along the seq index), their links, then the alerts whose activity ended before that and that have no events
   * left, with their history and announcements. The single gateway's age rule (Store.applyRetention); the size
   * limit (store.maxBytes) is the database administrator's on PostgreSQL.
   */
  async applyRetention(now: number, maxAgeMs: number): Promise<{ events: number; alerts: number }> {
    const cutoff = now - maxAgeMs;
    let events = 0;
    for (;;) {
      const r = await this.pool.query(`SELECT max(seq) AS s FROM (SELECT seq, received FROM events ORDER BY seq LIMIT 5000) x
        WHERE received < $1 AND seq <= coalesce((SELECT seq FROM cursors WHERE name = $2), 0)`, [cutoff, CORRELATION]);
      const upTo = r.rows[0].s as number | null;
      if (upTo === null) break;
      events += await this.tx(async (c) => {
        await c.query('DELETE FROM alert_events WHERE event_seq <= $1', [upTo]);
        return (await c.query('DELETE FROM events WHERE seq <= $1', [upTo])).rowCount ?? 0;
      });
    }
    const alerts = await this.tx(async (c) => {
      const gone = (await c.query(`SELECT id FROM alerts WHERE last_seen < $1 AND NOT EXISTS (SELECT 1 FROM alert_events ae WHERE ae.alert_id = alerts.id)`,
        [cutoff])).rows.map((row: { id: string }) => row.id);
      if (gone.length === 0) return 0;
      await c.query('DELETE FROM alert_history WHERE alert_id = ANY($1)', [gone]);
      await c.query('DELETE FROM alert_announcements WHERE alert_id = ANY($1)', [gone]);
      return (await c.query('DELETE FROM alerts WHERE id = ANY($1)', [gone])).rowCount ?? 0;
    });
    return { events, alerts };
  }

  /** Alert messages committed but not yet acknowledged by the broker, in commit order. */
  async pendingAnnouncements(): Promise<Announcement[]> {
    const r = await this.pool.query('SELECT reason, sensor, body FROM alert_announcements ORDER BY n');
    return (r.rows as Array<{ reason: AlertReason; sensor: string; body: string }>)
      .map((row) => ({ alert: JSON.parse(row.body) as Alert, sensor: row.sensor, reason: row.reason }));
  }

  /** The broker acknowledged the alert's message at `version`: that one and the older ones are done. */
  async markAnnounced(alertId: string, version: number): Promise<void> {
    await this.pool.query('DELETE FROM alert_announcements WHERE alert_id = $1 AND version <= $2', [alertId, version]);
  }

  async tryLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const r = await this.pool.query(
      `INSERT INTO leases (name, holder, expires_ms) VALUES ($1, $2, ${NOW_MS} + $3)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms
       WHERE leases.holder = excluded.holder OR leases.expires_ms <= ${NOW_MS}
       RETURNING holder`,
      [name, holder, ttlMs],
    );
    return r.rows.length === 1 && r.rows[0].holder === holder;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.pool.query('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder]);
  }

  async leaseHolder(name: string): Promise<string | undefined> {
    const r = await this.pool.query(`SELECT holder FROM leases WHERE name = $1 AND expires_ms > ${NOW_MS}`, [name]);
    return r.rows[0]?.holder;
  }

  async countEvents(): Promise<number> {
    return Number((await this.pool.query('SELECT count(*)::bigint AS n FROM events')).rows[0].n);
  }

  async getAlert(id: string): Promise<StoredAlert | undefined> {
    const r = await this.pool.query(`SELECT ${ALERT_COLUMNS} FROM alerts WHERE id = $1`, [id]);
    return r.rows.length ? alertOf(r.rows[0] as AlertRow) : undefined;
  }

  async openAlerts(since: number): Promise<Alert[]> {
    const r = await this.pool.query(`SELECT body FROM alerts WHERE status = 'open' AND last_seen >= $1`, [since]);
    return (r.rows as Array<{ body: string }>).map((row) => JSON.parse(row.body) as Alert);
  }

  async queryAlerts(q: AlertQuery): Promise<{ alerts: StoredAlert[]; next_cursor: string | null }> {
    const where: string[] = [];
    const args: unknown[] = [];
    const p = (v: unknown) => { args.push(v); return `$${args.length}`; };
    if (q.severity !== undefined) where.push(`severity = ${p(q.severity)}`);
    if (q.class !== undefined) where.push(`class = ${p(q.class)}`);
    if (q.src_ip !== undefined) where.push(`src_ip = ${p(q.src_ip)}`);
    if (q.dest_ip !== undefined) { const d = p(q.dest_ip); where.push(`(dest_ip = ${d} OR (body::jsonb -> 'hosts') ? ${d})`); }
    if (q.merged !== undefined) where.push(q.merged ? 'merged_into IS NOT NULL' : 'merged_into IS NULL');
    if (q.triage !== undefined && q.triage.length > 0) where.push(`triage = ANY(${p(q.triage)})`);
    if (q.status !== undefined) where.push(`status = ${p(q.status)}`);
    if (q.sensor !== undefined) where.push(`sensors::jsonb ? ${p(q.sensor)}`);
    if (q.since !== undefined) where.push(`last_seen >= ${p(q.since)}`);
    if (q.until !== undefined) where.push(`first_seen <= ${p(q.until)}`);
    if (q.cursor !== undefined) where.push(`id < ${p(q.cursor)}`);
    const sql = `SELECT ${ALERT_COLUMNS} FROM alerts ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ${p(q.limit + 1)}`;
    const rows = (await this.pool.query(sql, args)).rows as AlertRow[];
    const alerts = rows.slice(0, q.limit).map(alertOf);
    return { alerts, next_cursor: rows.length > q.limit ? alerts[alerts.length - 1].id : null };
  }

  async alertEvents(alertId: string, limit: number, afterSeq = 0): Promise<StoredEvent[]> {
    const r = await this.pool.query(
      `SELECT e.* FROM alert_events ae JOIN events e ON e.seq = ae.event_seq
       WHERE ae.alert_id = $1 AND ae.event_seq > $2 ORDER BY ae.event_seq LIMIT $3`, [alertId, afterSeq, limit]);
    return (r.rows as Array<Record<string, unknown>>).map(rowToEvent);
  }

  /** As the SQLite store's stats (gateway/store.ts), in PostgreSQL's SQL. */
  async stats(q: StatsQuery): Promise<AlertStats> {
    const args: unknown[] = [];
    const p = (v: unknown) => { args.push(v); return `$${args.length}`; };
    const base = ['merged_into IS NULL'];
    if (q.sensor !== undefined) base.push(`sensors::jsonb ? ${p(q.sensor)}`);
    const where = base.join(' AND ');
    const fixed = args.length;
    const run = async <T>(sql: (p: (v: unknown) => string) => string): Promise<T[]> => {
      args.length = fixed;
      const text = sql(p);
      return (await this.pool.query(text, args)).rows as T[];
    };
    const timeline = await run<{ t: number; severity: number; n: number }>((x) => { const b = x(q.bucketMs); return `SELECT (first_seen / ${b}::bigint) * ${b}::bigint AS t, severity, count(*)::int AS n FROM alerts
      WHERE ${where} AND last_seen >= ${x(q.since)} AND first_seen >= ${x(q.since)} AND first_seen <= ${x(q.until)} GROUP BY t, severity ORDER BY t`; });
    const top = (col: 'src_ip' | 'dest_ip', skip: string) => run<{ alerts: number; events: number; severity: number }>((x) =>
      `SELECT ${col}, count(*)::int AS alerts, sum(event_count)::bigint AS events, min(severity) AS severity FROM alerts
       WHERE ${where} AND last_seen >= ${x(q.since)} AND first_seen <= ${x(q.until)} AND kind != '${skip}' GROUP BY ${col} ORDER BY events DESC, ${col} LIMIT 10`);
    const [counts] = await run<{ total: number; in_range: number | null; first: number | null; last: number | null }>((x) =>
      `SELECT count(*)::int AS total, sum(CASE WHEN last_seen >= ${x(q.since)} AND first_seen <= ${x(q.until)} THEN 1 ELSE 0 END)::int AS in_range,
         min(first_seen) AS first, max(last_seen) AS last FROM alerts WHERE ${where}`);
    const bySeverity = await run<{ severity: number; n: number }>(() => `SELECT severity, count(*)::int AS n FROM alerts WHERE ${where} AND status = 'open' GROUP BY severity ORDER BY severity`);
    return {
      timeline, top_sources: (await top('src_ip', 'fan_in')) as AlertStats['top_sources'], top_destinations: (await top('dest_ip', 'host_sweep')) as AlertStats['top_destinations'],
      open_by_severity: bySeverity,
      alerts: { in_range: counts.in_range ?? 0, total: counts.total, first_seen: counts.first, last_seen: counts.last },
    };
  }

  async addSensorCounts(rows: SensorRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.tx(async (c) => {
      for (const s of rows) {
        await c.query(
          `INSERT INTO sensors (id, state, first_seen, last_seen, status_ts, model, counters, events, rejected)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (id) DO UPDATE SET state = excluded.state, last_seen = greatest(sensors.last_seen, excluded.last_seen),
             status_ts = coalesce(excluded.status_ts, sensors.status_ts), model = coalesce(excluded.model, sensors.model),
             counters = excluded.counters, events = sensors.events + excluded.events, rejected = sensors.rejected + excluded.rejected`,
          [s.id, s.state, s.first_seen, s.last_seen, s.status_ts, s.model, JSON.stringify(s.counters), s.events, s.rejected],
        );
      }
    });
  }

  async sensors(): Promise<SensorRow[]> {
    const r = await this.pool.query('SELECT * FROM sensors ORDER BY id');
    return (r.rows as Array<Record<string, unknown>>).map((row) => ({ ...(row as unknown as SensorRow), counters: JSON.parse(String(row.counters)) as Record<string, unknown> }));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

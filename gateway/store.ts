/**
 * The gateway's SQLite store (better-sqlite3, WAL). Exactly-once comes from the database, not from memory:
 * `events.id` is UNIQUE and inserts are `INSERT OR IGNORE`, so a batch delivered twice (QoS 1 redelivery, a
 * sensor re-sending its outbox after a lost PUBACK) stores each event once, even across restarts.
 *
 * Retention: by age (events, then alerts that no event keeps alive) and by size (oldest events first);
 * auto_vacuum=INCREMENTAL gives the freed pages back to the file system.
 */
import Database from 'better-sqlite3';
import { NetsensorError } from '../common/errors.js';
import type { RiskEvent } from '../protocol/event.js';
import type { Alert } from './alert-types.js';
import { AlertHistory, triageOf, type Triage, type TriageRow, type TriageState } from './alert-history.js';
import { migrate } from './store-migrations.js';

export interface StoredEvent extends RiskEvent {
  seq: number;
  received: number;
}

/** An alert as the API returns it: the correlation record plus its triage state (kept beside it, not in it). */
export type StoredAlert = Alert & { triage: Triage };

export interface AlertQuery {
  severity?: number;
  class?: string;
  src_ip?: string;
  /** The alert's destination, or one of the hosts it touched. */
  dest_ip?: string;
  /** false: leave out alerts merged into a fan_in alert; true: only those. */
  merged?: boolean;
  triage?: TriageState[];
  sensor?: string;
  status?: string;
  since?: number;
  until?: number;
  limit: number;
  /** Opaque cursor from the previous page (the last alert id seen); ids are UUIDv7 so id order is creation order. */
  cursor?: string;
}

export interface StatsQuery { since: number; until: number; bucketMs: number; sensor?: string }

/** The dashboard's aggregates (GET /api/stats), the same from either store. */
export interface AlertStats {
  timeline: Array<{ t: number; severity: number; n: number }>;
  top_sources: Array<{ src_ip: string; alerts: number; events: number; severity: number }>;
  top_destinations: Array<{ dest_ip: string; alerts: number; events: number; severity: number }>;
  open_by_severity: Array<{ severity: number; n: number }>;
  alerts: { in_range: number; total: number; first_seen: number | null; last_seen: number | null };
}

export interface SensorRow {
  id: string;
  state: string;
  first_seen: number;
  last_seen: number;
  status_ts: number | null;
  model: string | null;
  counters: Record<string, unknown>;
  events: number;
  rejected: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  sensor TEXT NOT NULL,
  ts INTEGER NOT NULL,
  received INTEGER NOT NULL,
  src_ip TEXT NOT NULL, src_port INTEGER NOT NULL, dst_ip TEXT NOT NULL, dst_port INTEGER NOT NULL, proto INTEGER NOT NULL,
  vlan INTEGER NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, end_reason TEXT NOT NULL,
  s2d_packets INTEGER NOT NULL, s2d_bytes INTEGER NOT NULL, d2s_packets INTEGER NOT NULL, d2s_bytes INTEGER NOT NULL,
  class TEXT NOT NULL, severity INTEGER NOT NULL, score REAL NOT NULL, anomaly REAL NOT NULL, model TEXT NOT NULL,
  -- features and top contributions (JSON); the flow lives in columns so rows stay small (I/O is the limit)
  body TEXT NOT NULL
);
-- Only the UNIQUE id index: every extra index costs a B-tree insert per event on the hot path. Events are read
-- through alert_events (by seq) and retention walks seq order (arrival order), so none is needed.

CREATE TABLE IF NOT EXISTS alerts (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL, class TEXT NOT NULL, src_ip TEXT NOT NULL,
  severity INTEGER NOT NULL, status TEXT NOT NULL,
  first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  event_count INTEGER NOT NULL, sensors TEXT NOT NULL,
  body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alerts_sev ON alerts(severity, id);
CREATE INDEX IF NOT EXISTS alerts_class ON alerts(class, id);
CREATE INDEX IF NOT EXISTS alerts_src ON alerts(src_ip, id);
CREATE INDEX IF NOT EXISTS alerts_last ON alerts(last_seen);

CREATE TABLE IF NOT EXISTS alert_events (
  alert_id TEXT NOT NULL, event_seq INTEGER NOT NULL,
  PRIMARY KEY (alert_id, event_seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alert_events_seq ON alert_events(event_seq);

CREATE TABLE IF NOT EXISTS sensors (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, status_ts INTEGER,
  model TEXT, counters TEXT NOT NULL DEFAULT '{}', events INTEGER NOT NULL DEFAULT 0, rejected INTEGER NOT NULL DEFAULT 0
);

-- Filled by model distribution (OTA): one row per published model manifest.
CREATE TABLE IF NOT EXISTS models (
  id TEXT PRIMARY KEY,
  channel TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  schema_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  manifest TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS models_channel ON models(channel, sequence);
`;

const LINK_ROWS = 64;
export const EVENT_COLUMNS = 23;
/** The insert columns, in `eventArgs` order (both stores). */
export const EVENT_COLUMN_NAMES = `id, sensor, ts, received, src_ip, src_port, dst_ip, dst_port, proto, vlan, first_seen, last_seen, end_reason,
  s2d_packets, s2d_bytes, d2s_packets, d2s_bytes, class, severity, score, anomaly, model, body`;

/** The insert parameters of one event, written into `args` from `at`. */
export function eventArgs(e: RiskEvent, received: number, args: unknown[], at: number): void {
  const f = e.flow;
  args[at] = e.id; args[at + 1] = e.sensor; args[at + 2] = Math.round(e.ts); args[at + 3] = received;
  args[at + 4] = f.src_ip; args[at + 5] = f.src_port; args[at + 6] = f.dst_ip; args[at + 7] = f.dst_port; args[at + 8] = f.proto;
  args[at + 9] = f.vlan; args[at + 10] = f.first_seen_ms; args[at + 11] = f.last_seen_ms; args[at + 12] = f.end_reason;
  args[at + 13] = f.src2dst_packets; args[at + 14] = f.src2dst_bytes; args[at + 15] = f.dst2src_packets; args[at + 16] = f.dst2src_bytes;
  args[at + 17] = e.class; args[at + 18] = e.severity; args[at + 19] = e.score; args[at + 20] = e.anomaly; args[at + 21] = e.model;
  args[at + 22] = JSON.stringify(e.episode ? { features: e.features, top: e.top, episode: e.episode } : { features: e.features, top: e.top });
}

/** Annotated in place (no copy): decoded events are owned by the ingest path. */
export function annotate(e: RiskEvent, seq: number, received: number): StoredEvent {
  const s = e as StoredEvent;
  s.seq = seq;
  s.received = received;
  return s;
}

/**
 * Opens the database and switches it to WAL, the first write: a path that cannot hold a database (missing or
 * read-only directory, not a file) is a configuration error at start-up, one line naming it.
 */
function openDatabase(path: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    // auto_vacuum must be chosen before the first table exists; harmless on an existing file.
    db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    return db;
  } catch (e) {
    db?.close();
    throw new NetsensorError('ERR_CONFIG', `store.path: cannot open the event database ${path}: ${(e as Error).message}`, { cause: e });
  }
}

export class Store {
  readonly db: Database.Database;
  private readonly insertEvent: Database.Statement;
  private readonly upsertAlertStmt: Database.Statement;
  private readonly linkStmt: Database.Statement;
  /** LINK_ROWS pairs per statement: one call into SQLite per 64 links instead of one per link. */
  private readonly linkManyStmt: Database.Statement;
  /** Alert history and triage (alert-history.ts); other gateway parts append their entries here. */
  readonly history: AlertHistory;

  constructor(readonly path: string) {
    this.db = openDatabase(path);
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    // Checkpoint every ~16 MB of WAL rather than 4 MB: pages rewritten by consecutive commits (alerts, index
    // pages) are copied back to the database once instead of several times.
    this.db.pragma('wal_autocheckpoint = 4000');
    // A group commit of thousands of events dirties more pages than the default 2 MB page cache holds: SQLite
    // then spills pages mid-transaction and reads index pages back. 64 MB keeps a group and the hot pages in memory.
    this.db.pragma('cache_size = -65536');
    this.db.exec(SCHEMA);
    migrate(this.db);
    this.history = new AlertHistory(this.db);
    const cols = EVENT_COLUMN_NAMES;
    const row = `(${Array(EVENT_COLUMNS).fill('?').join(', ')})`;
    this.insertEvent = this.db.prepare(`INSERT OR IGNORE INTO events (${cols}) VALUES ${row}`);
    this.upsertAlertStmt = this.db.prepare(
      `INSERT INTO alerts (id, kind, class, src_ip, dest_ip, merged_into, severity, status, first_seen, last_seen, created_at, updated_at, event_count, sensors, body)
       VALUES (@id, @kind, @class, @src_ip, @dest_ip, @merged_into, @severity, @status, @first_seen, @last_seen, @created_at, @updated_at, @event_count, @sensors, @body)
       ON CONFLICT(id) DO UPDATE SET merged_into=excluded.merged_into, severity=excluded.severity, status=excluded.status, last_seen=excluded.last_seen,
         first_seen=excluded.first_seen, updated_at=excluded.updated_at, event_count=excluded.event_count, sensors=excluded.sensors, body=excluded.body`,
    );
    this.linkStmt = this.db.prepare('INSERT OR IGNORE INTO alert_events (alert_id, event_seq) VALUES (?, ?)');
    this.linkManyStmt = this.db.prepare(`INSERT OR IGNORE INTO alert_events (alert_id, event_seq) VALUES ${Array(LINK_ROWS).fill('(?, ?)').join(', ')}`);
  }

  /** Runs `fn` in one transaction (one fsync for a whole batch and its alerts). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Inserts the events that are not stored yet and returns only those (with their row sequence). */
  insertEvents(events: RiskEvent[], received: number): StoredEvent[] {
    // One statement per event: a multi-row INSERT … RETURNING measured no faster (SQLite's own work dominates).
    const fresh: StoredEvent[] = [];
    const args: unknown[] = new Array(EVENT_COLUMNS);
    for (const e of events) {
      eventArgs(e, received, args, 0);
      const r = this.insertEvent.run(args);
      if (r.changes === 1) fresh.push(annotate(e, Number(r.lastInsertRowid), received));
    }
    return fresh;
  }

  upsertAlert(a: Alert): void {
    this.upsertAlertStmt.run({
      id: a.id, kind: a.kind, class: a.class, src_ip: a.src_ip, dest_ip: a.dest_ip, merged_into: a.merged_into ?? null, severity: a.severity, status: a.status,
      first_seen: a.first_seen, last_seen: a.last_seen, created_at: a.created_at, updated_at: a.updated_at,
      event_count: a.event_count, sensors: JSON.stringify(a.sensors), body: JSON.stringify(a),
    });
    this.history.onAlertWritten(a);
  }

  linkEvent(alertId: string, eventSeq: number): void {
    this.linkStmt.run(alertId, eventSeq);
  }

  /** Links many [alertId, eventSeq] pairs (call inside a transaction). */
  linkEvents(links: Array<[string, number]>): void {
    const args: Array<string | number> = new Array(LINK_ROWS * 2);
    let i = 0;
    for (; i + LINK_ROWS <= links.length; i += LINK_ROWS) {
      for (let k = 0; k < LINK_ROWS; k++) { args[2 * k] = links[i + k][0]; args[2 * k + 1] = links[i + k][1]; }
      this.linkManyStmt.run(args);
    }
    for (; i < links.length; i++) this.linkStmt.run(links[i][0], links[i][1]);
  }

  countEvents(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  }

  getAlert(id: string): StoredAlert | undefined {
    const row = this.db.prepare(`SELECT ${ALERT_COLUMNS} FROM alerts WHERE id = ?`).get(id) as AlertRow | undefined;
    return row ? alertOf(row) : undefined;
  }

  /** Open alerts still inside the correlation window, to resume correlation after a restart. */
  openAlerts(since: number): Alert[] {
    return (this.db.prepare(`SELECT body FROM alerts WHERE status = 'open' AND last_seen >= ?`).all(since) as { body: string }[])
      .map((r) => JSON.parse(r.body) as Alert);
  }

  queryAlerts(q: AlertQuery): { alerts: StoredAlert[]; next_cursor: string | null } {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.severity !== undefined) { where.push('severity = ?'); args.push(q.severity); }
    if (q.class !== undefined) { where.push('class = ?'); args.push(q.class); }
    if (q.src_ip !== undefined) { where.push('src_ip = ?'); args.push(q.src_ip); }
    if (q.dest_ip !== undefined) {
      where.push(`(dest_ip = ? OR EXISTS (SELECT 1 FROM json_each(alerts.body, '$.hosts') WHERE value = ?))`);
      args.push(q.dest_ip, q.dest_ip);
    }
    if (q.merged !== undefined) where.push(q.merged ? 'merged_into IS NOT NULL' : 'merged_into IS NULL');
    if (q.triage !== undefined && q.triage.length > 0) { where.push(`triage IN (${q.triage.map(() => '?').join(', ')})`); args.push(...q.triage); }
    if (q.status !== undefined) { where.push('status = ?'); args.push(q.status); }
    if (q.sensor !== undefined) { where.push('EXISTS (SELECT 1 FROM json_each(alerts.sensors) WHERE value = ?)'); args.push(q.sensor); }
    // An alert belongs to [since, until] when its activity overlaps the interval.
    if (q.since !== undefined) { where.push('last_seen >= ?'); args.push(q.since); }
    if (q.until !== undefined) { where.push('first_seen <= ?'); args.push(q.until); }
    if (q.cursor !== undefined) { where.push('id < ?'); args.push(q.cursor); }
    const sql = `SELECT ${ALERT_COLUMNS} FROM alerts ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, q.limit + 1) as AlertRow[];
    const alerts = rows.slice(0, q.limit).map(alertOf);
    return { alerts, next_cursor: rows.length > q.limit ? alerts[alerts.length - 1].id : null };
  }

  alertEvents(alertId: string, limit: number, afterSeq = 0): StoredEvent[] {
    const rows = this.db.prepare(
      `SELECT e.* FROM alert_events ae JOIN events e ON e.seq = ae.event_seq
       WHERE ae.alert_id = ? AND ae.event_seq > ? ORDER BY ae.event_seq LIMIT ?`,
    ).all(alertId, afterSeq, limit) as Array<Record<string, unknown>>;
    return rows.map(rowToEvent);
  }

  /**
   * Aggregates for the dashboard, all on one time basis — flow time (when the traffic was seen): alerts per
   * bucket of their first_seen inside [since, until], and the sources and destinations with most events among
   * the alerts whose activity overlaps it. Merged alerts live on inside their fan_in alert and are not counted.
   */
  stats(q: StatsQuery): AlertStats {
    const where = ['merged_into IS NULL'];
    const args: unknown[] = [];
    if (q.sensor !== undefined) { where.push('EXISTS (SELECT 1 FROM json_each(alerts.sensors) WHERE value = ?)'); args.push(q.sensor); }
    const base = where.join(' AND ');
    // last_seen >= since follows from first_seen >= since; stated so the last_seen index applies.
    const timeline = this.db.prepare(
      `SELECT CAST(first_seen / ? AS INTEGER) * ? AS t, severity, count(*) AS n FROM alerts
       WHERE ${base} AND last_seen >= ? AND first_seen >= ? AND first_seen <= ? GROUP BY t, severity ORDER BY t`,
    ).all(q.bucketMs, q.bucketMs, ...args, q.since, q.since, q.until) as Array<{ t: number; severity: number; n: number }>;
    const overlap = `${base} AND last_seen >= ? AND first_seen <= ?`;
    const inRange = [...args, q.since, q.until];
    // A fan_in alert's src_ip is only the first of many sources: not a top source (it is a top destination).
    const topSources = this.db.prepare(
      `SELECT src_ip, count(*) AS alerts, sum(event_count) AS events, min(severity) AS severity FROM alerts
       WHERE ${overlap} AND kind != 'fan_in' GROUP BY src_ip ORDER BY events DESC LIMIT 10`,
    ).all(...inRange) as Array<{ src_ip: string; alerts: number; events: number; severity: number }>;
    // A host sweep's dest_ip is only its first host: not a top destination.
    const topDestinations = this.db.prepare(
      `SELECT dest_ip, count(*) AS alerts, sum(event_count) AS events, min(severity) AS severity FROM alerts
       WHERE ${overlap} AND kind != 'host_sweep' GROUP BY dest_ip ORDER BY events DESC LIMIT 10`,
    ).all(...inRange) as Array<{ dest_ip: string; alerts: number; events: number; severity: number }>;
    const counts = this.db.prepare(
      `SELECT count(*) AS total, sum(last_seen >= ? AND first_seen <= ?) AS in_range, min(first_seen) AS first, max(last_seen) AS last FROM alerts WHERE ${base}`,
    ).get(q.since, q.until, ...args) as { total: number; in_range: number | null; first: number | null; last: number | null };
    const bySeverity = this.db.prepare(`SELECT severity, count(*) AS n FROM alerts WHERE ${base} AND status = 'open' GROUP BY severity`).all(...args) as Array<{ severity: number; n: number }>;
    return {
      timeline, top_sources: topSources, top_destinations: topDestinations, open_by_severity: bySeverity,
      alerts: { in_range: counts.in_range ?? 0, total: counts.total, first_seen: counts.first, last_seen: counts.last },
    };
  }

  upsertSensor(s: SensorRow): void {
    this.db.prepare(
      `INSERT INTO sensors (id, state, first_seen, last_seen, status_ts, model, counters, events, rejected)
       VALUES (@id, @state, @first_seen, @last_seen, @status_ts, @model, @counters, @events, @rejected)
       ON CONFLICT(id) DO UPDATE SET state=excluded.state, last_seen=excluded.last_seen, status_ts=excluded.status_ts,
         model=excluded.model, counters=excluded.counters, events=excluded.events, rejected=excluded.rejected`,
    ).run({ ...s, counters: JSON.stringify(s.counters) });
  }

  sensors(): SensorRow[] {
    return (this.db.prepare('SELECT * FROM sensors ORDER BY id').all() as Array<Record<string, unknown>>).map((r) => ({
      ...(r as unknown as SensorRow),
      counters: JSON.parse(String(r.counters)) as Record<string, unknown>,
    }));
  }

  models(): Array<Record<string, unknown>> {
    return (this.db.prepare('SELECT id, channel, sequence, sha256, size, schema_id, created_at, expires_at FROM models ORDER BY channel, sequence DESC').all()) as Array<Record<string, unknown>>;
  }

  /** Bytes in use (pages not on the free list). */
  usedBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  /**
   * Deletes events older than `maxAgeMs` and, while the database is over `maxBytes`, the oldest tenth of the
   * remaining events; then alerts whose activity ended before the age limit. Returns what was removed.
   */
  applyRetention(now: number, maxAgeMs: number, maxBytes: number): { events: number; alerts: number } {
    const cutoff = now - maxAgeMs;
    let events = 0;
    const delLinks = this.db.prepare('DELETE FROM alert_events WHERE event_seq <= ?');
    const delEvents = this.db.prepare('DELETE FROM events WHERE seq <= ?');
    // Age: events are inserted in arrival order, so "older than" is a seq prefix (bounded chunks keep locks short).
    for (;;) {
      const row = this.db.prepare('SELECT max(seq) AS s FROM (SELECT seq FROM events WHERE received < ? ORDER BY seq LIMIT 5000)').get(cutoff) as { s: number | null };
      if (row.s === null) break;
      events += this.transaction(() => { delLinks.run(row.s); return delEvents.run(row.s).changes; });
    }
    for (let round = 0; round < 20 && this.usedBytes() > maxBytes; round++) {
      const n = this.countEvents();
      if (n === 0) break;
      const row = this.db.prepare('SELECT seq FROM events ORDER BY seq LIMIT 1 OFFSET ?').get(Math.max(0, Math.ceil(n / 10) - 1)) as { seq: number };
      events += this.transaction(() => { delLinks.run(row.seq); return delEvents.run(row.seq).changes; });
      this.db.pragma('incremental_vacuum');
    }
    const gone = `last_seen < ? AND NOT EXISTS (SELECT 1 FROM alert_events ae WHERE ae.alert_id = alerts.id)`;
    const alerts = this.transaction(() => {
      this.db.prepare(`DELETE FROM alert_history WHERE alert_id IN (SELECT id FROM alerts WHERE ${gone})`).run(cutoff);
      return this.db.prepare(`DELETE FROM alerts WHERE ${gone}`).run(cutoff).changes;
    });
    if (events > 0 || alerts > 0) this.db.pragma('incremental_vacuum');
    return { events, alerts };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

export const ALERT_COLUMNS = 'body, triage, triage_ts, triage_actor, triage_note';
export type AlertRow = TriageRow & { body: string };

export function alertOf(r: AlertRow): StoredAlert {
  const a = JSON.parse(r.body) as StoredAlert;
  a.triage = triageOf(r);
  return a;
}

export function rowToEvent(r: Record<string, unknown>): StoredEvent {
  const body = JSON.parse(String(r.body)) as Pick<RiskEvent, 'features' | 'top' | 'episode'>;
  const n = (k: string) => Number(r[k]);
  return {
    v: 1, seq: n('seq'), id: String(r.id), sensor: String(r.sensor), ts: n('ts'), received: n('received'),
    flow: {
      src_ip: String(r.src_ip), src_port: n('src_port'), dst_ip: String(r.dst_ip), dst_port: n('dst_port'), proto: n('proto'), vlan: n('vlan'),
      first_seen_ms: n('first_seen'), last_seen_ms: n('last_seen'), end_reason: String(r.end_reason),
      src2dst_packets: n('s2d_packets'), src2dst_bytes: n('s2d_bytes'), dst2src_packets: n('d2s_packets'), dst2src_bytes: n('d2s_bytes'),
    },
    class: String(r.class), severity: n('severity') as 1 | 2 | 3, score: n('score'), anomaly: n('anomaly'),
    model: String(r.model), features: body.features, top: body.top, ...(body.episode ? { episode: body.episode } : {}),
  };
}

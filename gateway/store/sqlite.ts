/**
 * The EventStore on the gateway's SQLite database: the embedded Store (gateway/store.ts) keeps its synchronous
 * SQL and its figures; this wraps it in the shared interface. One process owns the file, so seq order is commit
 * order and the lease is a row like PostgreSQL's (it matters only if two processes ever open one file).
 */
import type { RiskEvent } from '../../protocol/event.js';
import type { Alert } from '../alert-types.js';
import { Store, type AlertQuery, type AlertStats, type SensorRow, type StatsQuery, type StoredAlert, type StoredEvent, rowToEvent } from '../store.js';
import { LEADER_LEASE, type CorrelationCommit, type EventStore } from './event-store.js';

const CORRELATION = 'correlation';

export class SqliteEventStore implements EventStore {
  readonly backend = 'sqlite' as const;

  constructor(readonly store: Store) {}

  static open(path: string): SqliteEventStore {
    return new SqliteEventStore(new Store(path));
  }

  private get db() { return this.store.db; }

  async insertEvents(events: RiskEvent[], received: number): Promise<StoredEvent[]> {
    return this.store.transaction(() => this.store.insertEvents(events, received));
  }

  async eventsAfter(afterSeq: number, limit: number): Promise<StoredEvent[]> {
    return (this.db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit) as Array<Record<string, unknown>>).map(rowToEvent);
  }

  async recentEvents(untilSeq: number, since: number, limit: number): Promise<StoredEvent[]> {
    return (this.db.prepare('SELECT * FROM (SELECT * FROM events WHERE seq <= ? AND received >= ? ORDER BY seq DESC LIMIT ?) ORDER BY seq')
      .all(untilSeq, since, limit) as Array<Record<string, unknown>>).map(rowToEvent);
  }

  async correlationCursor(): Promise<number> {
    return (this.db.prepare('SELECT seq FROM cursors WHERE name = ?').get(CORRELATION) as { seq: number } | undefined)?.seq ?? 0;
  }

  async commitCorrelation(c: CorrelationCommit): Promise<boolean> {
    return this.store.transaction(() => {
      const at = (this.db.prepare('SELECT seq FROM cursors WHERE name = ?').get(CORRELATION) as { seq: number } | undefined)?.seq ?? 0;
      if (at !== c.from || !this.holds(c.holder)) return false;
      for (const a of c.alerts) this.store.upsertAlert(a);
      this.store.linkEvents(c.links);
      this.db.prepare('INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET seq = excluded.seq').run(CORRELATION, c.cursor);
      return true;
    });
  }

  private holds(holder: string): boolean {
    const row = this.db.prepare('SELECT holder, expires_ms FROM leases WHERE name = ?').get(LEADER_LEASE) as { holder: string; expires_ms: number } | undefined;
    return row !== undefined && row.holder === holder && row.expires_ms > Date.now();
  }

  async tryLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    this.db.prepare(
      `INSERT INTO leases (name, holder, expires_ms) VALUES (?, ?, ?)
       ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms
       WHERE leases.holder = excluded.holder OR leases.expires_ms <= ?`,
    ).run(name, holder, now + ttlMs, now);
    return (await this.leaseHolder(name)) === holder;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.db.prepare('DELETE FROM leases WHERE name = ? AND holder = ?').run(name, holder);
  }

  async leaseHolder(name: string): Promise<string | undefined> {
    const row = this.db.prepare('SELECT holder, expires_ms FROM leases WHERE name = ?').get(name) as { holder: string; expires_ms: number } | undefined;
    return row && row.expires_ms > Date.now() ? row.holder : undefined;
  }

  async countEvents(): Promise<number> { return this.store.countEvents(); }
  async getAlert(id: string): Promise<StoredAlert | undefined> { return this.store.getAlert(id); }
  async openAlerts(since: number): Promise<Alert[]> { return this.store.openAlerts(since); }
  async queryAlerts(q: AlertQuery) { return this.store.queryAlerts(q); }
  async alertEvents(alertId: string, limit: number, afterSeq = 0): Promise<StoredEvent[]> { return this.store.alertEvents(alertId, limit, afterSeq); }

  async stats(q: StatsQuery): Promise<AlertStats> { return this.store.stats(q); }

  async addSensorCounts(rows: SensorRow[]): Promise<void> {
    const stmt = this.db.prepare(
      `INSERT INTO sensors (id, state, first_seen, last_seen, status_ts, model, counters, events, rejected)
       VALUES (@id, @state, @first_seen, @last_seen, @status_ts, @model, @counters, @events, @rejected)
       ON CONFLICT(id) DO UPDATE SET state=excluded.state, last_seen=max(sensors.last_seen, excluded.last_seen), status_ts=coalesce(excluded.status_ts, sensors.status_ts),
         model=coalesce(excluded.model, sensors.model), counters=excluded.counters, events=sensors.events + excluded.events, rejected=sensors.rejected + excluded.rejected`,
    );
    this.store.transaction(() => { for (const s of rows) stmt.run({ ...s, counters: JSON.stringify(s.counters) }); });
  }

  async sensors(): Promise<SensorRow[]> { return this.store.sensors(); }

  async close(): Promise<void> { this.store.close(); }
}

/**
 * What the gateway keeps, behind one asynchronous interface with two implementations: SQLite (sqlite.ts, the
 * embedded default: one process, one file) and PostgreSQL (postgres.ts, shared by several gateway workers).
 * The part several workers need is here: events stored exactly once by id, alerts and their links written with
 * the correlation cursor in one transaction, open alerts to resume from, the sensors registry, the API's reads,
 * and a lease that names the one worker leading correlation, alert publication and model rollout.
 */
import type { RiskEvent } from '../../protocol/event.js';
import type { Alert } from '../alert-types.js';
import type { AlertReason } from '../alert-publisher.js';
import type { AlertQuery, AlertStats, SensorRow, StatsQuery, StoredAlert, StoredEvent } from '../store.js';

export type { AlertQuery, AlertStats, SensorRow, StatsQuery, StoredAlert, StoredEvent };

export interface CorrelationCommit {
  /** Alerts created or changed (written whole: upsert by id). */
  alerts: Alert[];
  /** [alertId, eventSeq] pairs. */
  links: Array<[string, number]>;
  /** The last event seq these changes cover: the consumer's cursor moves there in the same transaction. */
  cursor: number;
  /** The cursor this commit started from: a commit whose cursor moved meanwhile (another leader) is refused. */
  from: number;
  /** The lease holder that made these changes: refused when it no longer holds the lease. */
  holder: string;
  /** Alert messages these changes call for: kept until published (at least once, see Announcement). */
  announcements?: Announcement[];
}

/**
 * An alert message to publish: the alert as it was at `alert.version`. Kept in the store from the commit that made
 * it until the broker acknowledged it, so a leader that dies in between leaves it to the next one.
 */
export interface Announcement {
  alert: Alert;
  sensor: string;
  reason: AlertReason;
}

export interface EventStore {
  readonly backend: 'sqlite' | 'postgres';
  /** Stores the events not stored yet (unique id) and returns only those, with their seq. */
  insertEvents(events: RiskEvent[], received: number): Promise<StoredEvent[]>;
  /** Events stored after `afterSeq`, in commit order (the correlation leader's feed). */
  eventsAfter(afterSeq: number, limit: number): Promise<StoredEvent[]>;
  /** Events up to `untilSeq` received since `since`, oldest first (to warm a new leader's correlation state). */
  recentEvents(untilSeq: number, since: number, limit: number): Promise<StoredEvent[]>;
  /** Where the correlation consumer stands (0 before its first commit). */
  correlationCursor(): Promise<number>;
  /** Writes alerts, links and the cursor at once; false (nothing written) when `from` or the lease no longer hold. */
  commitCorrelation(c: CorrelationCommit): Promise<boolean>;
  /**
   * Takes or renews the lease `name` for `holder` until now + ttlMs; true when `holder` holds it afterwards.
   * A lease held by another holder is taken only after it expired.
   */
  tryLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up at once (a clean stop), so another worker need not wait for it to expire. */
  releaseLease(name: string, holder: string): Promise<void>;
  leaseHolder(name: string): Promise<string | undefined>;
  countEvents(): Promise<number>;
  getAlert(id: string): Promise<StoredAlert | undefined>;
  /** Open alerts still inside the correlation window (to resume correlation). */
  openAlerts(since: number): Promise<Alert[]>;
  queryAlerts(q: AlertQuery): Promise<{ alerts: StoredAlert[]; next_cursor: string | null }>;
  alertEvents(alertId: string, limit: number, afterSeq?: number): Promise<StoredEvent[]>;
  /** The dashboard's aggregates on flow time (merged alerts not counted). */
  stats(q: StatsQuery): Promise<AlertStats>;
  /** Registry rows, written whole; `events`/`rejected` are this writer's increments since its last write. */
  addSensorCounts(rows: SensorRow[]): Promise<void>;
  sensors(): Promise<SensorRow[]>;
  close(): Promise<void>;
}

export const LEADER_LEASE = 'leader';

/**
 * The gateway's record of response actions (the source of truth a restarted sensor is reconciled with) and
 * their history, in the gateway's SQLite database:
 *   response_actions  one row per action: what, where, until when, and where it stands
 *   response_history  every step of every action (proposed, approved, sent, applied, refused, expired, undone…),
 *                     by alert: an alert's containment story, in order
 */
import type Database from 'better-sqlite3';
import type { ActionKind } from '../../protocol/command.js';

/**
 * dry_run: recorded only (mode dry-run); pending: waits for approval; active: sent to the sensor; expired: its TTL
 * ran out; undone: removed by a person; declined: a pending action a person turned down (or that timed out);
 * skipped: a guard rail stopped it; refused: the sensor refused it.
 */
export type ActionState = 'dry_run' | 'pending' | 'active' | 'expired' | 'undone' | 'declined' | 'skipped' | 'refused';

export interface ActionRecord {
  id: string;
  alert_id: string;
  playbook: string;
  sensor: string;
  kind: ActionKind;
  src: string;
  dst: string | null;
  ttl_ms: number;
  mode: 'dry-run' | 'approve' | 'auto';
  state: ActionState;
  /** Why it was skipped, refused or ended. */
  reason: string | null;
  created_ms: number;
  /** When the command went out; the action ends at until_ms. */
  started_ms: number | null;
  until_ms: number | null;
  ended_ms: number | null;
  /** The sensor's last report: applied / refused / removed / synced. */
  sensor_result: string | null;
}

export interface HistoryEntry {
  action_id: string;
  alert_id: string;
  ts: number;
  event: string;
  detail: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS response_actions (
  id TEXT PRIMARY KEY, alert_id TEXT NOT NULL, playbook TEXT NOT NULL, sensor TEXT NOT NULL, kind TEXT NOT NULL,
  src TEXT NOT NULL, dst TEXT, ttl_ms INTEGER NOT NULL, mode TEXT NOT NULL, state TEXT NOT NULL, reason TEXT,
  created_ms INTEGER NOT NULL, started_ms INTEGER, until_ms INTEGER, ended_ms INTEGER, sensor_result TEXT
);
CREATE INDEX IF NOT EXISTS response_actions_state ON response_actions (state);
CREATE INDEX IF NOT EXISTS response_actions_alert ON response_actions (alert_id);
CREATE TABLE IF NOT EXISTS response_history (
  n INTEGER PRIMARY KEY AUTOINCREMENT, action_id TEXT NOT NULL, alert_id TEXT NOT NULL, ts INTEGER NOT NULL,
  event TEXT NOT NULL, detail TEXT
);
CREATE INDEX IF NOT EXISTS response_history_alert ON response_history (alert_id);
CREATE INDEX IF NOT EXISTS response_history_action ON response_history (action_id);
`;

const COLUMNS = ['id', 'alert_id', 'playbook', 'sensor', 'kind', 'src', 'dst', 'ttl_ms', 'mode', 'state', 'reason', 'created_ms', 'started_ms', 'until_ms', 'ended_ms', 'sensor_result'] as const;

export class ActionStore {
  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
  }

  save(a: ActionRecord): void {
    this.db.prepare(`INSERT OR REPLACE INTO response_actions (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => '@' + c).join(', ')})`).run(a);
  }

  get(id: string): ActionRecord | undefined {
    return this.db.prepare('SELECT * FROM response_actions WHERE id = ?').get(id) as ActionRecord | undefined;
  }

  list(filter: { state?: string; alert?: string; sensor?: string; limit?: number } = {}): ActionRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    for (const [col, v] of [['state', filter.state], ['alert_id', filter.alert], ['sensor', filter.sensor]] as const) {
      if (v !== undefined) { where.push(`${col} = ?`); args.push(v); }
    }
    return this.db.prepare(`SELECT * FROM response_actions ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_ms DESC, id DESC LIMIT ?`)
      .all(...args, filter.limit ?? 500) as ActionRecord[];
  }

  /** Actions that hold (active) or may soon hold (pending) a place under the concurrency cap. */
  live(): ActionRecord[] {
    return this.db.prepare("SELECT * FROM response_actions WHERE state IN ('active', 'pending') ORDER BY created_ms").all() as ActionRecord[];
  }

  startedSince(ms: number): number {
    return (this.db.prepare('SELECT count(*) AS n FROM response_actions WHERE started_ms >= ?').get(ms) as { n: number }).n;
  }

  /** Whether this alert already went through this playbook on this sensor (one action per alert, playbook and sensor). */
  has(alertId: string, playbook: string, sensor: string): boolean {
    return this.db.prepare('SELECT 1 FROM response_actions WHERE alert_id = ? AND playbook = ? AND sensor = ?').get(alertId, playbook, sensor) !== undefined;
  }

  addHistory(e: HistoryEntry): void {
    this.db.prepare('INSERT INTO response_history (action_id, alert_id, ts, event, detail) VALUES (@action_id, @alert_id, @ts, @event, @detail)').run(e);
  }

  history(filter: { alert?: string; action?: string }): HistoryEntry[] {
    const [col, v] = filter.action !== undefined ? ['action_id', filter.action] : ['alert_id', filter.alert ?? ''];
    return this.db.prepare(`SELECT action_id, alert_id, ts, event, detail FROM response_history WHERE ${col} = ? ORDER BY n`).all(v) as HistoryEntry[];
  }
}

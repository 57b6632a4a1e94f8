/**
 * An alert's history and triage state, in the gateway's database (tables from store-migrations.ts).
 *
 * History: one row per thing that happened to an alert, `{alert_id, ts, kind, actor, note, detail}`. Triage
 * writes `acknowledged`, `closed`, `reopened` (by the operator, or by the gateway when a closed alert fires
 * again) and `note`; other parts of the gateway append their own kinds (e.g. an automated response) with
 * `append()`. Kinds are lower-case words; `detail` is any JSON object.
 *
 * Triage state of an alert: `new` → `acknowledged` → `closed`; `reopened` when events join a closed alert —
 * checked on every write of an alert (Store.upsertAlert), so it happens in the transaction that stores them.
 * Independent of the alert's `status`, which says whether correlation still adds events to it.
 */
import type Database from 'better-sqlite3';
import { NetsensorError } from '../common/errors.js';
import type { Alert } from './alert-types.js';

export type TriageState = 'new' | 'acknowledged' | 'closed' | 'reopened';
export const TRIAGE_STATES: readonly TriageState[] = ['new', 'acknowledged', 'closed', 'reopened'];

export interface Triage {
  state: TriageState;
  /** When, by whom and why the state last changed (null while `new`). */
  ts: number | null;
  actor: string | null;
  note: string | null;
}

export interface HistoryEntry {
  id: number;
  alert_id: string;
  /** Gateway time, ms since the epoch. */
  ts: number;
  kind: string;
  actor: string;
  note: string | null;
  detail: Record<string, unknown> | null;
}

export type NewHistoryEntry = Omit<HistoryEntry, 'id' | 'note' | 'detail'> & { note?: string | null; detail?: Record<string, unknown> | null };

type Maybe<T> = T | Promise<T>;

/** Where triage state and history live, as the API uses them: AlertHistory here, PostgresAlertHistory on workers. */
export interface TriageStore {
  act(alertId: string, action: TriageAction, actor: string, note: string | null, ts: number): Maybe<{ triage: Triage; entry: HistoryEntry }>;
  triage(alertId: string): Maybe<Triage | undefined>;
  list(alertId: string): Maybe<HistoryEntry[]>;
}

export const MAX_NOTE = 2000;
export const MAX_ACTOR = 64;
const KIND = /^[a-z][a-z0-9_]{0,31}$/;

/** What an operator can do to an alert: the action, the state it leads to (none for a plain note). */
export const TRIAGE_ACTIONS = {
  acknowledge: { kind: 'acknowledged', state: 'acknowledged' },
  close: { kind: 'closed', state: 'closed' },
  reopen: { kind: 'reopened', state: 'reopened' },
  note: { kind: 'note', state: undefined },
} as const satisfies Record<string, { kind: string; state: TriageState | undefined }>;
export type TriageAction = keyof typeof TRIAGE_ACTIONS;

export function checkHistoryEntry(e: NewHistoryEntry): void {
  if (!KIND.test(e.kind)) throw new NetsensorError('ERR_ALERT_HISTORY_INVALID', `history kind '${String(e.kind).slice(0, 40)}' is not a lower-case word`);
  if (typeof e.actor !== 'string' || e.actor.length === 0 || e.actor.length > MAX_ACTOR) throw new NetsensorError('ERR_ALERT_HISTORY_INVALID', `actor must be 1–${MAX_ACTOR} characters`);
  if (e.note != null && (typeof e.note !== 'string' || e.note.length > MAX_NOTE)) throw new NetsensorError('ERR_ALERT_HISTORY_INVALID', `note must be text of at most ${MAX_NOTE} characters`);
  if (!Number.isFinite(e.ts)) throw new NetsensorError('ERR_ALERT_HISTORY_INVALID', 'history ts must be milliseconds since the epoch');
}

export class AlertHistory {
  private readonly insert: Database.Statement;
  private readonly setTriage: Database.Statement;
  /**
   * Closed alerts that correlation may still add events to (status open) → their event count at closing. Only
   * these can fire again, so the check on every alert write is one map lookup; bounded by the open alerts.
   */
  private readonly closedAt = new Map<string, number>();

  constructor(private readonly db: Database.Database) {
    this.insert = db.prepare('INSERT INTO alert_history (alert_id, ts, kind, actor, note, detail) VALUES (?, ?, ?, ?, ?, ?)');
    this.setTriage = db.prepare('UPDATE alerts SET triage = ?, triage_ts = ?, triage_actor = ?, triage_note = ? WHERE id = ?');
    const rows = db.prepare(`SELECT id, event_count FROM alerts WHERE triage = 'closed' AND status = 'open'`).all() as Array<{ id: string; event_count: number }>;
    for (const r of rows) this.closedAt.set(r.id, r.event_count);
  }

  /** Called with every alert the store writes: a closed alert with more events than at closing fired again. */
  onAlertWritten(a: Alert): void {
    const at = this.closedAt.get(a.id);
    if (at === undefined) return;
    if (a.event_count > at) {
      this.closedAt.delete(a.id);
      this.setTriage.run('reopened', a.updated_at, 'gateway', null, a.id);
      this.insert.run(a.id, a.updated_at, 'reopened', 'gateway', null,
        JSON.stringify({ event_count_at_close: at, event_count: a.event_count, last_seen: a.last_seen }));
    } else if (a.status === 'closed') {
      this.closedAt.delete(a.id); // correlation is done with it: it cannot fire again
    }
  }

  /** Appends an entry; the alert must exist. Returns the entry's id. */
  append(e: NewHistoryEntry): number {
    checkHistoryEntry(e);
    if (!this.db.prepare('SELECT 1 FROM alerts WHERE id = ?').get(e.alert_id)) throw new NetsensorError('ERR_ALERT_NOT_FOUND', `alert ${e.alert_id} not found`);
    const r = this.insert.run(e.alert_id, Math.round(e.ts), e.kind, e.actor, e.note ?? null, e.detail ? JSON.stringify(e.detail) : null);
    return Number(r.lastInsertRowid);
  }

  /** The alert's history, oldest first. */
  list(alertId: string, limit = 500): HistoryEntry[] {
    return (this.db.prepare('SELECT * FROM alert_history WHERE alert_id = ? ORDER BY id LIMIT ?').all(alertId, limit) as HistoryRow[]).map(entryOf);
  }

  private entry(id: number): HistoryEntry | undefined {
    const r = this.db.prepare('SELECT * FROM alert_history WHERE id = ?').get(id) as HistoryRow | undefined;
    return r && entryOf(r);
  }

  /** An operator's action: the new triage state (if any) and its history entry, in one transaction. */
  act(alertId: string, action: TriageAction, actor: string, note: string | null, ts: number): { triage: Triage; entry: HistoryEntry } {
    const { kind, state } = TRIAGE_ACTIONS[action];
    return this.db.transaction(() => {
      const id = this.append({ alert_id: alertId, ts, kind, actor, note });
      if (state) {
        this.setTriage.run(state, Math.round(ts), actor, note, alertId);
        const row = this.db.prepare('SELECT event_count, status FROM alerts WHERE id = ?').get(alertId) as { event_count: number; status: string };
        if (state === 'closed' && row.status === 'open') this.closedAt.set(alertId, row.event_count);
        else this.closedAt.delete(alertId);
      }
      return { triage: this.triage(alertId)!, entry: this.entry(id)! };
    })();
  }

  triage(alertId: string): Triage | undefined {
    const r = this.db.prepare('SELECT triage, triage_ts, triage_actor, triage_note FROM alerts WHERE id = ?').get(alertId) as TriageRow | undefined;
    return r ? triageOf(r) : undefined;
  }
}

export type HistoryRow = Omit<HistoryEntry, 'detail'> & { detail: string | null };

export function entryOf(r: HistoryRow): HistoryEntry {
  return { ...r, detail: r.detail == null ? null : JSON.parse(r.detail) as Record<string, unknown> };
}

export interface TriageRow { triage: string; triage_ts: number | null; triage_actor: string | null; triage_note: string | null }

export function triageOf(r: TriageRow): Triage {
  return { state: r.triage as TriageState, ts: r.triage_ts, actor: r.triage_actor, note: r.triage_note };
}

/**
 * Alert triage and history on PostgreSQL, for workers: the same states, entries and answers as the single
 * gateway's AlertHistory (alert-history.ts). An action locks the alert's row, so an operator's close and the
 * leader's correlation commit (which reopens a closed alert that fired again, see PostgresStore) serialize.
 */
import type pg from 'pg';
import { NetsensorError } from '../../common/errors.js';
import {
  checkHistoryEntry, entryOf, TRIAGE_ACTIONS, triageOf,
  type HistoryEntry, type HistoryRow, type Triage, type TriageAction, type TriageRow, type TriageStore,
} from '../alert-history.js';

const TRIAGE_COLUMNS = 'triage, triage_ts, triage_actor, triage_note';

export class PostgresAlertHistory implements TriageStore {
  constructor(private readonly pool: pg.Pool) {}

  async act(alertId: string, action: TriageAction, actor: string, note: string | null, ts: number): Promise<{ triage: Triage; entry: HistoryEntry }> {
    const { kind, state } = TRIAGE_ACTIONS[action];
    checkHistoryEntry({ alert_id: alertId, ts, kind, actor, note });
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const found = await c.query('SELECT 1 FROM alerts WHERE id = $1 FOR UPDATE', [alertId]);
      if (!found.rows.length) throw new NetsensorError('ERR_ALERT_NOT_FOUND', `alert ${alertId} not found`);
      const entry = (await c.query('INSERT INTO alert_history (alert_id, ts, kind, actor, note, detail) VALUES ($1, $2, $3, $4, $5, NULL) RETURNING *',
        [alertId, Math.round(ts), kind, actor, note])).rows[0] as HistoryRow;
      if (state) await c.query('UPDATE alerts SET triage = $2, triage_ts = $3, triage_actor = $4, triage_note = $5 WHERE id = $1', [alertId, state, Math.round(ts), actor, note]);
      const row = (await c.query(`SELECT ${TRIAGE_COLUMNS} FROM alerts WHERE id = $1`, [alertId])).rows[0] as TriageRow;
      await c.query('COMMIT');
      return { triage: triageOf(row), entry: entryOf(entry) };
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  async triage(alertId: string): Promise<Triage | undefined> {
    const r = await this.pool.query(`SELECT ${TRIAGE_COLUMNS} FROM alerts WHERE id = $1`, [alertId]);
    return r.rows.length ? triageOf(r.rows[0] as TriageRow) : undefined;
  }

  async list(alertId: string, limit = 500): Promise<HistoryEntry[]> {
    const r = await this.pool.query('SELECT * FROM alert_history WHERE alert_id = $1 ORDER BY id LIMIT $2', [alertId, limit]);
    return (r.rows as HistoryRow[]).map(entryOf);
  }
}

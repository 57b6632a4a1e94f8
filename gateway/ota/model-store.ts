/**
 * Rollout state of model distribution (gateway/ota/distributor.ts) in the gateway's SQLite database, so that a restart
 * loses neither the releases (the embedded broker keeps retained messages in memory only: the gateway publishes
 * them again from here) nor what each sensor runs, nor a halted rollout (which must stay halted).
 *
 *   model_releases  one row per channel: its current release (signed envelope + payload) and rollout state
 *   model_sensors   per sensor: channel, model it runs, last OTA report
 *   models          history: one row per release ever accepted (the table GET /api/models always listed)
 */
import type Database from 'better-sqlite3';
import type { ModelHistoryRow, PersistedRelease, PersistedSensor, RolloutPersistence } from './distributor.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS model_releases (
  channel TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  model_id TEXT NOT NULL,
  envelope BLOB NOT NULL,
  payload BLOB NOT NULL,
  state TEXT NOT NULL,
  admitted TEXT NOT NULL,
  applied TEXT NOT NULL,
  failed TEXT NOT NULL,
  halt_reason TEXT,
  published_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS model_sensors (
  id TEXT PRIMARY KEY,
  channel TEXT, model_id TEXT, seq INTEGER, state TEXT, reason TEXT, message TEXT,
  updated_ms INTEGER NOT NULL
);
`;

export class SqliteRolloutStore implements RolloutPersistence {
  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
  }

  loadReleases(): PersistedRelease[] {
    const rows = this.db.prepare('SELECT * FROM model_releases ORDER BY channel').all() as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      channel: String(r.channel),
      seq: Number(r.seq),
      envelope: new Uint8Array(r.envelope as Buffer),
      payload: new Uint8Array(r.payload as Buffer),
      state: String(r.state) as PersistedRelease['state'],
      admitted: JSON.parse(String(r.admitted)) as string[],
      applied: JSON.parse(String(r.applied)) as string[],
      failed: JSON.parse(String(r.failed)) as Record<string, string>,
      haltReason: r.halt_reason === null ? undefined : String(r.halt_reason),
      publishedMs: Number(r.published_ms),
    }));
  }

  /** A new release replaces the channel's row (payload included) and is added to the history. */
  saveRelease(r: PersistedRelease, history: ModelHistoryRow): void {
    this.db.transaction(() => {
      this.db.prepare(
        `INSERT OR REPLACE INTO model_releases (channel, seq, model_id, envelope, payload, state, admitted, applied, failed, halt_reason, published_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(r.channel, r.seq, history.model_id, Buffer.from(r.envelope), Buffer.from(r.payload), r.state, JSON.stringify(r.admitted),
        JSON.stringify(r.applied), JSON.stringify(r.failed), r.haltReason ?? null, r.publishedMs);
      this.db.prepare(
        `INSERT OR REPLACE INTO models (id, channel, sequence, sha256, size, schema_id, created_at, expires_at, manifest)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(`${r.channel}:${r.seq}`, r.channel, r.seq, history.sha256, history.size, history.schema_id, history.created_ms, history.expires_ms,
        JSON.stringify({ model_id: history.model_id, classes: history.classes, rollout_percent: history.rollout_percent }));
    })();
  }

  /** Rollout progress only (the payload does not change). */
  saveRollout(r: Omit<PersistedRelease, 'envelope' | 'payload' | 'publishedMs'>): void {
    this.db.prepare('UPDATE model_releases SET state = ?, admitted = ?, applied = ?, failed = ?, halt_reason = ? WHERE channel = ? AND seq = ?')
      .run(r.state, JSON.stringify(r.admitted), JSON.stringify(r.applied), JSON.stringify(r.failed), r.haltReason ?? null, r.channel, r.seq);
  }

  loadSensors(): PersistedSensor[] {
    return (this.db.prepare('SELECT * FROM model_sensors ORDER BY id').all() as Array<Record<string, unknown>>).map((r) => ({
      id: String(r.id),
      channel: r.channel === null ? undefined : String(r.channel),
      modelId: r.model_id === null ? undefined : String(r.model_id),
      seq: r.seq === null ? undefined : Number(r.seq),
      lastState: r.state === null ? undefined : (String(r.state) as PersistedSensor['lastState']),
      lastReason: r.reason === null ? undefined : String(r.reason),
      lastMessage: r.message === null ? undefined : String(r.message),
      updatedMs: Number(r.updated_ms),
    }));
  }

  saveSensor(s: PersistedSensor): void {
    this.db.prepare(
      `INSERT OR REPLACE INTO model_sensors (id, channel, model_id, seq, state, reason, message, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(s.id, s.channel ?? null, s.modelId ?? null, s.seq ?? null, s.lastState ?? null, s.lastReason ?? null, s.lastMessage ?? null, s.updatedMs);
  }

  /** Release history, newest first per channel, with the model id kept in the manifest summary. */
  history(): Array<Record<string, unknown>> {
    return this.db.prepare(
      `SELECT id, channel, sequence, sha256, size, schema_id, created_at, expires_at, json_extract(manifest, '$.model_id') AS model_id
       FROM models ORDER BY channel, sequence DESC`,
    ).all() as Array<Record<string, unknown>>;
  }
}

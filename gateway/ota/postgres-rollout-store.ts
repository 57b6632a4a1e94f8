/**
 * Rollout state of model distribution in PostgreSQL (the same tables as model-store.ts keeps in SQLite), for
 * the worker that leads: it reads everything once when it takes the lead, and writes behind, in order, as the
 * distributor changes it (the distributor's persistence is synchronous). A new leader therefore goes on with a
 * rollout where the previous one left it: release, admitted sensors, who applied and who failed.
 */
import type pg from 'pg';
import type { Logger } from '../../common/log.js';
import type { ModelHistoryRow, PersistedRelease, PersistedSensor, RolloutPersistence } from './distributor.js';

export class PostgresRolloutStore implements RolloutPersistence {
  private writes: Promise<unknown> = Promise.resolve();

  private constructor(private readonly pool: pg.Pool, private readonly releases: PersistedRelease[],
    private readonly sensors: PersistedSensor[], private readonly log: Logger) {}

  static async load(pool: pg.Pool, log: Logger): Promise<PostgresRolloutStore> {
    const rel = await pool.query('SELECT * FROM model_releases ORDER BY channel');
    const sen = await pool.query('SELECT * FROM model_sensors ORDER BY id');
    const releases = (rel.rows as Array<Record<string, unknown>>).map((r) => ({
      channel: String(r.channel), seq: Number(r.seq), envelope: new Uint8Array(r.envelope as Buffer), payload: new Uint8Array(r.payload as Buffer),
      state: String(r.state) as PersistedRelease['state'], admitted: JSON.parse(String(r.admitted)) as string[], applied: JSON.parse(String(r.applied)) as string[],
      failed: JSON.parse(String(r.failed)) as Record<string, string>, haltReason: r.halt_reason === null ? undefined : String(r.halt_reason),
      publishedMs: Number(r.published_ms),
    }));
    const opt = (v: unknown) => (v === null ? undefined : String(v));
    const sensors = (sen.rows as Array<Record<string, unknown>>).map((r) => ({
      id: String(r.id), channel: opt(r.channel), modelId: opt(r.model_id), seq: r.seq === null ? undefined : Number(r.seq),
      lastState: opt(r.state) as PersistedSensor['lastState'], lastReason: opt(r.reason), lastMessage: opt(r.message), updatedMs: Number(r.updated_ms),
    }));
    return new PostgresRolloutStore(pool, releases, sensors, log);
  }

  loadReleases(): PersistedRelease[] { return this.releases; }
  loadSensors(): PersistedSensor[] { return this.sensors; }

  /** Queues one write after the previous ones (order matters: a rollout update must not overtake its release). */
  private write(sql: string, args: unknown[]): void {
    this.writes = this.writes.then(() => this.pool.query(sql, args)).catch((e) => this.log.error({ err: e }, 'writing rollout state failed'));
  }

  /** Resolves once every write queued so far is done. */
  async flushed(): Promise<void> {
    await this.writes;
  }

  saveRelease(r: PersistedRelease, h: ModelHistoryRow): void {
    this.write(
      `INSERT INTO model_releases (channel, seq, model_id, envelope, payload, state, admitted, applied, failed, halt_reason, published_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (channel) DO UPDATE SET seq = excluded.seq, model_id = excluded.model_id, envelope = excluded.envelope, payload = excluded.payload,
         state = excluded.state, admitted = excluded.admitted, applied = excluded.applied, failed = excluded.failed, halt_reason = excluded.halt_reason,
         published_ms = excluded.published_ms`,
      [r.channel, r.seq, h.model_id, Buffer.from(r.envelope), Buffer.from(r.payload), r.state, JSON.stringify(r.admitted), JSON.stringify(r.applied),
        JSON.stringify(r.failed), r.haltReason ?? null, r.publishedMs],
    );
    this.write(
      `INSERT INTO models (id, channel, sequence, sha256, size, schema_id, created_at, expires_at, manifest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (id) DO NOTHING`,
      [`${r.channel}:${r.seq}`, r.channel, r.seq, h.sha256, h.size, h.schema_id, h.created_ms, h.expires_ms,
        JSON.stringify({ model_id: h.model_id, classes: h.classes, rollout_percent: h.rollout_percent })],
    );
  }

  saveRollout(r: Omit<PersistedRelease, 'envelope' | 'payload' | 'publishedMs'>): void {
    this.write('UPDATE model_releases SET state = $1, admitted = $2, applied = $3, failed = $4, halt_reason = $5 WHERE channel = $6 AND seq = $7',
      [r.state, JSON.stringify(r.admitted), JSON.stringify(r.applied), JSON.stringify(r.failed), r.haltReason ?? null, r.channel, r.seq]);
  }

  saveSensor(s: PersistedSensor): void {
    this.write(
      `INSERT INTO model_sensors (id, channel, model_id, seq, state, reason, message, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (id) DO UPDATE SET channel = excluded.channel, model_id = excluded.model_id, seq = excluded.seq, state = excluded.state,
         reason = excluded.reason, message = excluded.message, updated_ms = excluded.updated_ms`,
      [s.id, s.channel ?? null, s.modelId ?? null, s.seq ?? null, s.lastState ?? null, s.lastReason ?? null, s.lastMessage ?? null, s.updatedMs],
    );
  }
}

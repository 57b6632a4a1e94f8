/**
 * The PostgreSQL schema, as numbered steps: `schema_version` holds the steps applied; each runs once in its own
 * transaction, under an advisory lock so that workers starting together do not race. The tables are those of the
 * SQLite store (gateway/store.ts and its migrations, alert history, rollout and response state), in PostgreSQL
 * types: BIGINT for milliseconds and counts, the JSON bodies kept as text exactly as SQLite keeps them.
 * Append new steps at the end; never edit one that has shipped.
 */
import type pg from 'pg';

const MIGRATIONS: string[] = [
  `
  CREATE TABLE events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    sensor TEXT NOT NULL, ts BIGINT NOT NULL, received BIGINT NOT NULL,
    src_ip TEXT NOT NULL, src_port INTEGER NOT NULL, dst_ip TEXT NOT NULL, dst_port INTEGER NOT NULL, proto INTEGER NOT NULL,
    vlan INTEGER NOT NULL, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, end_reason TEXT NOT NULL,
    s2d_packets BIGINT NOT NULL, s2d_bytes BIGINT NOT NULL, d2s_packets BIGINT NOT NULL, d2s_bytes BIGINT NOT NULL,
    class TEXT NOT NULL, severity INTEGER NOT NULL, score DOUBLE PRECISION NOT NULL, anomaly DOUBLE PRECISION NOT NULL, model TEXT NOT NULL,
    body TEXT NOT NULL
  );
  CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL, class TEXT NOT NULL, src_ip TEXT NOT NULL, dest_ip TEXT NOT NULL DEFAULT '', merged_into TEXT,
    severity INTEGER NOT NULL, status TEXT NOT NULL,
    first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
    event_count BIGINT NOT NULL, sensors TEXT NOT NULL, body TEXT NOT NULL,
    triage TEXT NOT NULL DEFAULT 'new', triage_ts BIGINT, triage_actor TEXT, triage_note TEXT
  );
  CREATE INDEX alerts_sev ON alerts (severity, id);
  CREATE INDEX alerts_class ON alerts (class, id);
  CREATE INDEX alerts_src ON alerts (src_ip, id);
  CREATE INDEX alerts_last ON alerts (last_seen);
  CREATE INDEX alerts_open ON alerts (status) WHERE status = 'open';
  CREATE TABLE alert_events (alert_id TEXT NOT NULL, event_seq BIGINT NOT NULL, PRIMARY KEY (alert_id, event_seq));
  CREATE INDEX alert_events_seq ON alert_events (event_seq);
  CREATE TABLE alert_history (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, alert_id TEXT NOT NULL, ts BIGINT NOT NULL, kind TEXT NOT NULL,
    actor TEXT NOT NULL, note TEXT, detail TEXT
  );
  CREATE INDEX alert_history_alert ON alert_history (alert_id, id);
  CREATE TABLE sensors (
    id TEXT PRIMARY KEY, state TEXT NOT NULL, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, status_ts BIGINT,
    model TEXT, counters TEXT NOT NULL DEFAULT '{}', events BIGINT NOT NULL DEFAULT 0, rejected BIGINT NOT NULL DEFAULT 0
  );
  CREATE TABLE models (
    id TEXT PRIMARY KEY, channel TEXT NOT NULL, sequence BIGINT NOT NULL, sha256 TEXT NOT NULL, size BIGINT NOT NULL,
    schema_id TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT, manifest TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX models_channel ON models (channel, sequence);
  CREATE TABLE model_releases (
    channel TEXT PRIMARY KEY, seq BIGINT NOT NULL, model_id TEXT NOT NULL, envelope BYTEA NOT NULL, payload BYTEA NOT NULL,
    state TEXT NOT NULL, admitted TEXT NOT NULL, applied TEXT NOT NULL, failed TEXT NOT NULL, halt_reason TEXT, published_ms BIGINT NOT NULL
  );
  CREATE TABLE model_sensors (
    id TEXT PRIMARY KEY, channel TEXT, model_id TEXT, seq BIGINT, state TEXT, reason TEXT, message TEXT, updated_ms BIGINT NOT NULL
  );
  CREATE TABLE response_actions (
    id TEXT PRIMARY KEY, alert_id TEXT NOT NULL, playbook TEXT NOT NULL, sensor TEXT NOT NULL, kind TEXT NOT NULL,
    src TEXT NOT NULL, dst TEXT, ttl_ms BIGINT NOT NULL, mode TEXT NOT NULL, state TEXT NOT NULL, reason TEXT,
    created_ms BIGINT NOT NULL, started_ms BIGINT, until_ms BIGINT, ended_ms BIGINT, sensor_result TEXT
  );
  CREATE INDEX response_actions_state ON response_actions (state);
  CREATE INDEX response_actions_alert ON response_actions (alert_id);
  CREATE TABLE response_history (
    n BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, action_id TEXT NOT NULL, alert_id TEXT NOT NULL, ts BIGINT NOT NULL,
    event TEXT NOT NULL, detail TEXT
  );
  CREATE INDEX response_history_alert ON response_history (alert_id);
  CREATE INDEX response_history_action ON response_history (action_id);
  CREATE TABLE cursors (name TEXT PRIMARY KEY, seq BIGINT NOT NULL);
  CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_ms BIGINT NOT NULL);
  `,
  // Alert messages to publish, written with the correlation commit that made them; deleted after the broker's PUBACK.
  `
  CREATE TABLE alert_announcements (
    n BIGINT GENERATED ALWAYS AS IDENTITY, alert_id TEXT NOT NULL, version BIGINT NOT NULL, reason TEXT NOT NULL,
    sensor TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (alert_id, version)
  );
  CREATE INDEX alert_announcements_n ON alert_announcements (n);
  `,
];

/** Any constant: the key of the advisory lock migrations run under. */
const MIGRATION_LOCK = 0x6e73_6d67;

/** Brings the database to the current version; returns the version it found. */
export async function migratePostgres(pool: pg.Pool): Promise<number> {
  const c = await pool.connect();
  try {
    await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await c.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_ms BIGINT NOT NULL)');
    const found = Number((await c.query('SELECT coalesce(max(version), 0) AS v FROM schema_version')).rows[0].v);
    for (let v = found; v < MIGRATIONS.length; v++) {
      await c.query('BEGIN');
      try {
        await c.query(MIGRATIONS[v]);
        await c.query('INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)', [v + 1, Date.now()]);
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK');
        throw e;
      }
    }
    return found;
  } finally {
    await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    c.release();
  }
}

export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

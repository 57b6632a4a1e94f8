/**
 * Schema changes of the gateway's database after its first release, in order. `PRAGMA user_version` holds how
 * many have run; each runs once, in its own transaction, so a database of any earlier version opens as the
 * current one (and an interrupted migration leaves it at the version before).
 * Append new steps at the end; never edit one that has shipped.
 */
import type Database from 'better-sqlite3';

const MIGRATIONS: Array<(db: Database.Database) => void> = [
  // 1: triage. Destination and merge target as columns (filters without parsing every body); the triage state
  // next to the body, which correlation rewrites; the alert history any part of the gateway can append to.
  // No index on dest_ip and no triggers: each measured as a third or more off alert writes on the ingest path.
  (db) => {
    db.exec(`
      ALTER TABLE alerts ADD COLUMN dest_ip TEXT NOT NULL DEFAULT '';
      ALTER TABLE alerts ADD COLUMN merged_into TEXT;
      ALTER TABLE alerts ADD COLUMN triage TEXT NOT NULL DEFAULT 'new';
      ALTER TABLE alerts ADD COLUMN triage_ts INTEGER;
      ALTER TABLE alerts ADD COLUMN triage_actor TEXT;
      ALTER TABLE alerts ADD COLUMN triage_note TEXT;
      UPDATE alerts SET dest_ip = coalesce(json_extract(body, '$.dest_ip'), ''), merged_into = json_extract(body, '$.merged_into');

      CREATE TABLE alert_history (
        id INTEGER PRIMARY KEY,
        alert_id TEXT NOT NULL,
        ts INTEGER NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        note TEXT,
        detail TEXT
      );
      CREATE INDEX alert_history_alert ON alert_history(alert_id, id);
    `);
  },
  // 2: the correlation cursor and leases (gateway/store/event-store.ts): the same tables PostgreSQL has, so both
  // stores answer the same questions; with one process on SQLite it always holds the lease.
  (db) => {
    db.exec(`
      CREATE TABLE cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
      CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_ms INTEGER NOT NULL);
    `);
  },
];

/** Brings the database to the current version (the base schema must exist already). */
export function migrate(db: Database.Database): void {
  const at = db.pragma('user_version', { simple: true }) as number;
  for (let v = at; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      MIGRATIONS[v](db);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

export const SCHEMA_VERSION = MIGRATIONS.length;

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
  (db) => {
    db.exec(`
      ALTER TABLE alerts ADD COLUMN dest_ip TEXT NOT NULL DEFAULT '';
      ALTER TABLE alerts ADD COLUMN merged_into TEXT;
      ALTER TABLE alerts ADD COLUMN triage TEXT NOT NULL DEFAULT 'new';
      ALTER TABLE alerts ADD COLUMN triage_ts INTEGER;
      ALTER TABLE alerts ADD COLUMN triage_actor TEXT;
      ALTER TABLE alerts ADD COLUMN triage_note TEXT;
      UPDATE alerts SET dest_ip = coalesce(json_extract(body, '$.dest_ip'), ''), merged_into = json_extract(body, '$.merged_into');
      CREATE INDEX alerts_dest ON alerts(dest_ip, id);

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

      -- A closed alert that fires again (correlation adds events to it) is reopened, in the same transaction
      -- as the write that carries the new events; its time is the gateway time of that update.
      CREATE TRIGGER alerts_reopen AFTER UPDATE OF event_count ON alerts
      WHEN OLD.triage = 'closed' AND NEW.event_count > OLD.event_count
      BEGIN
        UPDATE alerts SET triage = 'reopened', triage_ts = NEW.updated_at, triage_actor = 'gateway', triage_note = NULL WHERE id = NEW.id;
        INSERT INTO alert_history (alert_id, ts, kind, actor, detail)
        VALUES (NEW.id, NEW.updated_at, 'reopened', 'gateway',
          json_object('event_count_at_close', OLD.event_count, 'event_count', NEW.event_count, 'last_seen', NEW.last_seen));
      END;

      -- Retention removes an alert's history with the alert.
      CREATE TRIGGER alerts_history_delete AFTER DELETE ON alerts
      BEGIN
        DELETE FROM alert_history WHERE alert_id = OLD.id;
      END;
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

/**
 * The site baseline's persistence (detection/baseline.ts) in the sensor's SQLite database, beside the outbox, so
 * that what was learned — and when learning started — survives restarts. Its own connection and tables; writes are
 * small and batched by the baseline itself (an endpoint's count is written every 16 flows, not per flow).
 */
import Database from 'better-sqlite3';
import { NetsensorError } from '../common/errors.js';
import type { BaselinePersistence, Endpoint } from '../detection/baseline.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS baseline_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS baseline_endpoints (
  device TEXT NOT NULL, peer TEXT NOT NULL, port INTEGER NOT NULL, proto INTEGER NOT NULL,
  flows INTEGER NOT NULL, first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,
  PRIMARY KEY (device, peer, port, proto)
) WITHOUT ROWID;
`;

export class BaselineStore implements BaselinePersistence {
  private readonly db: Database.Database;
  private readonly stmt: { start: Database.Statement; upsert: Database.Statement };
  private readonly dirty = new Map<string, Endpoint>();
  private readonly writeTx: (rows: Endpoint[]) => void;

  constructor(path: string) {
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL'); // losing the last few learned endpoints in a power cut costs nothing
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(SCHEMA);
    } catch (e) {
      throw new NetsensorError('ERR_OUTBOX', `cannot open the baseline in ${path}: ${(e as Error).message}`, { cause: e });
    }
    this.stmt = {
      start: this.db.prepare("INSERT INTO baseline_meta (key, value) VALUES ('learn_start_ms', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
      upsert: this.db.prepare(`INSERT INTO baseline_endpoints (device, peer, port, proto, flows, first_ms, last_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(device, peer, port, proto) DO UPDATE SET flows = excluded.flows, last_ms = excluded.last_ms`),
    };
    this.writeTx = this.db.transaction((rows: Endpoint[]) => {
      for (const e of rows) this.stmt.upsert.run(e.device, e.peer, e.port, e.proto, e.flows, Math.round(e.firstMs), Math.round(e.lastMs));
    });
  }

  /** Writes the endpoints changed since the last flush, in one transaction. */
  flush(): void {
    if (this.dirty.size === 0) return;
    const rows = [...this.dirty.values()];
    this.dirty.clear();
    this.writeTx(rows);
  }

  /** What a previous run learned. */
  restore(): { startMs?: number; endpoints: Endpoint[] } {
    const start = this.db.prepare("SELECT value FROM baseline_meta WHERE key = 'learn_start_ms'").get() as { value: number } | undefined;
    const endpoints = (this.db.prepare('SELECT device, peer, port, proto, flows, first_ms AS firstMs, last_ms AS lastMs FROM baseline_endpoints').all()) as Endpoint[];
    return { startMs: start?.value, endpoints };
  }

  saveStart(startMs: number): void { this.stmt.start.run(Math.round(startMs)); }

  /** Remembers a changed endpoint (the same object: its latest counts are written at the next flush). */
  upsert(e: Endpoint): void { this.dirty.set(`${e.device}|${e.peer}|${e.port}|${e.proto}`, e); }

  clear(): void {
    this.dirty.clear();
    this.db.exec("DELETE FROM baseline_endpoints; DELETE FROM baseline_meta;");
  }

  close(): void {
    this.flush();
    this.db.close();
  }
}

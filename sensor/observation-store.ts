/**
 * Local observations: flows that gave evidence but fed no published episode (detection/episodes.ts). They never go
 * on the alerts topic; they stay on the sensor, in its SQLite database beside the outbox, bounded to the newest
 * `maxRows`, queryable with `netsensor sensor observations`. At most `perFlush` are kept between two flushes (a second):
 * a storm of weak evidence is counted (`skipped`), not written row by row.
 */
import Database from 'better-sqlite3';
import { NetsensorError } from '../common/errors.js';
import type { FlowVerdict } from '../detection/evidence.js';

/** Observations keep no feature row (the table has no column for it). */
const NO_ROW = new Float32Array(0);

const SCHEMA = `
CREATE TABLE IF NOT EXISTS observations (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  last_seen_ms INTEGER NOT NULL, src_ip TEXT NOT NULL, dst_ip TEXT NOT NULL, dst_port INTEGER NOT NULL, proto INTEGER NOT NULL,
  class TEXT NOT NULL, score REAL NOT NULL, anomaly REAL NOT NULL, packets INTEGER NOT NULL, bytes INTEGER NOT NULL
);
`;

export interface Observation {
  seq: number; last_seen_ms: number; src_ip: string; dst_ip: string; dst_port: number; proto: number;
  class: string; score: number; anomaly: number; packets: number; bytes: number;
}

export class ObservationStore {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly addTx: (rows: FlowVerdict[]) => void;
  private sinceTrim = 0;

  constructor(path: string, private readonly maxRows = 100_000, readonly = false) {
    try {
      this.db = new Database(path, { readonly, fileMustExist: readonly });
      if (!readonly) {
        this.db.pragma('journal_mode = WAL');
        this.db.pragma('synchronous = NORMAL'); // observations are diagnostics: the last ones may go in a power cut
        this.db.pragma('busy_timeout = 5000');
        this.db.exec(SCHEMA);
      }
    } catch (e) {
      throw new NetsensorError('ERR_OUTBOX', `cannot open the observations in ${path}: ${(e as Error).message}`, { cause: e });
    }
    this.insert = readonly ? (undefined as unknown as Database.Statement) : this.db.prepare(
      'INSERT INTO observations (last_seen_ms, src_ip, dst_ip, dst_port, proto, class, score, anomaly, packets, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.addTx = this.db.transaction((rows: FlowVerdict[]) => {
      for (const v of rows) {
        const f = v.flow;
        this.insert.run(Math.round(f.last_seen_ms), f.src_ip, f.dst_ip, f.dst_port, f.proto, v.alertClass ?? 'rule',
          Math.round(v.score * 1e4) / 1e4, Math.round(v.anomaly * 1e4) / 1e4, f.src2dst_packets + f.dst2src_packets, f.src2dst_bytes + f.dst2src_bytes);
      }
      this.sinceTrim += rows.length;
      if (this.sinceTrim >= 1024) {
        this.sinceTrim = 0;
        this.db.prepare('DELETE FROM observations WHERE seq <= (SELECT max(seq) FROM observations) - ?').run(this.maxRows);
      }
    });
  }

  private pending: FlowVerdict[] = [];
  /** Observations not stored because more than `perFlush` came between two flushes. */
  skipped = 0;
  perFlush = 1000;

  /**
   * Buffers a copy of one observation (the pipeline reuses its verdict object row after row); written in one
   * transaction per flush() (the sensor's one-second tick).
   */
  push(v: FlowVerdict): void {
    if (this.pending.length >= this.perFlush) { this.skipped += 1; return; }
    this.pending.push({ ...v, flow: { ...v.flow }, row: NO_ROW, top: [] });
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const rows = this.pending;
    this.pending = [];
    this.addTx(rows);
  }

  /** The newest first, optionally since a flow time and of one class. */
  query(o: { limit: number; sinceMs?: number; cls?: string }): Observation[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (o.sinceMs !== undefined) { where.push('last_seen_ms >= ?'); args.push(o.sinceMs); }
    if (o.cls) { where.push('class = ?'); args.push(o.cls); }
    let sql = 'SELECT * FROM observations';
    if (where.length) sql += ` WHERE ${where.join(' AND ')}`;
    sql += ' ORDER BY seq DESC LIMIT ?';
    try {
      return this.db.prepare(sql).all(...args, o.limit) as Observation[];
    } catch (e) {
      if (/no such table/.test((e as Error).message)) return [];
      throw e;
    }
  }

  close(): void {
    if (!this.db.readonly) this.flush();
    this.db.close();
  }
}

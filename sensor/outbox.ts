/**
 * Store-and-forward outbox (better-sqlite3, WAL): an event is committed here before it is published and
 * deleted only after the broker acknowledged (PUBACK) the batch that carried it.
 *
 * Durability: journal_mode=WAL + synchronous=FULL. In WAL mode NORMAL already survives a crash of the
 * process (kill -9: the WAL is in the OS page cache and is replayed on the next open) but may lose the last
 * transactions on power loss; FULL fsyncs the WAL at every commit, so a committed event also survives a
 * power cut — what an edge box on a flaky supply needs. The cost is one fsync per commit, which is why events
 * are added in batches (one transaction per scored batch of flows) and acknowledgements are deleted per MQTT
 * batch, with synchronous=NORMAL (a delete lost on a power cut only re-sends events the gateway de-duplicates).
 *
 * Bound: at most `maxRows` events and `maxBytes` encoded bytes. On overflow, inside the same transaction,
 * the oldest lowest-severity events are dropped first (severity 3 = low before 2 before 1, oldest first within
 * a severity); events on the wire (in flight) are never dropped. The number dropped is persisted in `meta`.
 */
import Database from 'better-sqlite3';
import { encode as cborEncode, decode as cborDecode } from 'cbor-x';
import { NetsensorError } from '../common/errors.js';
import type { RiskEvent } from '../protocol/event.js';

export interface OutboxOptions {
  maxRows: number;
  maxBytes: number;
  /** An event larger than this can never fit a batch: it is dropped (and counted) at add time. */
  maxEventBytes: number;
  synchronous?: 'FULL' | 'NORMAL';
}

export interface OutboxBatch {
  seqs: number[];
  /** The events' stored CBOR encodings, as they go on the wire (see forwarder.ts). */
  bodies: Uint8Array[];
  /** When each row was committed (ms). */
  createdMs: number[];
  /** Decoded on first use: the publisher path needs only the bodies. */
  readonly events: RiskEvent[];
  bytes: number;
}

function batchOf(): OutboxBatch {
  let decoded: RiskEvent[] | undefined;
  return {
    seqs: [], bodies: [], createdMs: [], bytes: 0,
    get events() { return (decoded ??= this.bodies.map((b) => cborDecode(b) as RiskEvent)); },
  };
}

export interface AddResult { added: number; dropped: number }

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  id         TEXT    NOT NULL UNIQUE,
  severity   INTEGER NOT NULL,
  bytes      INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  body       BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS events_drop_order ON events (severity DESC, seq ASC);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
`;

export class Outbox {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly opts: OutboxOptions;
  private rows = 0;
  private totalBytes = 0;
  private droppedTotal = 0;
  /** Rows handed to the publisher and not yet acknowledged or released. */
  private readonly inFlight = new Set<number>();
  /** next() returns rows above this; rewound to 0 by releaseAll() so unacknowledged rows go out again. */
  private cursor = 0;
  private readonly stmt: {
    insert: Database.Statement;
    del: Database.Statement;
    page: Database.Statement;
    dropOrder: Database.Statement;
    setMeta: Database.Statement;
    syncNormal: Database.Statement;
    syncFull: Database.Statement;
  };
  private readonly synchronous: 'FULL' | 'NORMAL';
  private readonly addTx: (events: RiskEvent[]) => AddResult;
  private readonly ackTx: (seqs: number[]) => number;

  constructor(path: string, opts: OutboxOptions) {
    this.path = path;
    this.opts = opts;
    this.synchronous = opts.synchronous ?? 'FULL';
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(SCHEMA);
    } catch (e) {
      throw new NetsensorError('ERR_OUTBOX', `cannot open outbox ${path}: ${(e as Error).message}`, { cause: e });
    }
    const count = this.db.prepare('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM events').get() as { n: number; b: number };
    this.rows = count.n;
    this.totalBytes = count.b;
    this.droppedTotal = (this.db.prepare("SELECT value FROM meta WHERE key = 'dropped'").get() as { value: number } | undefined)?.value ?? 0;
    this.stmt = {
      insert: this.db.prepare('INSERT OR IGNORE INTO events (id, severity, bytes, created_ms, body) VALUES (?, ?, ?, ?, ?)'),
      del: this.db.prepare('DELETE FROM events WHERE seq = ? RETURNING bytes'),
      page: this.db.prepare('SELECT seq, bytes, created_ms, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?'),
      dropOrder: this.db.prepare('SELECT seq FROM events ORDER BY severity DESC, seq ASC LIMIT ?'),
      setMeta: this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      syncNormal: this.db.prepare('PRAGMA synchronous = NORMAL'),
      syncFull: this.db.prepare('PRAGMA synchronous = FULL'),
    };
    this.addTx = this.db.transaction((events: RiskEvent[]) => this.addInTx(events));
    this.ackTx = this.db.transaction((seqs: number[]) => {
      let n = 0;
      for (const s of seqs) n += this.deleteRow(s) ? 1 : 0;
      return n;
    });
  }

  get depth(): number { return this.rows; }
  get bytes(): number { return this.totalBytes; }
  get dropped(): number { return this.droppedTotal; }
  get inFlightCount(): number { return this.inFlight.size; }

  /** Commits events (one transaction, fsynced) and applies the size policy. Returns when durable. */
  add(events: RiskEvent[]): AddResult {
    if (events.length === 0) return { added: 0, dropped: 0 };
    try {
      return this.addTx(events);
    } catch (e) {
      throw new NetsensorError('ERR_OUTBOX', `outbox write failed: ${(e as Error).message}`, { cause: e });
    }
  }

  private addInTx(events: RiskEvent[]): AddResult {
    let added = 0;
    let dropped = 0;
    for (const ev of events) {
      const body = cborEncode(ev);
      if (body.byteLength > this.opts.maxEventBytes) { dropped++; continue; }
      const r = this.stmt.insert.run(ev.id, ev.severity, body.byteLength, Date.now(), body);
      if (r.changes === 1) { added++; this.rows++; this.totalBytes += body.byteLength; }
    }
    dropped += this.enforceBound();
    if (dropped > 0) {
      this.droppedTotal += dropped;
      this.stmt.setMeta.run('dropped', this.droppedTotal);
    }
    return { added, dropped };
  }

  /** Drops oldest lowest-severity rows (never in-flight ones) until both caps hold. Inside a transaction. */
  private enforceBound(): number {
    let dropped = 0;
    while (this.rows > this.opts.maxRows || this.totalBytes > this.opts.maxBytes) {
      const excess = Math.max(this.rows - this.opts.maxRows, 1);
      const candidates = this.stmt.dropOrder.all(excess + this.inFlight.size) as Array<{ seq: number }>;
      let progressed = false;
      for (const { seq } of candidates) {
        if (this.inFlight.has(seq)) continue;
        if (this.rows <= this.opts.maxRows && this.totalBytes <= this.opts.maxBytes) break;
        if (this.deleteRow(seq)) { dropped++; progressed = true; }
      }
      if (!progressed) break; // everything left is in flight: it leaves on PUBACK
    }
    return dropped;
  }

  private deleteRow(seq: number): boolean {
    const r = this.stmt.del.get(seq) as { bytes: number } | undefined;
    this.inFlight.delete(seq);
    if (!r) return false;
    this.rows--;
    this.totalBytes -= r.bytes;
    return true;
  }

  /**
   * The next rows not yet handed out, oldest first, bounded by count and encoded bytes (at least one row if
   * any), marked in flight. Undefined when nothing is pending.
   */
  next(maxEvents: number, maxBytes: number): OutboxBatch | undefined {
    const rows = this.stmt.page.all(this.cursor, maxEvents) as Array<{ seq: number; bytes: number; created_ms: number; body: Buffer }>;
    if (rows.length === 0) return undefined;
    const batch = batchOf();
    for (const r of rows) {
      if (batch.seqs.length > 0 && batch.bytes + r.bytes > maxBytes) break;
      batch.seqs.push(r.seq);
      batch.bodies.push(r.body);
      batch.createdMs.push(r.created_ms);
      batch.bytes += r.bytes;
      this.inFlight.add(r.seq);
    }
    this.cursor = batch.seqs[batch.seqs.length - 1];
    return batch;
  }

  /** The broker acknowledged these rows: delete them (one transaction). Idempotent. */
  ack(seqs: number[]): number {
    // A delete needs no fsync of its own: lost on a power cut, it only means the event is sent again (the
    // gateway de-duplicates by id). WAL + NORMAL still survives kill -9, and the next FULL commit (an add)
    // syncs these frames with it. Without this, every PUBACK cost an fsync.
    const relaxed = this.synchronous === 'FULL';
    if (relaxed) this.stmt.syncNormal.run();
    try {
      return this.ackTx(seqs);
    } catch (e) {
      throw new NetsensorError('ERR_OUTBOX', `outbox delete failed: ${(e as Error).message}`, { cause: e });
    } finally {
      if (relaxed) this.stmt.syncFull.run();
    }
  }

  /** The connection went away: nothing is in flight any more; every remaining row goes out again. */
  releaseAll(): void {
    this.inFlight.clear();
    this.cursor = 0;
  }

  /** Rows waiting that were not handed out yet. */
  pendingCount(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM events WHERE seq > ?').get(this.cursor) as { n: number }).n;
  }

  /** Checkpoints the WAL into the main file and closes: a clean shutdown leaves one self-contained file. */
  close(): void {
    if (!this.db.open) return;
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.db.close();
    }
  }
}

/**
 * The sensors registry of a worker: every worker sees every status message (status is not a shared
 * subscription) but only its share of the events, so it writes what it saw as increments (events, rejected
 * batches) that the store adds up; reads (the API) come from the store, where all workers' counts meet.
 */
import type { Logger } from '../../common/log.js';
import { parseStatus } from '../../protocol/status.js';
import type { EventStore, SensorRow } from '../store/event-store.js';

export class SensorCounts {
  private pending = new Map<string, SensorRow>();
  badStatus = 0;

  constructor(private readonly store: EventStore, private readonly log: Logger, private readonly now: () => number = Date.now) {}

  private row(id: string): SensorRow {
    let s = this.pending.get(id);
    if (!s) {
      const t = this.now();
      s = { id, state: 'online', first_seen: t, last_seen: t, status_ts: null, model: null, counters: {}, events: 0, rejected: 0 };
      this.pending.set(id, s);
    }
    return s;
  }

  onStatus(id: string, payload: Buffer): void {
    if (payload.length === 0) return;
    const st = parseStatus(payload);
    if (!st) { this.badStatus += 1; this.log.warn({ sensor: id }, 'ignored malformed status payload'); return; }
    const s = this.row(id);
    s.state = st.state;
    s.last_seen = this.now();
    if (st.ts !== undefined) s.status_ts = st.ts;
    if (st.model !== undefined) s.model = st.model;
    if (st.counters !== undefined) s.counters = st.counters;
  }

  onEvents(id: string, stored: number): void {
    const s = this.row(id);
    s.events += stored;
    s.last_seen = this.now();
  }

  onRejected(id: string): void {
    if (!this.pending.has(id) && this.pending.size >= 10_000) return;
    this.row(id).rejected += 1;
  }

  /** Writes the increments gathered since the last flush; kept for the next one if the store fails. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const rows = [...this.pending.values()];
    this.pending = new Map();
    try {
      await this.store.addSensorCounts(rows);
    } catch (e) {
      for (const r of rows) {
        const now = this.pending.get(r.id);
        if (!now) { this.pending.set(r.id, r); continue; }
        now.events += r.events;
        now.rejected += r.rejected;
      }
      throw e;
    }
  }
}

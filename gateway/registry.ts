/**
 * Sensors registry: online/offline from the retained status topic (the sensor's last will says
 * `{"state":"offline"}` when its connection dies), last seen, the sensor's own counters, its model version,
 * and the gateway's per-sensor counts of stored events and rejected batches.
 * Status payloads (protocol/status.ts) may be JSON or CBOR; a malformed one is counted and ignored.
 */
import type { Logger } from '../common/log.js';
import { parseStatus } from '../protocol/status.js';
import type { SensorRow, Store } from './store.js';

export interface SensorView extends SensorRow {
  /** Nothing heard (status or events) for longer than the configured stale time. */
  stale: boolean;
}

export type StatusListener = (s: SensorRow, previousState: string | undefined) => void;

const MAX_SENSORS = 10_000;

export class Registry {
  private readonly sensors = new Map<string, SensorRow>();
  private readonly dirty = new Set<string>();
  private readonly listeners: StatusListener[] = [];
  /** Software versions the sensors reported in their status (kept in memory: the status repeats it). */
  private readonly versions = new Map<string, string>();
  badStatus = 0;

  constructor(private readonly store: Store, private readonly staleMs: number, private readonly log: Logger, private readonly now: () => number = Date.now) {
    for (const s of store.sensors()) this.sensors.set(s.id, s);
  }

  onChange(l: StatusListener): void {
    this.listeners.push(l);
  }

  private get(id: string): SensorRow {
    let s = this.sensors.get(id);
    if (!s) {
      const t = this.now();
      s = { id, state: 'unknown', first_seen: t, last_seen: t, status_ts: null, model: null, counters: {}, events: 0, rejected: 0 };
      this.sensors.set(id, s);
    }
    return s;
  }

  onStatus(id: string, payload: Buffer): void {
    if (payload.length === 0) return; // a retained status being cleared
    const st = parseStatus(payload);
    if (!st) {
      this.badStatus += 1;
      this.log.warn({ sensor: id }, 'ignored malformed status payload');
      return;
    }
    const s = this.get(id);
    const prev = s.state;
    s.state = st.state;
    s.last_seen = this.now();
    if (st.ts !== undefined) s.status_ts = st.ts;
    if (st.model !== undefined) s.model = st.model;
    if (st.version !== undefined) this.versions.set(id, st.version);
    if (st.counters !== undefined) s.counters = st.counters;
    this.store.upsertSensor(s);
    this.dirty.delete(id);
    if (prev !== s.state) this.log.info({ sensor: id, state: s.state }, 'sensor state');
    for (const l of this.listeners) l(s, prev);
  }

  /** A batch was accepted from `id` (delivery itself proves it is alive). */
  onEvents(id: string, stored: number): void {
    const s = this.get(id);
    const prev = s.state;
    s.events += stored;
    s.last_seen = this.now();
    if (s.state === 'unknown') s.state = 'online';
    this.dirty.add(id);
    if (prev !== s.state) for (const l of this.listeners) l(s, prev);
  }

  onRejected(id: string): void {
    // Rejections alone must not grow the registry without bound (a client inventing ids on loopback).
    if (!this.sensors.has(id) && this.sensors.size >= MAX_SENSORS) return;
    const s = this.get(id);
    s.rejected += 1;
    this.dirty.add(id);
  }

  setModel(id: string, model: string): void {
    this.get(id).model = model;
    this.dirty.add(id);
  }

  /** Writes counters changed since the last flush (called periodically and at stop). */
  flush(): void {
    if (this.dirty.size === 0) return;
    this.store.transaction(() => { for (const id of this.dirty) this.store.upsertSensor(this.sensors.get(id)!); });
    this.dirty.clear();
  }

  list(): SensorView[] {
    const t = this.now();
    return [...this.sensors.values()].sort((a, b) => a.id.localeCompare(b.id)).map((s) => ({ ...s, stale: t - s.last_seen > this.staleMs }));
  }

  versionOf(id: string): string | undefined {
    return this.versions.get(id);
  }

  onlineCount(): number {
    let n = 0;
    for (const s of this.sensors.values()) if (s.state === 'online') n++;
    return n;
  }
}

/**
 * The REST API (JSON). Routes:
 *   GET /api/health                 liveness + ingest counters (rejections by reason)
 *   GET /api/alerts                 filters: severity, class, src_ip, dest_ip, sensor, status, triage, merged, since, until;
 *                                   limit + cursor
 *   GET /api/alerts/:id             one alert
 *   GET /api/alerts/:id/events      its events (limit + cursor)
 *   /api/alerts/:id/history, …      triage (acknowledge, close, reopen, note) and history: triage-api.ts
 *   GET /api/sensors                registry
 *   /api/models…                    model distribution: models-api.ts
 *   GET /api/stats                  dashboard aggregates on flow time (timeline, top sources and destinations); since,
 *                                   until, sensor, bucket
 *   GET /metrics                    Prometheus text
 */
import type { AlertQuery, AlertStats, StatsQuery, Store, StoredEvent } from '../store.js';
import type { Registry } from '../registry.js';
import type { Ingest } from '../ingest.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Correlator } from '../correlate.js';
import { TRIAGE_STATES, type TriageState } from '../alert-history.js';
import type { Suppressor } from '../suppression.js';
import { HttpError, RawReply, type HttpServer } from './server.js';

export interface ApiContext {
  store: Store;
  registry: Registry;
  ingest: Ingest;
  correlator: Correlator;
  metrics: GatewayMetrics;
  broker: { kind: string; clients?: () => number };
  startedAt: number;
  /** Marks the alerts an operator suppression holds back (`suppressed_by`). */
  suppressor?: Suppressor;
}

const MAX_LIMIT = 500;
const SENSOR = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function intParam(url: URL, name: string, min: number, max: number): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `${name} must be an integer in [${min}, ${max}]`);
  return n;
}

/** Milliseconds since the epoch, or an ISO 8601 date. */
function timeParam(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new HttpError(400, `${name} must be milliseconds since the epoch or an ISO 8601 time`);
  return n;
}

function strParam(url: URL, name: string, pattern: RegExp): string | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return undefined;
  if (!pattern.test(v)) throw new HttpError(400, `${name} is not valid`);
  return v;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const IP = /^[0-9a-fA-F:.]{2,45}$/;
const DAY = 86_400_000;
/** Timeline buckets the API picks from when none is asked for: the smallest giving at most 48 over the range. */
const BUCKETS = [60_000, 300_000, 900_000, 3_600_000, 3 * 3_600_000, 6 * 3_600_000, 12 * 3_600_000, DAY, 7 * DAY, 30 * DAY, 365 * DAY];

function boolParam(url: URL, name: string): boolean | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return undefined;
  if (v !== 'true' && v !== 'false') throw new HttpError(400, `${name} must be true or false`);
  return v === 'true';
}

/** A comma-separated list of triage states. */
function triageParam(url: URL): TriageState[] | undefined {
  const v = url.searchParams.get('triage');
  if (v === null || v === '') return undefined;
  const states = v.split(',');
  for (const t of states) if (!TRIAGE_STATES.includes(t as TriageState)) throw new HttpError(400, `triage must be a comma-separated list of ${TRIAGE_STATES.join(', ')}`);
  return states as TriageState[];
}

/** GET /api/alerts's filters (the SQLite and the PostgreSQL store answer the same query). */
export function alertQueryOf(url: URL): AlertQuery {
  return {
    severity: intParam(url, 'severity', 1, 3),
    class: strParam(url, 'class', /^[a-z][a-z0-9_]{0,31}$/),
    src_ip: strParam(url, 'src_ip', IP),
    dest_ip: strParam(url, 'dest_ip', IP),
    sensor: strParam(url, 'sensor', SENSOR),
    status: strParam(url, 'status', /^(open|closed)$/),
    triage: triageParam(url),
    merged: boolParam(url, 'merged'),
    since: timeParam(url, 'since'),
    until: timeParam(url, 'until'),
    cursor: strParam(url, 'cursor', UUID),
    limit: intParam(url, 'limit', 1, MAX_LIMIT) ?? 50,
  };
}

/** GET /api/alerts/:id/events: page size and the seq to continue after. */
export function eventPageOf(url: URL): { limit: number; after: number } {
  return { limit: intParam(url, 'limit', 1, MAX_LIMIT) ?? 100, after: intParam(url, 'cursor', 0, Number.MAX_SAFE_INTEGER) ?? 0 };
}

/** `events` read with limit + 1: the page and the cursor of the next one. */
export function eventPage(events: StoredEvent[], limit: number) {
  const page = events.slice(0, limit);
  return { events: page, next_cursor: events.length > limit ? String(page[page.length - 1].seq) : null };
}

/** GET /api/stats's range, bucket (the smallest giving at most 48 over the range unless asked) and sensor. */
export function statsQueryOf(url: URL): StatsQuery {
  const until = timeParam(url, 'until') ?? Date.now();
  const since = timeParam(url, 'since') ?? until - DAY;
  if (since > until) throw new HttpError(400, 'since must not be after until');
  const bucketMs = intParam(url, 'bucket', 1000, 365 * DAY) ?? BUCKETS.find((b) => (until - since) / b <= 48) ?? BUCKETS[BUCKETS.length - 1];
  return { since, until, bucketMs, sensor: strParam(url, 'sensor', SENSOR) };
}

export function statsReply(q: StatsQuery, stats: AlertStats) {
  return { time_basis: 'flow', since: q.since, until: q.until, bucket: q.bucketMs, ...(q.sensor ? { sensor: q.sensor } : {}), ...stats };
}

export function registerApi(http: HttpServer, ctx: ApiContext): void {
  http.route('GET', '/api/health', () => ({
    status: 'ok',
    uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000),
    broker: { kind: ctx.broker.kind, clients: ctx.broker.clients?.() },
    store: { events: ctx.store.countEvents(), bytes: ctx.store.usedBytes() },
    ingest: {
      batches: ctx.ingest.batches, stored: ctx.ingest.stored, duplicates: ctx.ingest.duplicates,
      rejected: { ...ctx.ingest.rejected }, rejected_total: Object.values(ctx.ingest.rejected).reduce((a, b) => a + b, 0),
      bad_status: ctx.registry.badStatus,
    },
    sensors: { online: ctx.registry.onlineCount(), total: ctx.registry.list().length },
    alerts: { open: ctx.correlator.openCount() },
  }));

  http.route('GET', '/api/alerts', (_req, url) => {
    const q = alertQueryOf(url);
    ctx.ingest.persistAlerts();
    const page = ctx.store.queryAlerts(q);
    return ctx.suppressor ? { ...page, alerts: page.alerts.map((a) => ctx.suppressor!.annotate(a)) } : page;
  });

  http.route('GET', '/api/alerts/:id', (_req, _url, p) => {
    if (!UUID.test(p.id)) throw new HttpError(400, 'alert id is not a UUID');
    ctx.ingest.persistAlerts();
    const a = ctx.store.getAlert(p.id);
    if (!a) throw new HttpError(404, `alert ${p.id} not found`);
    return ctx.suppressor ? ctx.suppressor.annotate(a) : a;
  });

  http.route('GET', '/api/alerts/:id/events', (_req, url, p) => {
    if (!UUID.test(p.id)) throw new HttpError(400, 'alert id is not a UUID');
    if (!ctx.store.getAlert(p.id)) throw new HttpError(404, `alert ${p.id} not found`);
    const { limit, after } = eventPageOf(url);
    return eventPage(ctx.store.alertEvents(p.id, limit + 1, after), limit);
  });

  http.route('GET', '/api/sensors', () => ({ sensors: ctx.registry.list() }));

  http.route('GET', '/api/stats', (_req, url) => {
    const q = statsQueryOf(url);
    ctx.ingest.persistAlerts();
    return statsReply(q, ctx.store.stats(q));
  });

  http.route('GET', '/metrics', async () => {
    ctx.metrics.sensorsOnline.set(ctx.registry.onlineCount());
    ctx.metrics.openAlerts.set(ctx.correlator.openCount());
    return new RawReply(ctx.metrics.registry.contentType, await ctx.metrics.registry.metrics());
  });
}

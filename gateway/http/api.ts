/**
 * The REST API (JSON). Routes:
 *   GET /api/health                 liveness + ingest counters (rejections by reason)
 *   GET /api/alerts                 filters: severity, class, src_ip, sensor, status, since, until; limit + cursor
 *   GET /api/alerts/:id             one alert
 *   GET /api/alerts/:id/events      its events (limit + cursor)
 *   GET /api/sensors                registry
 *   /api/models…                    model distribution: models-api.ts
 *   GET /api/stats                  dashboard aggregates (timeline, top sources)
 *   GET /metrics                    Prometheus text
 */
import type { Store } from '../store.js';
import type { Registry } from '../registry.js';
import type { Ingest } from '../ingest.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Correlator } from '../correlate.js';
import { HttpError, RawReply, type HttpServer } from './server.js';

export interface ApiContext {
  store: Store;
  registry: Registry;
  ingest: Ingest;
  correlator: Correlator;
  metrics: GatewayMetrics;
  broker: { kind: string; clients?: () => number };
  startedAt: number;
}

const MAX_LIMIT = 500;

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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

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
    const limit = intParam(url, 'limit', 1, MAX_LIMIT) ?? 50;
    const status = strParam(url, 'status', /^(open|closed)$/);
    ctx.ingest.persistAlerts();
    return ctx.store.queryAlerts({
      severity: intParam(url, 'severity', 1, 3),
      class: strParam(url, 'class', /^[a-z][a-z0-9_]{0,31}$/),
      src_ip: strParam(url, 'src_ip', /^[0-9a-fA-F:.]{2,45}$/),
      sensor: strParam(url, 'sensor', /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/),
      status,
      since: timeParam(url, 'since'),
      until: timeParam(url, 'until'),
      cursor: strParam(url, 'cursor', UUID),
      limit,
    });
  });

  http.route('GET', '/api/alerts/:id', (_req, _url, p) => {
    if (!UUID.test(p.id)) throw new HttpError(400, 'alert id is not a UUID');
    ctx.ingest.persistAlerts();
    const a = ctx.store.getAlert(p.id);
    if (!a) throw new HttpError(404, `alert ${p.id} not found`);
    return a;
  });

  http.route('GET', '/api/alerts/:id/events', (_req, url, p) => {
    if (!UUID.test(p.id)) throw new HttpError(400, 'alert id is not a UUID');
    if (!ctx.store.getAlert(p.id)) throw new HttpError(404, `alert ${p.id} not found`);
    const limit = intParam(url, 'limit', 1, MAX_LIMIT) ?? 100;
    const after = intParam(url, 'cursor', 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const events = ctx.store.alertEvents(p.id, limit + 1, after);
    const page = events.slice(0, limit);
    return { events: page, next_cursor: events.length > limit ? String(page[page.length - 1].seq) : null };
  });

  http.route('GET', '/api/sensors', () => ({ sensors: ctx.registry.list() }));

  http.route('GET', '/api/stats', (_req, url) => {
    const since = timeParam(url, 'since') ?? Date.now() - 24 * 3600_000;
    const bucket = intParam(url, 'bucket', 1000, 86_400_000) ?? 3600_000;
    ctx.ingest.persistAlerts();
    return { since, bucket, ...ctx.store.stats(since, bucket) };
  });

  http.route('GET', '/metrics', async () => {
    ctx.metrics.sensorsOnline.set(ctx.registry.onlineCount());
    ctx.metrics.openAlerts.set(ctx.correlator.openCount());
    return new RawReply(ctx.metrics.registry.contentType, await ctx.metrics.registry.metrics());
  });
}

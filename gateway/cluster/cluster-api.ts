/**
 * The API a worker serves from the shared store: any worker answers, whichever stored the events or leads.
 * Same routes and answers as the single gateway's (http/api.ts) for health, alerts, an alert's events, the
 * dashboard's stats, sensors and metrics (triage: http/triage-api.ts on PostgresAlertHistory); the rest of the
 * single gateway's API (models, response, baselines) is not served by workers yet.
 */
import { alertQueryOf, eventPage, eventPageOf, statsQueryOf, statsReply, UUID } from '../http/api.js';
import { HttpError, RawReply, type HttpServer } from '../http/server.js';
import type { GatewayMetrics } from '../metrics.js';
import type { EventStore } from '../store/event-store.js';
import type { SharedIngest } from './shared-ingest.js';
import type { Suppressor } from '../suppression.js';

export interface ClusterApiContext {
  store: EventStore;
  ingest: SharedIngest;
  metrics: GatewayMetrics;
  worker: { id: string; leader: () => boolean; leaderId: () => Promise<string | undefined>; openAlerts: () => number };
  startedAt: number;
  /** Marks the alerts an operator suppression holds back (`suppressed_by`). */
  suppressor: Suppressor;
}

export function registerClusterApi(http: HttpServer, ctx: ClusterApiContext): void {
  http.route('GET', '/api/health', async () => {
    const sensors = await ctx.store.sensors();
    return {
      status: 'ok',
      uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000),
      broker: { kind: 'external' },
      store: { backend: ctx.store.backend, events: await ctx.store.countEvents() },
      worker: { id: ctx.worker.id, leader: ctx.worker.leader(), leader_id: (await ctx.worker.leaderId()) ?? null },
      ingest: {
        batches: ctx.ingest.batches, stored: ctx.ingest.stored, duplicates: ctx.ingest.duplicates,
        rejected: { ...ctx.ingest.rejected }, rejected_total: Object.values(ctx.ingest.rejected).reduce((a, b) => a + b, 0),
      },
      sensors: { online: sensors.filter((s) => s.state === 'online').length, total: sensors.length },
      alerts: { open: ctx.worker.openAlerts() },
    };
  });

  http.route('GET', '/api/alerts', async (_req, url) => {
    const page = await ctx.store.queryAlerts(alertQueryOf(url));
    return { ...page, alerts: page.alerts.map((a) => ctx.suppressor.annotate(a)) };
  });

  http.route('GET', '/api/alerts/:id', async (_req, _url, p) => {
    if (!UUID.test(p.id)) throw new HttpError(400, 'alert id is not a UUID');
    const a = await ctx.store.getAlert(p.id);
    if (!a) throw new HttpError(404, `alert ${p.id} not found`);
    return ctx.suppressor.annotate(a);
  });

  http.route('GET', '/api/alerts/:id/events', async (_req, url, p) => {
    if (!UUID.test(p.id)) throw new HttpError(400, 'alert id is not a UUID');
    if (!(await ctx.store.getAlert(p.id))) throw new HttpError(404, `alert ${p.id} not found`);
    const { limit, after } = eventPageOf(url);
    return eventPage(await ctx.store.alertEvents(p.id, limit + 1, after), limit);
  });

  http.route('GET', '/api/stats', async (_req, url) => {
    const q = statsQueryOf(url);
    return statsReply(q, await ctx.store.stats(q));
  });

  http.route('GET', '/api/sensors', async () => ({ sensors: await ctx.store.sensors() }));

  http.route('GET', '/metrics', async () => new RawReply(ctx.metrics.registry.contentType, await ctx.metrics.registry.metrics()));
}

/**
 * Playbooks at work (docs/response.md): each alert change is matched against the playbooks; a match becomes an
 * action per sensor that reported the alert, inside the guard rails (allowlist, no anomaly-only alerts unless
 * configured, no single source for fan_in alerts, caps on active actions and on actions per minute). Then, by
 * mode: dry-run records it; approve waits for a person (API); auto signs and sends it at once. Every step goes
 * to the action's history, to MQTT (netsensor/v1/responses/<sensor>) and to the metrics; expiry and undo too.
 */
import { networkInterfaces } from 'node:os';
import { Counter, Gauge, type Registry } from 'prom-client';
import { v7 as uuidv7 } from 'uuid';
import { addressList, type AddressList } from '../../common/address-list.js';
import type { Logger } from '../../common/log.js';
import type { ActionSpec, ResponseReport } from '../../protocol/command.js';
import { ID_PATTERN, topics } from '../../protocol/topics.js';
import type { NewHistoryEntry } from '../alert-history.js';
import type { Alert } from '../alert-types.js';
import type { Bus } from '../bus.js';
import type { GatewayConfig } from '../config.js';
import type { AlertChange } from '../correlate.js';
import type { ActionRecord, ActionState, ActionStore } from './action-store.js';
import type { CommandSigner } from './command-signer.js';
import { matches, type Playbook } from './playbooks.js';

/** An API request the action's state does not allow (404 unknown, 409 wrong state). */
export class ResponseRequestError extends Error {
  constructor(readonly status: 404 | 409, message: string) { super(message); }
}

const TICK_MS = 250;

export class ResponseEngine {
  private readonly allow: AddressList;
  private timer?: NodeJS.Timeout;
  private readonly sending = new Set<Promise<void>>();
  private readonly metrics: { actions: Counter<'kind' | 'mode' | 'state'>; reports: Counter<'result' | 'reason'>; active: Gauge };

  constructor(private readonly o: {
    config: GatewayConfig['response']; store: ActionStore; bus: Bus; signer?: CommandSigner; log: Logger; registry: Registry; now?: () => number;
    /** The alert's own history (gateway/alert-history.ts): every step also shows there, beside triage. */
    alertHistory?: { append(e: NewHistoryEntry): number };
  }) {
    const own = Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address));
    this.allow = addressList([...o.config.allowlist, ...own]);
    this.metrics = {
      actions: new Counter({ name: 'netsensor_gateway_response_actions_total', help: 'response actions by kind, mode and state reached (dry_run, pending, active, skipped, refused, expired, undone, declined)', labelNames: ['kind', 'mode', 'state'] as const, registers: [o.registry] }),
      reports: new Counter({ name: 'netsensor_gateway_response_reports_total', help: 'sensor reports about response commands, by result and refusal reason', labelNames: ['result', 'reason'] as const, registers: [o.registry] }),
      active: new Gauge({ name: 'netsensor_gateway_response_actions_active', help: 'response actions in force', registers: [o.registry] }),
    };
  }

  private get now(): number { return (this.o.now ?? Date.now)(); }

  async start(): Promise<void> {
    await this.o.bus.subscribe(topics.allResponseReports, (topic, payload, done) => {
      try { this.onReport(topic, payload); } catch (e) { this.o.log.warn({ err: e }, 'response report not handled'); }
      done();
    });
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.sending]);
  }

  onAlertChanges(changes: AlertChange[]): void {
    if (this.o.config.mode === 'off') return;
    for (const c of changes) {
      if (c.alert.status !== 'open') continue;
      for (const p of this.o.config.playbooks) if (matches(p, c.alert)) this.consider(p, c.alert);
    }
  }

  private consider(p: Playbook, a: Alert): void {
    const sensors = a.sensors.filter((s) => ID_PATTERN.test(s) && (!p.sensors || p.sensors.includes(s)));
    for (const sensor of sensors) {
      if (this.o.store.has(a.id, p.name, sensor)) continue;
      const now = this.now;
      const rec: ActionRecord = {
        id: uuidv7(), alert_id: a.id, playbook: p.name, sensor, kind: p.action, src: a.src_ip,
        dst: p.action === 'block_destination' ? a.dest_ip : null, ttl_ms: p.ttlS * 1000, mode: p.mode ?? (this.o.config.mode as ActionRecord['mode']),
        state: 'pending', reason: null, created_ms: now, started_ms: null, until_ms: null, ended_ms: null, sensor_result: null,
      };
      const evidence = { class: a.class, kind: a.kind, severity: a.severity, sensors: a.sensors.length, flows: a.flow_count ?? a.event_count };
      const skip = this.guardRail(rec, a, rec.mode !== 'dry-run');
      if (skip) { this.transition(rec, 'skipped', 'skipped', skip, evidence); continue; }
      if (rec.mode === 'dry-run') this.transition(rec, 'dry_run', 'proposed', 'dry-run: recorded, nothing sent', evidence);
      else if (rec.mode === 'approve') this.transition(rec, 'pending', 'awaiting_approval', null, evidence);
      else this.launch(rec, 'auto', evidence);
    }
  }

  /** The guard rail an action breaks, or undefined. `caps`: count it against the caps (not for dry-run). */
  private guardRail(rec: ActionRecord, a: Alert, caps: boolean): string | undefined {
    if (a.kind === 'fan_in') return 'fan_in alert: many sources, none to act on';
    if (a.class === 'anomaly' && !this.o.config.anomalyActions) return 'anomaly-only alert (response.anomalyActions is off)';
    for (const ip of rec.dst ? [rec.src, rec.dst] : [rec.src]) if (this.allow.has(ip)) return `allowlisted: ${ip}`;
    const live = this.o.store.live();
    if (live.some((l) => l.sensor === rec.sensor && l.kind === rec.kind && l.src === rec.src && l.dst === rec.dst)) return 'the same action is already in force';
    if (caps && live.length >= this.o.config.maxActive) return `cap: ${live.length} actions active or pending (response.maxActive)`;
    return undefined;
  }

  /** Signs and sends the apply command; the action runs from now for its TTL. */
  private launch(rec: ActionRecord, by: string, evidence?: Record<string, unknown>): void {
    const now = this.now;
    if (this.o.store.startedSince(now - 60_000) >= this.o.config.maxPerMinute) {
      this.transition(rec, 'skipped', 'skipped', `cap: ${this.o.config.maxPerMinute} actions per minute (response.maxPerMinute)`, evidence);
      return;
    }
    if (!this.o.signer) {
      this.transition(rec, 'skipped', 'skipped', 'no response.keyFile: commands cannot be signed', evidence);
      return;
    }
    rec.started_ms = now;
    rec.until_ms = now + rec.ttl_ms;
    this.send(rec.sensor, 'apply', [spec(rec)]);
    this.transition(rec, 'active', 'sent', `by ${by}; until ${new Date(rec.until_ms).toISOString()}`, evidence);
  }

  approve(id: string, by = 'api'): ActionRecord {
    const rec = this.o.store.get(id);
    if (!rec) throw new ResponseRequestError(404, 'no such action');
    if (rec.state !== 'pending') throw new ResponseRequestError(409, `action is ${rec.state}, not pending`);
    this.addHistory(rec, 'approved', `by ${by}`);
    this.launch(rec, by);
    return rec;
  }

  /** Ends an action now: an active one is removed from the sensor, a pending one is declined. */
  undo(id: string, by = 'api'): ActionRecord {
    const rec = this.o.store.get(id);
    if (!rec) throw new ResponseRequestError(404, 'no such action');
    if (rec.state === 'pending') {
      this.transition(rec, 'declined', 'declined', `by ${by}`);
      return rec;
    }
    if (rec.state !== 'active') throw new ResponseRequestError(409, `action is ${rec.state}: nothing to undo`);
    this.send(rec.sensor, 'undo', [spec(rec)]);
    this.transition(rec, 'undone', 'undone', `by ${by}`);
    return rec;
  }

  /** Sends a sensor the gateway's whole record for it: its table is made equal to it. */
  sync(sensor: string): void {
    if (!this.o.signer) return;
    const now = this.now;
    const active = this.o.store.list({ state: 'active', sensor }).filter((r) => (r.until_ms ?? 0) > now);
    this.send(sensor, 'sync', active.map(spec));
  }

  private send(sensor: string, op: 'apply' | 'undo' | 'sync', actions: ActionSpec[]): void {
    const { seq, bytes } = this.o.signer!.sign(sensor, op, actions);
    const p: Promise<void> = this.o.bus.publish(topics.response(sensor), Buffer.from(bytes), { qos: 1 })
      .catch((e) => this.o.log.warn({ err: e, sensor, op, seq }, 'response command not published'))
      .finally(() => this.sending.delete(p));
    this.sending.add(p);
  }

  private onReport(topic: string, payload: Buffer): void {
    const sensor = topic.split('/')[3];
    const r = JSON.parse(payload.toString('utf8')) as ResponseReport;
    if (typeof r !== 'object' || r === null || !Array.isArray(r.action_ids) || r.sensor !== sensor) return;
    const reason = typeof r.reason === 'string' ? r.reason.slice(0, 40) : '';
    this.metrics.reports.inc({ result: String(r.result).slice(0, 16), reason });
    if (r.result === 'ready') { this.sync(sensor); return; }
    for (const id of r.action_ids.slice(0, 1024)) {
      const rec = typeof id === 'string' ? this.o.store.get(id) : undefined;
      if (!rec || rec.sensor !== sensor) continue;
      rec.sensor_result = r.result;
      const detail = r.result === 'refused' ? `${reason}: ${String(r.message ?? '').slice(0, 200)}` : null;
      if (r.result === 'refused' && rec.state === 'active') this.transition(rec, 'refused', 'sensor_refused', detail);
      else { this.o.store.save(rec); this.addHistory(rec, `sensor_${r.result}`, detail); }
    }
  }

  /** Ends what ran out: active actions at their TTL (the sensor's kernel drops them itself), approvals not given in time. */
  tick(): void {
    try {
      const now = this.now;
      let active = 0;
      for (const rec of this.o.store.live()) {
        if (rec.state === 'active' && (rec.until_ms ?? 0) <= now) this.transition(rec, 'expired', 'expired', 'time to live ended');
        else if (rec.state === 'pending' && rec.created_ms + rec.ttl_ms <= now) this.transition(rec, 'declined', 'declined', 'not approved within its time to live');
        else if (rec.state === 'active') active += 1;
      }
      this.metrics.active.set(active);
    } catch (e) {
      this.o.log.error({ err: e }, 'response housekeeping failed');
    }
  }

  private transition(rec: ActionRecord, state: ActionState, event: string, detail: string | null, evidence?: Record<string, unknown>): void {
    rec.state = state;
    if (['skipped', 'expired', 'undone', 'declined', 'refused'].includes(state)) {
      rec.ended_ms = this.now;
      if (detail) rec.reason = detail;
    }
    this.o.store.save(rec);
    this.addHistory(rec, event, detail, evidence);
    this.metrics.actions.inc({ kind: rec.kind, mode: rec.mode, state });
    const log = state === 'skipped' || state === 'refused' ? this.o.log.warn.bind(this.o.log) : this.o.log.info.bind(this.o.log);
    log({ action: rec.id, alert: rec.alert_id, sensor: rec.sensor, kind: rec.kind, src: rec.src, dst: rec.dst, mode: rec.mode, state, detail }, 'response action');
  }

  /** `evidence`: what the alert showed when the playbook matched (kept with the first step). */
  private addHistory(rec: ActionRecord, event: string, detail: string | null, evidence?: Record<string, unknown>): void {
    const ts = this.now;
    this.o.store.addHistory({ action_id: rec.id, alert_id: rec.alert_id, ts, event, detail: evidence ? JSON.stringify({ note: detail, evidence }) : detail });
    try {
      this.o.alertHistory?.append({
        alert_id: rec.alert_id, ts, kind: `response_${event}`.replace(/[^a-z_]/g, '_'), actor: `playbook:${rec.playbook}`.slice(0, 64), note: detail,
        detail: { action_id: rec.id, action: rec.kind, sensor: rec.sensor, src: rec.src, dst: rec.dst ?? null, mode: rec.mode, state: rec.state, until_ms: rec.until_ms ?? null },
      });
    } catch (e) {
      // The alert may be gone (retention); the action's own record above still has the step.
      this.o.log.warn({ err: e, action: rec.id, alert: rec.alert_id }, 'response step not added to the alert history');
    }
    const msg = {
      timestamp: new Date(ts).toISOString(), event_type: 'netsensor_response', host: rec.sensor, src_ip: rec.src, ...(rec.dst ? { dest_ip: rec.dst } : {}),
      netsensor: {
        action_id: rec.id, alert_id: rec.alert_id, playbook: rec.playbook, action: rec.kind, mode: rec.mode, state: rec.state, event, detail,
        ...(evidence ? { evidence } : {}), ttl_ms: rec.ttl_ms, until: rec.until_ms ? new Date(rec.until_ms).toISOString() : null,
      },
    };
    const p: Promise<void> = this.o.bus.publish(topics.responseAction(rec.sensor), JSON.stringify(msg), { qos: 1 })
      .catch((e) => this.o.log.warn({ err: e }, 'response event not published'))
      .finally(() => this.sending.delete(p));
    this.sending.add(p);
  }
}

const spec = (r: ActionRecord): ActionSpec => ({ id: r.id, kind: r.kind, src: r.src, ...(r.dst ? { dst: r.dst } : {}), until_ms: r.until_ms! });

/**
 * Alert messages on MQTT without a message storm: an alert is announced at once when it is created or its
 * severity rises; any other change (more events, more sources, closed, merged into a fan_in alert) is sent as
 * an 'updated' message at most once per `intervalMs` per alert — the latest state, trailing, so the last change
 * is never lost. Changes marked `silent` (an alert opened and merged within one batch, never announced) are not sent.
 */
import type { Alert } from './alert-types.js';
import type { AlertChange } from './correlate.js';

export type AlertReason = 'created' | 'escalated' | 'updated';

export type SendAlert = (alert: Alert, sensor: string, reason: AlertReason) => void;

/** What a change announces: undefined for a silent one (opened and merged unannounced). */
export function reasonOf(c: AlertChange): AlertReason | undefined {
  if (c.created) return 'created';
  if (c.escalated) return 'escalated';
  return c.silent ? undefined : 'updated';
}

interface Announced {
  /** Wall-clock time of the last message for this alert. */
  sentAt: number;
  /** A change not sent yet (the newest wins). */
  pending?: { alert: Alert; sensor: string };
}

export class AlertPublisher {
  private readonly announced = new Map<string, Announced>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: SendAlert,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Messages sent so far, by reason. */
  readonly sent: Record<AlertReason, number> = { created: 0, escalated: 0, updated: 0 };

  onChanges(changes: AlertChange[]): void {
    const now = this.now();
    for (const c of changes) {
      const reason = reasonOf(c);
      if (reason === 'created' || reason === 'escalated') {
        this.emit(c.alert, c.sensor, reason, now);
        continue;
      }
      if (!reason) continue;
      const a = this.announced.get(c.alert.id);
      if (!a || now - a.sentAt >= this.intervalMs) this.emit(c.alert, c.sensor, 'updated', now);
      else a.pending = { alert: c.alert, sensor: c.sensor };
    }
    // Also expires the entries of quiet alerts (bounded memory).
    if (this.announced.size > 0) this.schedule();
  }

  /** Sends every pending update now (at shutdown). */
  flush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    const now = this.now();
    for (const a of this.announced.values()) if (a.pending) this.emit(a.pending.alert, a.pending.sensor, 'updated', now);
  }

  /** Alerts remembered for rate limiting (bounded: an entry goes once its interval passed with nothing pending). */
  get tracked(): number {
    return this.announced.size;
  }

  private emit(alert: Alert, sensor: string, reason: AlertReason, now: number): void {
    this.announced.set(alert.id, { sentAt: now });
    this.sent[reason] += 1;
    this.send(alert, sensor, reason);
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => { this.timer = undefined; this.tick(); }, Math.max(10, Math.min(1000, this.intervalMs))).unref();
  }

  /** Sends the pending updates whose interval has passed; forgets entries with nothing pending. */
  private tick(): void {
    const now = this.now();
    for (const [id, a] of this.announced) {
      if (a.pending) {
        if (now - a.sentAt >= this.intervalMs) this.emit(a.pending.alert, a.pending.sensor, 'updated', now);
      } else if (now - a.sentAt >= this.intervalMs) {
        this.announced.delete(id); // its next change may go out at once: no entry needed
      }
    }
    if (this.announced.size > 0) this.schedule();
  }
}

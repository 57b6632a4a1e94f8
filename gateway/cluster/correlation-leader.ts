/**
 * Correlation on the leader: it follows the stored events in commit order (a cursor kept in the store), runs the
 * same Correlator as a single gateway, and writes the alerts, their links and the new cursor in one transaction.
 * Whichever worker stored a batch, the alerts come out of one place in one order, so they are the same as one
 * gateway would make. The alert messages a commit calls for are written in the same transaction and published by
 * the leader after it (at least once: a new leader publishes what the previous one left unacknowledged).
 * In-memory state is a cache: taking over rebuilds it from the open alerts in the store (as a restart does).
 */
import type { Logger } from '../../common/log.js';
import type { Alert } from '../alert-types.js';
import type { GatewayConfig } from '../config.js';
import { reasonOf } from '../alert-publisher.js';
import { Correlator, type AlertChange } from '../correlate.js';
import type { Announcement, EventStore } from '../store/event-store.js';

export interface CorrelationLeaderOptions {
  store: EventStore;
  rules: GatewayConfig['correlation'];
  holder: string;
  /** Committed changes, to publish (what `announced` let through). */
  onChanges: (changes: AlertChange[]) => void;
  /**
   * Of a step's changes, those to announce (operator suppressions, gateway/suppression.ts): what it leaves out is
   * committed with no stored announcement, so no later leader publishes it either.
   */
  announced?: (changes: AlertChange[]) => AlertChange[];
  /** The open alerts correlation resumed with, on taking over (and after a failed step): what `announced` held back before. */
  resumed?: (open: Alert[]) => void;
  /** A commit was refused (the lease or the cursor moved): this worker must stop leading. */
  onFenced: () => void;
  log: Logger;
  pollMs?: number;
  pageSize?: number;
  now?: () => number;
}

const CLOSE_IDLE_MS = 5000;
/** Most events replayed into the tracking state on taking over (the newest of the window). */
const WARM_EVENTS = 100_000;

export class CorrelationLeader {
  private correlator!: Correlator;
  private cursor = 0;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private closedAt = 0;
  private wake: (() => void) | undefined;
  /** Events correlated and commits made since it took over. */
  events = 0;
  commits = 0;

  constructor(private readonly o: CorrelationLeaderOptions) {}

  private get now(): number { return (this.o.now ?? Date.now)(); }

  async start(): Promise<void> {
    await this.rebuild();
    this.running = true;
    this.loop = this.run();
  }

  openCount(): number {
    return this.running ? this.correlator.openCount() : 0;
  }

  private async rebuild(): Promise<void> {
    this.correlator = new Correlator(this.o.rules, this.o.now);
    this.correlator.resume(await this.o.store.openAlerts(this.now - this.o.rules.windowMs));
    this.o.resumed?.(this.correlator.openAlerts());
    this.cursor = await this.o.store.correlationCursor();
    const recent = await this.o.store.recentEvents(this.cursor, this.now - this.o.rules.windowMs, WARM_EVENTS);
    this.correlator.warm(recent);
    this.o.log.info({ cursor: this.cursor, open: this.correlator.openCount(), warmed: recent.length }, 'correlation resumed from the store');
  }

  private async run(): Promise<void> {
    const page = this.o.pageSize ?? 5000;
    while (this.running) {
      let n = 0;
      try {
        n = await this.step(page);
      } catch (e) {
        // The store failed mid-step: memory may be ahead of the store, so start again from what it holds.
        this.o.log.error({ err: e }, 'correlation step failed; rebuilding from the store');
        await sleep(1000);
        if (this.running) await this.rebuild().catch((err) => this.o.log.error({ err }, 'rebuilding correlation failed'));
        continue;
      }
      // Polling rather than waking on every stored batch: a step rewrites each alert it touched, so fewer, larger
      // steps cost the database less (the single gateway batches its alert writes for the same reason).
      if (n < page && this.running) await new Promise<void>((r) => { this.wake = r; setTimeout(r, this.o.pollMs ?? 200); });
    }
  }

  /** One page of events (and the idle alerts to close) → one commit. Returns the events it took. */
  private async step(page: number): Promise<number> {
    const events = await this.o.store.eventsAfter(this.cursor, page);
    let closed: Alert[] = [];
    if (this.now - this.closedAt >= CLOSE_IDLE_MS) { this.closedAt = this.now; closed = this.correlator.closeIdle(); }
    if (events.length === 0 && closed.length === 0) return 0;
    const r = this.correlator.ingest(events);
    const alerts = new Map<string, Alert>();
    for (const a of closed) alerts.set(a.id, a);
    for (const c of r.changes) alerts.set(c.alert.id, c.alert);
    const next = events.length ? events[events.length - 1].seq : this.cursor;
    const shown = this.o.announced ? this.o.announced(r.changes) : r.changes;
    const announcements: Announcement[] = [];
    for (const c of shown) {
      const reason = reasonOf(c);
      if (reason) announcements.push({ alert: c.alert, sensor: c.sensor, reason });
    }
    const ok = await this.o.store.commitCorrelation({ alerts: [...alerts.values()], links: r.links, cursor: next, from: this.cursor, holder: this.o.holder, announcements });
    if (!ok) {
      this.running = false;
      this.o.log.warn({ cursor: this.cursor }, 'correlation commit refused: another worker leads now');
      this.o.onFenced();
      return 0;
    }
    this.cursor = next;
    this.events += events.length;
    this.commits += 1;
    if (shown.length) this.o.onChanges(shown);
    return events.length;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

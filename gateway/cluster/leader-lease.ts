/**
 * The leader lease: one worker at a time runs correlation, alert publication and model rollout. The lease is a
 * row in the shared store (holder + expiry on the database's clock), renewed every third of its length. A worker
 * that cannot renew steps down before the lease could have passed to another (two thirds of its length after the
 * last renewal); the store refuses correlation commits from a holder whose lease expired anyway, so a paused
 * leader that wakes up late cannot apply anything twice.
 */
import type { Logger } from '../../common/log.js';
import { LEADER_LEASE, type EventStore } from '../store/event-store.js';

export interface LeaderEvents {
  /** This worker now leads (awaited before the next renewal). */
  gained(): Promise<void>;
  /** It no longer does: stop everything only the leader may do. */
  lost(): Promise<void>;
}

export class LeaderLease {
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private renewedAt = 0;
  private ticking: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: EventStore,
    readonly holder: string,
    private readonly ttlMs: number,
    private readonly events: LeaderEvents,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.ticking = this.tick();
    this.timer = setInterval(() => { this.ticking = this.ticking.then(() => this.tick()); }, Math.floor(this.ttlMs / 3));
  }

  private async tick(): Promise<void> {
    const started = this.now();
    let held: boolean;
    try {
      held = await this.store.tryLease(LEADER_LEASE, this.holder, this.ttlMs);
    } catch (e) {
      this.log.warn({ err: e }, 'lease renewal failed');
      // Unknown: still leading only while the last renewal certainly holds.
      held = this.leading && this.now() - this.renewedAt < (this.ttlMs * 2) / 3;
      if (held) return;
    }
    if (held) {
      this.renewedAt = started;
      if (!this.leading) {
        this.leading = true;
        this.log.info('leading: correlation, alert publication and model rollout run here');
        await this.events.gained().catch((e) => { this.log.error({ err: e }, 'taking over as leader failed'); return this.stepDown(); });
      }
    } else if (this.leading) {
      await this.stepDown();
    }
  }

  private async stepDown(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    this.log.warn('no longer leading');
    await this.events.lost().catch((e) => this.log.error({ err: e }, 'stepping down failed'));
  }

  /** Gives the lease up now (this worker found it cannot lead); the next renewal may take it again afresh. */
  async relinquish(): Promise<void> {
    this.ticking = this.ticking.then(async () => {
      await this.stepDown();
      await this.store.releaseLease(LEADER_LEASE, this.holder).catch(() => {});
    });
    await this.ticking;
  }

  /** Stops renewing; a leader gives the lease up so another worker takes over at once. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    if (!this.leading) return;
    await this.stepDown();
    await this.store.releaseLease(LEADER_LEASE, this.holder).catch(() => {});
  }
}

/**
 * The bus as the leader-only parts (model distribution) see it. Every worker subscribes once, so its broker
 * session receives OTA reports and uploads like any other; messages reach the current leader's handlers only,
 * and only a leader publishes. Stepping down detaches the handlers (a Bus cannot unsubscribe), and the next
 * leadership attaches fresh ones.
 */
import type { Bus, MessageHandler, PublishOptions } from '../bus.js';
import { NetsensorError } from '../../common/errors.js';

export class LeaderBus implements Bus {
  readonly kind = 'external' as const;
  private readonly subscribed = new Set<string>();
  private handlers = new Map<string, MessageHandler>();
  private active = false;

  constructor(private readonly bus: Bus) {}

  /** Subscribes the filters the leader-only parts use, before any leadership (messages queue in the session). */
  async prepare(filters: string[]): Promise<void> {
    await Promise.all(filters.map((f) => this.attach(f)));
  }

  private async attach(filter: string): Promise<void> {
    if (this.subscribed.has(filter)) return;
    this.subscribed.add(filter);
    await this.bus.subscribe(filter, (topic, payload, done) => {
      const h = this.active ? this.handlers.get(filter) : undefined;
      if (h) h(topic, payload, done); else done();
    });
  }

  /** A new leadership: handlers subscribed from now on receive messages. */
  activate(): void {
    this.handlers = new Map();
    this.active = true;
  }

  deactivate(): void {
    this.active = false;
    this.handlers = new Map();
  }

  async subscribe(filter: string, handler: MessageHandler): Promise<void> {
    this.handlers.set(filter, handler);
    await this.attach(filter);
  }

  async publish(topic: string, payload: Buffer | string, opts: PublishOptions): Promise<void> {
    if (!this.active) throw new NetsensorError('ERR_NOT_LEADER', `not leading: ${topic} is published by the leader only`);
    await this.bus.publish(topic, payload, opts);
  }

  async close(): Promise<void> {
    this.deactivate();
  }
}

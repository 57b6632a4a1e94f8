/**
 * The baseline's link to the gateway: publishes the inventory (protocol/baseline.ts) retained on
 * netsensor/v1/sensors/<id>/baseline at every (re)connect and then every `intervalMs`, and follows
 * .../baseline/reset, which only the gateway may publish (gateway/acl.ts), to forget what was learned.
 */
import type { Logger } from '../common/log.js';
import type { Baseline } from '../detection/baseline.js';
import type { BaselineReport } from '../protocol/baseline.js';
import { topics } from '../protocol/topics.js';
import type { Publisher } from './publish.js';

export class BaselineLink {
  private timer?: NodeJS.Timeout;
  private readonly resetTopic: string;

  constructor(private readonly o: {
    sensorId: string; baseline: Baseline; publisher: Publisher; log: Logger; intervalMs: number;
    /** The capture clock (the baseline learns in capture time). */
    now: () => number;
  }) {
    this.resetTopic = topics.baselineReset(o.sensorId);
  }

  report(): BaselineReport {
    const b = this.o.baseline;
    const start = b.learnStartMs;
    // Before the first flow the capture clock is still 0, and a baseline restored after a restart would be reported
    // as learning (0 is before any learning period ends): until then the wall clock stands in for it.
    const now = this.o.now() > 0 ? this.o.now() : Date.now();
    return {
      v: 1, sensor: this.o.sensorId, ts: Date.now(), learning: b.learning(now),
      learn_started_ms: start ?? null, learn_until_ms: start === undefined ? null : start + b.learnMs,
      endpoints: b.endpointCount(), suppressed: b.counters.suppressed, refused: b.counters.refused,
      devices: b.summary(),
    };
  }

  start(): void {
    const p = this.o.publisher;
    p.on('connect', () => { void this.attach(); });
    if (p.connected) void this.attach();
    this.timer = setInterval(() => { void this.publish(); }, this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void { clearInterval(this.timer); }

  private async attach(): Promise<void> {
    const client = this.o.publisher.mqttClient;
    if (!client) return;
    client.removeListener('message', this.onMessage);
    client.on('message', this.onMessage);
    try {
      await client.subscribeAsync(this.resetTopic, { qos: 1 });
    } catch (e) {
      this.o.log.warn({ err: e }, 'could not follow the baseline reset topic');
    }
    await this.publish();
  }

  private readonly onMessage = (topic: string, payload: Buffer): void => {
    if (topic !== this.resetTopic) return;
    let by = 'unknown';
    try { by = String((JSON.parse(payload.toString('utf8')) as { by?: unknown }).by ?? 'unknown').slice(0, 64); } catch { /* still a reset */ }
    this.o.baseline.reset();
    this.o.log.info({ by }, 'site baseline reset: learning starts again');
    void this.publish();
  };

  private async publish(): Promise<void> {
    const client = this.o.publisher.mqttClient;
    if (!client) return;
    try {
      await client.publishAsync(topics.baseline(this.o.sensorId), JSON.stringify(this.report()), { qos: 1, retain: true });
    } catch (e) {
      this.o.log.warn({ err: e }, 'baseline report not published');
    }
  }
}

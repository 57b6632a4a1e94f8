/**
 * The sensors' site baselines as the gateway sees them: the latest retained inventory per sensor
 * (netsensor/v1/sensors/<id>/baseline, protocol/baseline.ts), served by the API and the dashboard — an inventory of
 * devices, their usual peers and ports — and the reset command the gateway alone may publish.
 */
import type { Logger } from '../common/log.js';
import { parseBaselineReport, type BaselineReport, type BaselineReset } from '../protocol/baseline.js';
import { parseSensorTopic, topics } from '../protocol/topics.js';
import type { Bus } from './bus.js';

const MAX_SENSORS = 10_000;

export class Baselines {
  private readonly latest = new Map<string, BaselineReport>();
  rejected = 0;

  constructor(private readonly bus: Bus, private readonly log: Logger) {}

  async start(): Promise<void> {
    await this.bus.subscribe(topics.allBaselines, (topic, payload, done) => {
      this.onReport(topic, payload);
      done();
    });
  }

  onReport(topic: string, payload: Buffer): void {
    const t = parseSensorTopic(topic);
    if (!t || t.kind !== 'baseline') return;
    try {
      const r = parseBaselineReport(payload, t.sensorId);
      if (!this.latest.has(t.sensorId) && this.latest.size >= MAX_SENSORS) return;
      this.latest.set(t.sensorId, r);
    } catch (e) {
      this.rejected += 1;
      if (this.rejected <= 10 || this.rejected % 1000 === 0) this.log.warn({ sensor: t.sensorId, err: e, rejected: this.rejected }, 'baseline report rejected');
    }
  }

  get(sensorId: string): BaselineReport | undefined { return this.latest.get(sensorId); }

  list(): Array<Pick<BaselineReport, 'sensor' | 'learning' | 'endpoints' | 'suppressed'> & { devices: number }> {
    return [...this.latest.values()].map((r) => ({ sensor: r.sensor, learning: r.learning, endpoints: r.endpoints, suppressed: r.suppressed, devices: r.devices.length }));
  }

  /** Asks a sensor to forget its baseline and learn again (QoS 1; the sensor confirms with a new report). */
  async reset(sensorId: string, by: string): Promise<void> {
    const msg: BaselineReset = { v: 1, by, ts: Date.now() };
    await this.bus.publish(topics.baselineReset(sensorId), JSON.stringify(msg), { qos: 1 });
    this.log.info({ sensor: sensorId, by }, 'baseline reset requested');
  }
}

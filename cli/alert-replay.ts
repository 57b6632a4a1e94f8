/**
 * What a subscriber of `netsensor/v1/alerts/#` would receive if a sensor replayed a capture into a gateway, computed
 * in one process with the same code: the sensor's Pipeline (flow core → model → evidence → episodes → risk events,
 * sensor defaults) feeding the gateway's Correlator and AlertPublisher, and the alert JSON the gateway publishes
 * (gateway/alerts.ts). Only the transport (MQTT, SQLite) is left out. Time is the capture's: the sensor's episode
 * clock and the gateway's clock both follow flow time, so a capture replays the same way however fast it is read.
 *
 * Used by `netsensor detect --alerts` and by `netsensor model eval` (figures per capture).
 */
import { readCapture } from '../core/capture/reader.js';
import { createLogger } from '../common/log.js';
import type { DetectionModel } from '../inference/model.js';
import type { RiskEvent } from '../protocol/event.js';
import { AlertPublisher, type AlertReason } from '../gateway/alert-publisher.js';
import { alertTopic, toEve, type EveAlert } from '../gateway/alerts.js';
import { isEveReason, toEveAlert } from '../gateway/eve-alert.js';
import { defaults as gatewayDefaults } from '../gateway/config.js';
import { Correlator } from '../gateway/correlate.js';
import type { StoredEvent } from '../gateway/store.js';
import { defaults as sensorDefaults, type SensorConfig } from '../sensor/config.js';
import { createFlowEngine, sensorCore } from '../sensor/flow-engine.js';
import { flowsScored, newCounters } from '../sensor/metrics.js';
import { Pipeline, replaySource } from '../sensor/pipeline.js';

export interface AlertMessage {
  topic: string;
  reason: AlertReason;
  payload: EveAlert;
  /** The Suricata EVE alert record the gateway's EVE file would hold (created and escalated only). */
  eve?: Record<string, unknown>;
}

export interface AlertReplay {
  messages: AlertMessage[];
  /** Distinct alerts (by alert id) as last announced. */
  alerts: EveAlert[];
  /** Risk events the sensor would have published (episode changes). */
  events: number;
  /** Flows the sensor scored: records, and the lone flows folded into them (assembly/flow/lone-flows.ts). */
  flows: number;
  packets: number;
  tracker: Pipeline['tracker']['counters'];
  /** The capture was cut off (replayed up to the cut); `warnings` say where. */
  truncated: boolean;
  warnings: string[];
}

export interface ReplayOptions {
  sensorId?: string;
  /** Sensor settings to change (e.g. `{ detect: { publish: 'flows' } }` to see what per-flow events would give). */
  sensor?: { detect?: Partial<SensorConfig['detect']> };
  /** Called after each chunk of the capture with the packets and flows so far (progress). */
  onChunk?: (packets: number, flows: number) => void;
}

export async function replayAlerts(capture: string, model: DetectionModel, opts: ReplayOptions = {}): Promise<AlertReplay> {
  const cfg: SensorConfig = structuredClone(sensorDefaults);
  cfg.id = opts.sensorId ?? 'replay';
  Object.assign(cfg.detect, opts.sensor?.detect ?? {});
  cfg.capture.pcap = capture;
  cfg.capture.replay = 'fast';

  let clock = 0;
  const messages: AlertMessage[] = [];
  const latest = new Map<string, EveAlert>();
  const publisher = new AlertPublisher((a, sensor, reason) => {
    const payload = toEve(a, sensor, reason);
    messages.push({ topic: alertTopic(a, sensor), reason, payload, eve: isEveReason(reason) ? toEveAlert(a, sensor, reason) : undefined });
    latest.set(a.id, payload);
  }, gatewayDefaults.correlation.updateIntervalMs, () => clock);
  const correlator = new Correlator(gatewayDefaults.correlation, () => clock);
  let seq = 0;
  let events = 0;
  const delivery = {
    commit(batch: RiskEvent[]): void {
      if (batch.length === 0) return;
      events += batch.length;
      const stored: StoredEvent[] = batch.map((e) => ({ ...e, seq: ++seq, received: clock }));
      for (const e of batch) clock = Math.max(clock, e.episode?.last_seen_ms ?? e.flow.last_seen_ms);
      publisher.onChanges(correlator.ingest(stored).changes);
    },
  };
  const counters = newCounters();
  const engine = await createFlowEngine(sensorCore(cfg));
  const pipeline = new Pipeline({ cfg, engine, model, delivery, counters, log: createLogger('silent') });
  const stats = { packets: 0, truncated: false, warnings: [] as string[] };
  await pipeline.run(replaySource(capture, 'fast', async (p, sink, o) => {
    const s = await readCapture(p, sink, opts.onChunk ? {
      ...o, afterChunk: async () => { await o.afterChunk(); opts.onChunk!(counters.packets, flowsScored(counters)); },
    } : o);
    stats.packets = s.packets;
    stats.truncated = s.truncated;
    stats.warnings = s.warnings;
    return s;
  }, pipeline), 'replay');
  publisher.flush(); // the trailing updates a live gateway would send once their interval passed
  return { messages, alerts: [...latest.values()], events, flows: flowsScored(counters), packets: stats.packets, tracker: pipeline.tracker.counters,
    truncated: stats.truncated, warnings: stats.warnings };
}

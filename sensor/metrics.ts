/**
 * Sensor counters and their Prometheus exposition (prom-client, own registry, text format on /metrics).
 *
 * The pipeline keeps plain numbers in `SensorCounters` (cheap to bump on the hot path, also used by the
 * retained status heartbeat); the registry reads them at scrape time. Latencies are histograms observed
 * directly.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { NetsensorError } from '../common/errors.js';
import { CORE_COUNTERS } from '../core/decoder-events.js';
import { registerBuildInfo } from '../common/build-info.js';

export interface SensorCounters {
  packets: number;
  bytes: number;
  /** pcap statistics of the live capture (tcpdump): ps_drop and ps_ifdrop, summed over restarts. */
  kernelDrops: number;
  ifDrops: number;
  captureRestarts: number;
  flows: number;
  interimFlows: number;
  /** Lone flows folded into another flow's record (assembly/flow/lone-flows.ts): scored through it. */
  foldedFlows: number;
  events: number;
  eventsDropped: number;
  batchesAcked: number;
  eventsAcked: number;
  publishFailures: number;
  /** Core decoder / flow-table events by stable name. */
  decoderEvents: Record<string, number>;
}

/** Every flow the sensor scored: on a record of its own, or folded into a flood's record. */
export function flowsScored(c: SensorCounters): number {
  return c.flows + c.foldedFlows;
}

export function newCounters(): SensorCounters {
  return {
    packets: 0, bytes: 0, kernelDrops: 0, ifDrops: 0, captureRestarts: 0, flows: 0, interimFlows: 0, foldedFlows: 0,
    events: 0, eventsDropped: 0, batchesAcked: 0, eventsAcked: 0, publishFailures: 0, decoderEvents: {},
  };
}

export interface Gauges { outboxDepth(): number; outboxBytes(): number; mqttConnected(): boolean; activeFlows(): number }

export class SensorMetrics {
  readonly registry = new Registry();
  readonly publishLatency: Histogram;
  readonly eventLatency: Histogram;
  readonly inferenceLatency: Histogram;
  private server?: Server;

  constructor(c: SensorCounters, g: Gauges, labels: Record<string, string> = {}) {
    const r = this.registry;
    r.setDefaultLabels(labels);
    // Unprefixed process_* / nodejs_*: the names stock Node dashboards query (the `sensor` label tells processes apart).
    collectDefaultMetrics({ register: r });
    registerBuildInfo(r, 'sensor');
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({ name, help, registers: [r], collect() { this.reset(); this.inc(read()); } });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers: [r], collect() { this.set(read()); } });
    counter('netsensor_capture_packets_total', 'Packets handed to the flow core', () => c.packets);
    counter('netsensor_capture_bytes_total', 'Captured bytes handed to the flow core', () => c.bytes);
    counter('netsensor_capture_kernel_drops_total', 'Packets dropped by the kernel (pcap ps_drop)', () => c.kernelDrops);
    counter('netsensor_capture_interface_drops_total', 'Packets dropped by the interface (pcap ps_ifdrop)', () => c.ifDrops);
    counter('netsensor_capture_restarts_total', 'Live capture process restarts', () => c.captureRestarts);
    counter('netsensor_flows_total', 'Flow records scored (final and interim)', () => c.flows);
    counter('netsensor_flows_interim_total', 'Interim flow records scored', () => c.interimFlows);
    counter('netsensor_flows_folded_total', 'Lone flows folded into another flow\'s record (a flood\'s), scored through it', () => c.foldedFlows);
    counter('netsensor_events_total', 'Risk events created', () => c.events);
    counter('netsensor_outbox_dropped_total', 'Events dropped by the outbox size policy (persisted)', () => c.eventsDropped);
    counter('netsensor_publish_batches_acked_total', 'Event batches acknowledged by the broker', () => c.batchesAcked);
    counter('netsensor_publish_events_acked_total', 'Events acknowledged by the broker', () => c.eventsAcked);
    counter('netsensor_publish_failures_total', 'Failed publishes (connection lost, refused)', () => c.publishFailures);
    new Counter({
      name: 'netsensor_decoder_events_total', help: 'Core decoder and flow-table events', labelNames: ['event'], registers: [r],
      collect() {
        this.reset();
        // every known event from 0, so a rate() over one exists before its first occurrence
        for (const event of CORE_COUNTERS) this.inc({ event }, c.decoderEvents[event] ?? 0);
        for (const [event, n] of Object.entries(c.decoderEvents)) if (n > 0 && !CORE_COUNTERS.includes(event as never)) this.inc({ event }, n);
      },
    });
    gauge('netsensor_outbox_depth', 'Events waiting in the outbox', g.outboxDepth);
    gauge('netsensor_outbox_bytes', 'Encoded bytes waiting in the outbox', g.outboxBytes);
    gauge('netsensor_mqtt_connected', '1 when connected to the broker', () => (g.mqttConnected() ? 1 : 0));
    gauge('netsensor_flows_active', 'Flows in the flow table', g.activeFlows);
    const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    this.publishLatency = new Histogram({ name: 'netsensor_publish_latency_seconds', help: 'Batch publish → PUBACK', buckets, registers: [r] });
    this.eventLatency = new Histogram({ name: 'netsensor_event_latency_seconds', help: 'Event created → PUBACK', buckets, registers: [r] });
    this.inferenceLatency = new Histogram({ name: 'netsensor_inference_latency_seconds', help: 'One inference batch', buckets, registers: [r] });
  }

  /** Serves GET /metrics. Resolves with the bound port (port 0 picks a free one). */
  listen(port: number, host: string): Promise<number> {
    this.server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url !== '/metrics' && !req.url?.startsWith('/metrics?'))) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
      );
    });
    return new Promise((resolve, reject) => {
      this.server!.once('error', (e) => reject(new NetsensorError('ERR_CONFIG', `metrics endpoint cannot listen on ${host}:${port}: ${e.message}`, { cause: e })));
      this.server!.listen(port, host, () => {
        const a = this.server!.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

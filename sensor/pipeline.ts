/**
 * The sensor's data path: capture → flow core → detection → risk events → outbox → publisher.
 *
 * Packets enter the core synchronously from the capture reader; finished (and interim) flow rows leave it in
 * batches and are scored by one async worker, in order, `detect.batchRows` rows per inference. Events of a
 * batch are committed in one transaction before the worker moves on. The reader awaits the worker after each
 * chunk it reads, so a capture replayed "fast" is paced by inference + commit and memory stays bounded.
 *
 * The model can be swapped at any time (`setModel`, used by OTA): the swap takes effect at the next batch
 * boundary, and the returned promise resolves once no batch uses the old model any more.
 *
 * Live mode calls core.advance(now) every `core.advanceIntervalMs`, so flows expire (unanswered, idle,
 * interim) without waiting for more traffic — that, plus the short unanswered timeout, is what bounds the
 * time to detect a flood or a scan.
 */
import type { Readable } from 'node:stream';
import { systemClock, type Clock, type TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { NUM_FEATURES } from '../core/schema.js';
import type { RiskEvent } from '../protocol/event.js';
import type { SensorConfig } from './config.js';
import type { PcapBulkSink } from '../core/capture/stats.js';
import type { DecisionOverrides } from '../inference/decide.js';
import type { Delivery } from './delivery.js';
import { EpisodeTracker, type EpisodeChange } from '../detection/episodes.js';
import { EVIDENCE_DECISION, episodeThresholds } from '../detection/families.js';
import type { FlowVerdict } from '../detection/evidence.js';
import { ruleCandidate } from '../detection/rules.js';
import { buildEvent, episodeEvent } from '../detection/risk-event.js';
import { emptyWireKey, KEY_ROW_BYTES, KeyRows } from './key-rows.js';
import type { SensorCounters, SensorMetrics } from './metrics.js';

/**
 * Alerting rows explained per class per batch when rows are evidence (their top features are summed per episode).
 * An explanation costs ≈ 20 µs, about 20 times a row's inference: 32 per batch were a tenth of a flood's CPU.
 */
const EXPLAIN_PER_CLASS = 8;

/** Packet sink signature of the capture readers (no object per packet). */
export type PacketSinkFn = (buf: Uint8Array, offset: number, caplen: number, wirelen: number, tsMs: number, linktype: number) => void;

/** Flow rows copied out of the core: `count` rows of NUM_FEATURES features + their KEY_RECORDs (sensor/key-rows.ts). */
export interface FlowRows {
  count: number;
  features: Float32Array;
  keyBytes: Uint8Array;
}

/** What the pipeline needs from the WASM core host. */
export interface FlowEngine {
  packet: PacketSinkFn;
  /** Classic pcap records in bulk beside `packet` (the same packets, in file order): a fast replay reads through it. */
  bulk?: PcapBulkSink;
  /** Expire flows as of `nowMs` (capture clock). */
  advance(nowMs: number): void;
  /** Emit every live flow with this end reason; true when it paused with flows left (take the rows, call again). */
  flush(reason: 'end_of_input' | 'shutdown'): boolean | void;
  /** Rows emitted since the last call, copied (the caller owns them); undefined when none. */
  take(): FlowRows | undefined;
  counters(): { packets: number; bytes: number; activeFlows: number; events: Record<string, number> };
}

/** One scored row, as the detection model returns it (inference/model.ts RowScore). */
export interface ScoredRow {
  class: string;
  score: number;
  anomaly: number;
  alert: boolean;
  alertClass?: string;
  /** The probability threshold the alerting class passed (inference/decide.ts). */
  threshold: number;
  top: Array<[string, number]>;
  probabilities?: number[];
}

/** What the pipeline needs from a detection model (inference/model.ts DetectionModel satisfies it). */
export interface Scorer {
  readonly version: string;
  readonly classNames?: readonly string[];
  /** Model metadata (episode thresholds calibrated with the model live there). */
  readonly metadata?: Readonly<Record<string, string>>;
  score(features: Float32Array, rows: number, opts?: {
    topFeatures?: number;
    explainAll?: boolean;
    decision?: DecisionOverrides;
    explainIf?: (className: string, score: number, anomaly: number, alert: boolean) => boolean;
    /** false: the pipeline reads no probabilities (inference/model.ts then builds none). */
    probabilities?: boolean;
  }): Promise<ScoredRow[]>;
}

export interface CaptureSource {
  /**
   * Streams packets into `sink` (or, where the source can, classic-pcap records into `bulk`), awaiting `afterChunk`
   * between reads; resolves at end of input.
   */
  run(sink: PacketSinkFn, afterChunk: () => Promise<void>, bulk?: PcapBulkSink): Promise<void>;
  stop(): Promise<void>;
}

export interface PipelineOptions {
  cfg: SensorConfig;
  engine: FlowEngine;
  model: Scorer;
  /** Where risk events go (sensor/delivery.ts: outbox, then MQTT). */
  delivery: Pick<Delivery, 'commit'>;
  counters: SensorCounters;
  metrics?: SensorMetrics;
  log: Logger;
  /** Evidence → episodes (detection/); made from the model's calibrated thresholds when not given. */
  tracker?: EpisodeTracker;
  /** Live mode's expiry tick runs on it (real time by default). */
  clock?: Clock;
}

export class Pipeline {
  private readonly o: PipelineOptions;
  private readonly log: Logger;
  private model: Scorer;
  private pendingModel?: { model: Scorer; applied: () => void };
  private readonly queue: FlowRows[] = [];
  private queuedRows = 0;
  private worker?: Promise<void>;
  private readonly clock: Clock;
  private advanceTimer?: TimerHandle;
  /** Maps wall-clock time to the capture clock (live: identity; realtime replay: offset). */
  private clockOffsetMs = 0;
  private stopped = false;
  private source?: CaptureSource;
  readonly tracker: EpisodeTracker;
  private readonly verdict: FlowVerdict = {
    flow: emptyWireKey(),
    interim: false, folded: 0, mixedSources: false, hiddenOptions: false, row: new Float32Array(0), alertClass: undefined, score: 0, classThreshold: 0, anomaly: 0, top: [],
  };

  constructor(o: PipelineOptions) {
    this.o = o;
    this.log = o.log.child({ component: 'pipeline' });
    this.model = o.model;
    this.clock = o.clock ?? systemClock;
    this.tracker = o.tracker ?? new EpisodeTracker({
      thresholds: episodeThresholds(o.model.metadata), updateIntervalMs: o.cfg.detect.updateIntervalMs,
    });
  }

  get modelVersion(): string { return this.model.version; }

  /** Swaps the model between two batches; resolves once the old one is no longer in use. */
  setModel(model: Scorer): Promise<void> {
    return new Promise((resolve) => {
      this.pendingModel?.applied(); // superseded before it was used
      this.pendingModel = { model, applied: resolve };
      if (!this.worker) this.applyPendingModel();
    });
  }

  private applyPendingModel(): void {
    const p = this.pendingModel;
    if (!p) return;
    this.pendingModel = undefined;
    const from = this.model.version;
    this.model = p.model;
    // episode thresholds are calibrated with the model: they change with it
    this.tracker.setThresholds(episodeThresholds(p.model.metadata));
    this.log.info({ from, to: p.model.version }, 'model swapped');
    p.applied();
  }

  /** The packet sink handed to the capture reader. */
  readonly sink: PacketSinkFn = (buf, offset, caplen, wirelen, tsMs, linktype) => {
    this.o.engine.packet(buf, offset, caplen, wirelen, tsMs, linktype);
  };

  /** Collects rows from the core and makes sure the worker scores them. */
  private collect(): void {
    for (let rows = this.o.engine.take(); rows; rows = this.o.engine.take()) {
      if (rows.count === 0) continue;
      this.queue.push(rows);
      this.queuedRows += rows.count;
    }
    if (this.queue.length > 0 && !this.worker) {
      this.worker = this.work().finally(() => { this.worker = undefined; this.applyPendingModel(); });
    }
  }

  /** Awaits until every row emitted so far is scored and its events committed. */
  async settle(): Promise<void> {
    this.collect();
    while (this.worker) {
      await this.worker;
      this.collect();
    }
  }

  private async work(): Promise<void> {
    while (this.queue.length > 0) {
      this.applyPendingModel();
      const batch = this.nextBatch(this.o.cfg.detect.batchRows);
      try {
        await this.scoreAndCommit(batch);
      } catch (e) {
        // a bad batch must not stop the sensor: count and carry on (the rows are lost, say so loudly)
        this.log.error({ err: (e as Error).message, rows: batch.count }, 'scoring failed; batch skipped');
      }
    }
  }

  /** Takes up to `max` rows off the queue as one contiguous batch. */
  private nextBatch(max: number): FlowRows {
    const head = this.queue[0]!;
    if (head.count <= max) {
      this.queue.shift();
      this.queuedRows -= head.count;
      return head;
    }
    const out: FlowRows = {
      count: max,
      features: head.features.subarray(0, max * NUM_FEATURES),
      keyBytes: head.keyBytes.subarray(0, max * KEY_ROW_BYTES),
    };
    this.queue[0] = {
      count: head.count - max, features: head.features.subarray(max * NUM_FEATURES), keyBytes: head.keyBytes.subarray(max * KEY_ROW_BYTES),
    };
    this.queuedRows -= max;
    return out;
  }

  private async scoreAndCommit(b: FlowRows): Promise<void> {
    const cfg = this.o.cfg.detect;
    const model = this.model;
    const t0 = performance.now();
    const byFlow = cfg.publish === 'flows';
    // per-flow events keep the model's thresholds; as evidence, weaker verdicts count too (detection/families.ts)
    const decision: DecisionOverrides = { ...(byFlow ? {} : EVIDENCE_DECISION), classThreshold: cfg.classThreshold, anomalyThreshold: cfg.anomalyThreshold };
    // Explanations cost more than inference. Per-flow events explain every alerting row; as evidence, episodes sum
    // their flows' top features, so a sample is enough: at most EXPLAIN_PER_CLASS alerting rows of each class per
    // batch (a flood of 100k alerting flows would otherwise cost an attribution each, and a scan sharing a batch with
    // a flood still gets its own sample).
    const explained = new Map<string, number>();
    const explainIf = byFlow ? undefined : (c: string, _s: number, _a: number, alert: boolean): boolean => {
      if (!alert) return false;
      const n = explained.get(c) ?? 0;
      explained.set(c, n + 1);
      return n < EXPLAIN_PER_CLASS;
    };
    const scores = await model.score(b.features, b.count, { topFeatures: 5, decision, explainIf, probabilities: false });
    this.o.metrics?.inferenceLatency.observe((performance.now() - t0) / 1000);
    this.o.counters.flows += b.count;
    const events: RiskEvent[] = [];
    const keys = new KeyRows(b.keyBytes);
    for (let r = 0; r < b.count; r++) {
      const interim = keys.interim(r);
      if (interim) this.o.counters.interimFlows++;
      const folded = keys.folded(r);
      this.o.counters.foldedFlows += folded;
      const s = scores[r]!;
      const row = b.features.subarray(r * NUM_FEATURES, (r + 1) * NUM_FEATURES);
      if (byFlow) {
        if (s.alertClass) {
          events.push(buildEvent({
            sensorId: this.o.cfg.id, modelVersion: model.version, flow: keys.wire(r), features: row,
            verdict: { alertClass: s.alertClass, score: s.score, anomaly: s.anomaly, top: s.top },
          }));
        }
        continue;
      }
      const hidden = keys.hiddenOptions(r);
      // a benign verdict matters only to the baseline (learning) or the rules (detection/rules.ts)
      if (!s.alertClass && !this.tracker.learnsBenign &&
        !ruleCandidate(keys.protocol(r), keys.srcPort(r), keys.dstPort(r), keys.src2dstPackets(r), keys.src2dstBytes(r), keys.dst2srcPackets(r), keys.dst2srcBytes(r), keys.durationMs(r), row, hidden)) continue;
      // one verdict object for every row: the tracker copies what it keeps (detection/episodes.ts)
      const v = this.verdict;
      keys.setWire(v.flow, r);
      v.interim = interim; v.folded = folded; v.mixedSources = folded > 0 && keys.mixedSources(r); v.hiddenOptions = hidden;
      v.row = row; v.alertClass = s.alertClass; v.score = s.score;
      v.classThreshold = s.threshold; v.anomaly = s.anomaly; v.top = s.top;
      for (const c of this.tracker.observe(v)) events.push(this.episodeEvent(c));
    }
    for (const c of this.tracker.expire(this.tracker.now)) events.push(this.episodeEvent(c));
    this.o.delivery.commit(events);
  }

  private episodeEvent(c: EpisodeChange): RiskEvent {
    return episodeEvent(c, this.o.cfg.id, this.model.version);
  }

  /** Publishes what the episode clock says is due (pending updates, quiet episodes closing). */
  private expireEpisodes(now: number, closeAll = false): void {
    if (this.o.cfg.detect.publish === 'flows') return;
    const changes = closeAll ? this.tracker.closeAll() : this.tracker.expire(now);
    if (changes.length > 0) this.o.delivery.commit(changes.map((c) => this.episodeEvent(c)));
  }

  /** Runs a capture to its end (replay) or until stop() (live). */
  async run(source: CaptureSource, mode: 'live' | 'replay'): Promise<void> {
    this.source = source;
    if (this.stopped) return; // a signal arrived before the capture started
    if (mode === 'live') {
      this.advanceTimer = this.clock.setInterval(() => this.tick(this.clock.now()), this.o.cfg.core.advanceIntervalMs);
    }
    await source.run(this.sink, async () => {
      this.collect();
      // back-pressure: never let more than a few batches wait for inference
      if (this.queuedRows >= this.o.cfg.detect.batchRows * 4 && this.worker) await this.worker;
    }, this.o.engine.bulk);
    this.clock.clearInterval(this.advanceTimer);
    if (mode === 'replay' && !this.stopped) {
      await this.flushLive('end_of_input');
      await this.settle();
      this.expireEpisodes(this.tracker.now, true); // end of input: every episode is over
    }
    await this.settle();
  }

  /** Ends every live flow, scoring them chunk by chunk as the engine hands them over (bounded memory). */
  private async flushLive(reason: 'end_of_input' | 'shutdown'): Promise<void> {
    while (this.o.engine.flush(reason) === true) await this.settle();
  }

  /** Live clock tick: expire idle / unanswered flows and emit interim records. */
  tick(wallNowMs: number): void {
    const now = wallNowMs + this.clockOffsetMs;
    this.o.engine.advance(now);
    this.collect();
    // only once scoring caught up: an episode must not close before the flows behind it are scored
    if (!this.worker && this.queue.length === 0) this.expireEpisodes(now);
  }

  /** Realtime replay: the capture clock runs `offsetMs` behind/ahead of the wall clock. */
  setClockOffset(offsetMs: number): void { this.clockOffsetMs = offsetMs; }

  /** Stops the capture; run() then returns without an end-of-input flush (shutdown() follows). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.source?.stop();
  }

  /** SIGTERM: live flows end with reason `shutdown`, are scored and committed. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    this.clock.clearInterval(this.advanceTimer);
    await this.flushLive('shutdown');
    await this.settle();
    this.expireEpisodes(this.tracker.now, true);
  }
}

/**
 * A capture file replayed as fast as possible or at its recorded pace. Fast replay hands classic-pcap records to
 * the engine in bulk when it takes them (`bulk`): the same packets in the same order, and the reader still awaits
 * `afterChunk` after every buffer, so back-pressure is unchanged. Realtime replay paces packet by packet.
 */
export function replaySource(
  path: string,
  mode: 'fast' | 'realtime',
  read: (path: string, sink: PacketSinkFn, opts: { afterChunk: () => Promise<void>; bulk?: PcapBulkSink }) => Promise<unknown>,
  pipeline: Pipeline,
  clock: Clock = systemClock,
): CaptureSource {
  let stopped = false;
  return {
    async run(sink, afterChunk, bulk) {
      if (mode === 'fast') {
        // once stopped, the bulk path takes nothing, so the rest reaches the per-packet sink, which drops it
        const stoppable: PcapBulkSink | undefined = bulk && {
          pcapRecords: (buf, start, end, bigEndian, nanos, linktype, taken) =>
            stopped ? start : bulk.pcapRecords(buf, start, end, bigEndian, nanos, linktype, taken),
        };
        await read(path, (...a) => { if (!stopped) sink(...a); }, { afterChunk, ...(stoppable ? { bulk: stoppable } : {}) });
        return;
      }
      // realtime: copy packets out of the reader's buffer, then feed them when their time comes
      let pending: Array<[Uint8Array, number, number, number]> = [];
      let wallStart = 0;
      let captureStart = 0;
      let lastAdvance = 0;
      await read(path, (buf, off, caplen, wirelen, ts, lt) => {
        pending.push([buf.slice(off, off + caplen), wirelen, ts, lt]);
      }, {
        afterChunk: async () => {
          const pkts = pending;
          pending = [];
          for (const [data, wirelen, ts, lt] of pkts) {
            if (stopped) return;
            if (wallStart === 0) { wallStart = clock.now(); captureStart = ts; pipeline.setClockOffset(captureStart - wallStart); }
            let wait = ts - captureStart - (clock.now() - wallStart);
            while (wait > 1) {
              await new Promise<void>((r) => clock.setTimeout(r, Math.min(wait, 1000)));
              if (clock.now() - lastAdvance >= 1000) { lastAdvance = clock.now(); pipeline.tick(clock.now()); }
              await afterChunk();
              wait = ts - captureStart - (clock.now() - wallStart);
            }
            sink(data, 0, data.length, wirelen, ts, lt);
          }
          await afterChunk();
        },
      });
    },
    async stop() { stopped = true; },
  };
}

/** Live capture streams (one per tcpdump run) fed to the streaming reader until stopped. */
export function liveSource(
  capture: { start(): void; stop(): Promise<void>; on(ev: 'stream', fn: (s: Readable) => void): unknown; on(ev: 'fatal', fn: (e: Error) => void): unknown },
  read: (path: string, sink: PacketSinkFn, opts: { afterChunk: () => Promise<void>; stdin: NodeJS.ReadableStream }) => Promise<unknown>,
  log: Logger,
): CaptureSource {
  let finish!: () => void;
  let fail!: (e: Error) => void;
  const reading = new Set<Promise<unknown>>();
  const done = new Promise<void>((res, rej) => { finish = res; fail = rej; });
  return {
    async run(sink, afterChunk) {
      capture.on('stream', (stream) => {
        const r = read('-', sink, { afterChunk, stdin: stream }).catch((e: Error) => {
          // an empty stream (tcpdump failed before its header) is not a capture error worth more than a line
          log.warn({ err: e.message }, 'live capture stream ended with an error');
        });
        reading.add(r);
        void r.finally(() => reading.delete(r));
      });
      capture.on('fatal', (e) => fail(e));
      capture.start();
      await done;
    },
    async stop() {
      await capture.stop();
      await Promise.allSettled([...reading]); // packets tcpdump wrote before exiting still count
      finish();
    },
  };
}

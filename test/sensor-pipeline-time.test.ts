/**
 * The pipeline in-process on fake time: the real WASM flow core, a scorer that flags every row, the real
 * delivery (outbox in a SQLite file, forwarder, status) over a publisher the test drives. What is checked is
 * the live clock: idle expiry happens on the advance tick and only then, events reach the wire on the flush
 * tick, and a shutdown leaves no timer behind. No broker, no model file, no sleeping.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../common/log.ts';
import { decodeBatch, type RiskEvent } from '../protocol/event.ts';
import { defaults, type SensorConfig } from '../sensor/config.ts';
import { Delivery } from '../sensor/delivery.ts';
import { createFlowEngine } from '../sensor/flow-engine.ts';
import { newCounters } from '../sensor/metrics.ts';
import { Pipeline, type CaptureSource, type PacketSinkFn, type Scorer } from '../sensor/pipeline.ts';
import { ethernet, ipv4, tcp } from './helpers/frames.ts';
import { FakeClock, settle } from './helpers/fake-clock.ts';
import { FakePublisher } from './helpers/fake-publisher.ts';

const dir = mkdtempSync(join(tmpdir(), 'nssen-pipetime-'));
const quiet = createLogger('warn');
const LINKTYPE_ETHERNET = 1;

/** Flags every row as a scan: detection is not what is under test. */
class FlagAll implements Scorer {
  readonly version = 'flag-all-1';
  rows = 0;
  async score(_f: Float32Array, rows: number) {
    this.rows += rows;
    return Array.from({ length: rows }, () => ({ class: 'scan', score: 0.9, anomaly: 0.5, alert: true, alertClass: 'scan', top: [] as Array<[string, number]> }));
  }
}

/** A live capture the test feeds packet by packet. */
class HandFedCapture implements CaptureSource {
  private sink?: PacketSinkFn;
  private afterChunk?: () => Promise<void>;
  private finish!: () => void;
  private readonly done = new Promise<void>((r) => { this.finish = r; });
  async run(sink: PacketSinkFn, afterChunk: () => Promise<void>) {
    this.sink = sink;
    this.afterChunk = afterChunk;
    await this.done;
  }
  async stop() { this.finish(); }
  async feed(frame: Uint8Array, tsMs: number) {
    this.sink!(frame, 0, frame.length, frame.length, tsMs, LINKTYPE_ETHERNET);
    await this.afterChunk!();
  }
}

const syn = (sport: number) => ethernet(0x0800, ipv4({ proto: 6, src: '10.9.0.1', dst: '10.9.0.2' }, tcp({ sport, dport: 22, flags: 0x02 })));

async function setup(id: string) {
  const cfg: SensorConfig = structuredClone(defaults);
  cfg.id = id;
  cfg.outbox.db = join(dir, `${id}.db`);
  cfg.core = { ...cfg.core, maxFlows: 1024, maxHosts: 1024, unansweredS: 3, advanceIntervalMs: 1000 };
  cfg.detect.publish = 'flows'; // every alerting flow is an event: the clock is under test, not episodes
  const clock = new FakeClock();
  const publisher = new FakePublisher();
  publisher.autoAck = true;
  const counters = newCounters();
  const engine = await createFlowEngine(cfg.core, counters);
  const model = new FlagAll();
  const delivery = new Delivery({
    cfg, counters, log: quiet, clock, publisher: publisher.asPublisher(),
    status: { model: () => model.version, counters: () => ({ packets: engine.counters().packets }) },
  });
  const pipeline = new Pipeline({ cfg, engine, model, delivery, counters, log: quiet, clock });
  const capture = new HandFedCapture();
  const events = (): RiskEvent[] => publisher.sentOn('events').flatMap((m) => decodeBatch(m.payload, id).events);
  return { cfg, clock, publisher, counters, model, delivery, pipeline, capture, events };
}

test('live: an unanswered flow expires on the advance tick after its timeout, and is delivered on the flush tick', async () => {
  const { clock, publisher, model, delivery, pipeline, capture, events } = await setup('time-1');
  delivery.start();
  publisher.connect();
  const running = pipeline.run(capture, 'live');
  await capture.feed(syn(40001), clock.now());

  await clock.advance(2000);
  assert.is(model.rows, 0, 'still live at 2 s (unanswered timeout 3 s)');
  assert.is(delivery.outbox.depth, 0);

  await clock.advance(2000);
  assert.is(model.rows, 1, 'expired by the tick at 4 s');
  const got = events();
  assert.is(got.length, 1, 'committed and forwarded within the same ticks');
  assert.is(got[0].flow.end_reason, 'unanswered');
  assert.is(got[0].flow.src_port, 40001);
  assert.is(got[0].sensor, 'time-1');
  assert.is(got[0].model, 'flag-all-1');
  assert.is(delivery.outbox.depth, 0, 'acknowledged rows are gone');

  const status = JSON.parse(publisher.sentOn('status')[0].payload.toString());
  assert.is(status.state, 'online');
  assert.is(status.model, 'flag-all-1');

  await pipeline.stop();
  await running;
  await pipeline.shutdown();
  assert.ok(await delivery.close(1000));
  assert.equal(JSON.parse(publisher.finalStatus!), { state: 'offline', ts: clock.now() });
  assert.is(clock.pending, 0, 'advance, flush and heartbeat timers all cleared');
});

test('shutdown: live flows end with reason shutdown, are scored and committed to the outbox file', async () => {
  const { clock, publisher, delivery, pipeline, capture, events } = await setup('time-2');
  delivery.start();
  const running = pipeline.run(capture, 'live');
  await capture.feed(syn(40002), clock.now());
  await capture.feed(syn(40003), clock.now());
  await clock.advance(1000);
  await pipeline.stop();
  await running;
  await pipeline.shutdown();
  assert.is(delivery.outbox.depth, 2, 'durable before any connection');
  publisher.connect();
  await settle();
  assert.equal(events().map((e) => e.flow.end_reason), ['shutdown', 'shutdown']);
  assert.equal(events().map((e) => e.flow.src_port).sort(), [40002, 40003]);
  assert.ok(await delivery.close(1000));
});

test('heartbeat: the retained status is republished every heartbeatS of fake time', async () => {
  const { cfg, clock, publisher, delivery } = await setup('time-3');
  delivery.start();
  publisher.connect();
  assert.is(publisher.sentOn('status').length, 1, 'on connect');
  await clock.advance(cfg.heartbeatS * 1000 * 3);
  const st = publisher.sentOn('status');
  assert.is(st.length, 4);
  assert.ok(st.every((m) => m.retain));
  assert.is(JSON.parse(st[3].payload.toString()).ts, clock.now());
  assert.ok(await delivery.close(1000));
});

test('OTA: a swapped model brings its calibrated episode thresholds (they live in its metadata)', async () => {
  const { pipeline, delivery } = await setup('time-4');
  const floor = pipeline.tracker.thresholdOf('scan');
  const next: Scorer = Object.assign(new FlagAll(), { version: 'flag-all-2', metadata: { episode_thresholds: JSON.stringify({ scan: floor + 7 }) } });
  await pipeline.setModel(next);
  assert.is(pipeline.modelVersion, 'flag-all-2');
  assert.is(pipeline.tracker.thresholdOf('scan'), floor + 7);
  // back to a model without calibration: the floors
  await pipeline.setModel(new FlagAll());
  assert.is(pipeline.tracker.thresholdOf('scan'), floor);
  await pipeline.shutdown();
  assert.ok(await delivery.close(1000));
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();

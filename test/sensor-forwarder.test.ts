/**
 * The forwarder in-process on fake time: a real outbox (SQLite file), a publisher the test drives by hand.
 * Flush interval, in-flight window, the pause after a failed publish, rewind after a lost connection and the
 * bounded drain are all checked without sleeping.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../common/log.ts';
import { NetsensorError } from '../common/errors.ts';
import { decodeBatch } from '../protocol/event.ts';
import { defaults } from '../sensor/config.ts';
import { Forwarder } from '../sensor/forwarder.ts';
import { newCounters } from '../sensor/metrics.ts';
import { Outbox } from '../sensor/outbox.ts';
import { FakeClock, settle } from './helpers/fake-clock.ts';
import { FakePublisher } from './helpers/fake-publisher.ts';
import { syntheticEvent } from './helpers/synthetic-events.ts';

const dir = mkdtempSync(join(tmpdir(), 'nssen-forwarder-'));
let n = 0;

function setup(over: Partial<typeof defaults.outbox> = {}) {
  const opts = { ...defaults.outbox, flushIntervalMs: 200, batchMaxEvents: 10, inflight: 2, ...over };
  const outbox = new Outbox(join(dir, `f${++n}.db`), { maxRows: 10_000, maxBytes: 10_000_000, maxEventBytes: 60_000 });
  const publisher = new FakePublisher();
  const clock = new FakeClock();
  const logged: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk, _enc, done) { logged.push(JSON.parse(String(chunk))); done(); } });
  const counters = newCounters();
  const fw = new Forwarder({ outbox, publisher, sensorId: 'fw-1', opts, counters, log: createLogger('warn', sink), clock });
  const commit = (k: number) => {
    const evs = Array.from({ length: k }, () => syntheticEvent('fw-1'));
    fw.notify(outbox.add(evs).added);
    return evs.map((e) => e.id);
  };
  const ids = (i: number) => decodeBatch(publisher.sent[i].payload, 'fw-1').events.map((e) => e.id);
  return { fw, outbox, publisher, clock, logged, counters, commit, ids };
}

test('a partial batch waits for the flush tick; a full one goes at once; rows go on PUBACK only', async () => {
  const { fw, outbox, publisher, clock, counters, commit, ids } = setup();
  publisher.connect();
  fw.start();
  const first = commit(3);
  assert.is(publisher.sent.length, 0, 'partial batch: not before the tick');
  await clock.advance(199);
  assert.is(publisher.sent.length, 0);
  await clock.advance(1);
  assert.is(publisher.sent.length, 1, 'sent on the flush tick');
  assert.equal(ids(0), first);
  assert.match(publisher.sent[0].topic, /^netsensor\/v1\/sensors\/fw-1\/events$/);
  assert.is(outbox.depth, 3, 'kept until acknowledged');
  publisher.sent[0].ack();
  await settle();
  assert.is(outbox.depth, 0);
  assert.is(counters.eventsAcked, 3);

  const full = commit(10);
  assert.is(publisher.sent.length, 2, 'a full batch does not wait for the tick');
  assert.equal(ids(1), full);
  fw.stop();
  outbox.close();
});

test('at most `inflight` unacknowledged batches; each PUBACK lets the next one go', async () => {
  const { fw, outbox, publisher, commit } = setup({ inflight: 2 });
  publisher.connect();
  fw.start();
  commit(50);
  assert.is(publisher.sent.length, 2);
  assert.is(fw.inflightBatches, 2);
  publisher.sent[0].ack();
  await settle();
  assert.is(publisher.sent.length, 3);
  for (let i = 1; i < 5; i++) { publisher.sent[i].ack(); await settle(); }
  assert.is(publisher.sent.length, 5);
  assert.is(outbox.depth, 0);
  fw.stop();
  outbox.close();
});

test('a failed publish pauses one second, then the same events go again; the error is logged whole', async () => {
  const { fw, outbox, publisher, clock, logged, counters, commit, ids } = setup();
  publisher.connect();
  fw.start();
  const evs = commit(10);
  publisher.sent[0].fail(new NetsensorError('ERR_OUTBOX', 'broker said no'));
  await settle();
  assert.is(counters.publishFailures, 1);
  const warn = logged.find((l) => l.msg === 'publish failed; will resend')!;
  const err = warn.err as { code: string; stack: string; message: string };
  assert.is(err.code, 'ERR_OUTBOX', 'code kept');
  assert.match(err.stack, /broker said no\n\s+at /, 'stack kept');
  await clock.advance(999);
  assert.is(publisher.sent.length, 1, 'paused');
  await clock.advance(200);
  assert.is(publisher.sent.length, 2, 'resent after the pause, on the next tick');
  assert.equal(ids(1), evs);
  publisher.sent[1].ack();
  await settle();
  assert.is(outbox.depth, 0);
  fw.stop();
  outbox.close();
});

test('a lost connection releases what was in flight; it goes again after reconnecting', async () => {
  const { fw, outbox, publisher, commit, ids } = setup();
  publisher.connect();
  fw.start();
  const evs = commit(10);
  assert.is(publisher.sent.length, 1);
  publisher.disconnect();
  assert.is(fw.inflightBatches, 0);
  publisher.sent[0].fail(new Error('connection closed')); // the dead connection's callback: ignored
  await settle();
  publisher.connect();
  assert.is(publisher.sent.length, 2);
  assert.equal(ids(1), evs, 'same events again (the gateway de-duplicates by id)');
  publisher.sent[1].ack();
  await settle();
  assert.is(outbox.depth, 0);
  fw.stop();
  outbox.close();
});

test('drain: false after its timeout without a connection, true once everything is acknowledged', async () => {
  const { fw, outbox, publisher, clock, commit } = setup();
  fw.start();
  commit(4);
  let result: boolean | undefined;
  void fw.drain(5000).then((r) => { result = r; });
  await clock.advance(4999);
  assert.is(result, undefined);
  await clock.advance(1);
  assert.is(result, false, 'timed out');

  void fw.drain(5000).then((r) => { result = r; });
  result = undefined;
  publisher.autoAck = true;
  publisher.connect();
  await settle();
  assert.is(result, true);
  assert.is(outbox.depth, 0);
  fw.stop();
  assert.is(clock.pending, 0, 'stop() and a finished drain leave no timer behind');
  outbox.close();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();

/**
 * The sensor's allocation-light scoring and publishing paths must give exactly what the plain versions give:
 * attribution (cached gradients, ONNX-provided masks), top-k, stored-batch encoding, event ids, outbox acks.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { decode as cborDecode, encode as cborEncode } from 'cbor-x';
import { decodeModel } from '../models/onnx/builder.ts';
import { FEATURE_NAMES, NUM_FEATURES } from '../core/schema.ts';
import { standardise } from '../models/train/preprocess.ts';
import { encodeBatch } from '../protocol/event.ts';
import { gradientTimesInput, GradientAttributor, topK, TopK } from '../inference/attribution.ts';
import { defaultModelPath, loadModel, netFromInitializers } from '../inference/model.ts';
import { eventId } from '../protocol/event-id.ts';
import { encodeStoredBatch } from '../protocol/batch.ts';
import { Outbox } from '../sensor/outbox.ts';
import { createFlowEngine } from '../sensor/flow-engine.ts';
import { KeyRows } from '../sensor/key-rows.ts';
import { buildFlowPacket, FRAME_BYTES, LINKTYPE_ETHERNET } from '../bench/traffic.ts';
import { syntheticEvent } from './helpers/synthetic-events.ts';

const dir = mkdtempSync(join(tmpdir(), 'nsperf-fastpath-'));

/** A deterministic generator, so a failure can be replayed. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test('GradientAttributor (JS forward + gradient cache) equals gradientTimesInput, and TopK equals topK', () => {
  const net = netFromInitializers(decodeModel(readFileSync(defaultModelPath())), 'cls');
  const classes = net.layers[net.layers.length - 1]!.outputs;
  const a = new GradientAttributor(net);
  const k5 = new TopK(5);
  const rnd = lcg(7);
  let cacheHits = 0;
  for (let r = 0; r < 600; r++) {
    // every third row repeats an earlier one: the cached gradient must give the same answer as a fresh one
    const z = Float32Array.from({ length: NUM_FEATURES }, (_, i) => (rnd() < 0.2 ? 0 : Math.sin(i * (r % 200 + 1)) * 4));
    const cls = r % classes;
    const ref = gradientTimesInput(net, z, cls);
    a.input.set(z);
    const got = a.run(cls);
    assert.equal(Array.from(got), Array.from(ref), `row ${r}`);
    assert.equal(k5.pick(got, 0, NUM_FEATURES, FEATURE_NAMES), topK(ref, FEATURE_NAMES, 5), `top of row ${r}`);
    if (r >= 200) cacheHits++;
  }
  assert.ok(cacheHits > 0);
  // ties and zeros: larger |value| first, lower index first on ties, zeros never listed
  const v = Float32Array.from([0, -2, 2, 0, 1, -3, 2]);
  assert.equal(new TopK(4).pick(v, 0, v.length, ['a', 'b', 'c', 'd', 'e', 'f', 'g']), topK(v, ['a', 'b', 'c', 'd', 'e', 'f', 'g'], 4));
  assert.equal(new TopK(4).pick(new Float32Array(5), 0, 5, ['a', 'b', 'c', 'd', 'e']), []);
});

test('the model explains exactly as before: top features of gradientTimesInput / reconstruction error, only rows asked for', async () => {
  const m = await loadModel();
  const decoded = decodeModel(readFileSync(defaultModelPath()));
  const net = netFromInitializers(decoded, 'cls');
  const mean = decoded.initializers.get('prep.mean')!.data as Float32Array;
  const std = decoded.initializers.get('prep.std')!.data as Float32Array;
  const rnd = lcg(11);
  const rows = 2048;
  const x = new Float32Array(rows * NUM_FEATURES);
  for (let i = 0; i < x.length; i++) x[i] = rnd() < 0.3 ? 0 : Math.floor(rnd() ** 6 * 200);
  const scores = await m.score(x, rows, { topFeatures: 5, explainAll: true });
  let compared = 0;
  for (let r = 0; r < rows; r++) {
    const s = scores[r]!;
    if (s.alertClass === 'anomaly') continue;
    const z = standardise(x.subarray(r * NUM_FEATURES, (r + 1) * NUM_FEATURES), 1, NUM_FEATURES, { mean, std });
    assert.equal(s.top, topK(gradientTimesInput(net, z, m.classNames.indexOf(s.class)), FEATURE_NAMES, 5), `row ${r}`);
    compared++;
  }
  assert.ok(compared > 100, `${compared} rows compared`);
  const none = await m.score(x, rows, { topFeatures: 5, explainIf: () => false });
  assert.ok(none.every((s) => s.top.length === 0));
  const some = await m.score(x, rows, { topFeatures: 5, explainIf: (c) => c !== 'benign' });
  assert.ok(some.every((s, r) => (s.class !== 'benign') === (s.top.length > 0) && JSON.stringify(s.top) === JSON.stringify(s.class !== 'benign' ? scores[r]!.top : [])));
  await m.close();
});

test('encodeStoredBatch is byte for byte encodeBatch, for every array header size', () => {
  for (const n of [0, 1, 23, 24, 255, 256, 300]) {
    const events = Array.from({ length: n }, () => syntheticEvent('s-fast'));
    const ref = encodeBatch({ v: 1, sensor: 's-fast', seq: 1_795_308_906_830 + n, events });
    const got = encodeStoredBatch('s-fast', 1_795_308_906_830 + n, events.map((e) => cborEncode(e)));
    assert.ok(Buffer.compare(ref, got) === 0, `n=${n}`);
    assert.equal((cborDecode(got) as { events: unknown[] }).events.length, n);
  }
});

test('event ids: UUIDv7, unique and strictly increasing even within one millisecond', () => {
  const ids = Array.from({ length: 20_000 }, () => eventId());
  const fixedMs = Array.from({ length: 1000 }, () => eventId(4_000_000_000_000));
  for (const list of [ids, fixedMs]) {
    assert.is(new Set(list).size, list.length);
    for (let i = 1; i < list.length; i++) assert.ok(list[i - 1]! < list[i]!, `${list[i - 1]} < ${list[i]}`);
    assert.ok(list.every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)));
  }
});

test('outbox: acks are deleted without an fsync of their own, adds stay synchronous=FULL; batches carry the stored bodies', () => {
  const path = join(dir, 'sync.db');
  const ob = new Outbox(path, { maxRows: 1000, maxBytes: 10_000_000, maxEventBytes: 60_000 });
  const evs = Array.from({ length: 30 }, () => syntheticEvent('s-fast'));
  ob.add(evs);
  const b = ob.next(20, 1e9)!;
  assert.equal(b.bodies.map((x) => (cborDecode(x) as { id: string }).id), evs.slice(0, 20).map((e) => e.id));
  assert.equal(b.events.map((e) => e.id), evs.slice(0, 20).map((e) => e.id));
  assert.ok(b.createdMs.every((t) => Math.abs(Date.now() - t) < 60_000));
  assert.is(ob.ack(b.seqs), 20);
  // the connection's mode after an ack must be FULL again (2), or the next add would not be fsynced
  const db = (ob as unknown as { db: Database.Database }).db;
  assert.is(db.pragma('synchronous', { simple: true }), 2);
  ob.close();
  const again = new Outbox(path, { maxRows: 1000, maxBytes: 10_000_000, maxEventBytes: 60_000 });
  assert.is(again.depth, 10);
  again.close();
});

test('a flush of many live flows pauses in chunks, loses none and repeats none', async () => {
  const engine = await createFlowEngine({ maxFlows: 65_536, maxHosts: 16_384, unansweredS: 3600, interimS: 0, advanceIntervalMs: 1000 });
  const flows = 30_000;
  const frame = new Uint8Array(FRAME_BYTES);
  let ts = 1_700_000_000_000;
  for (let i = 0; i < flows; i++) {
    for (const reply of [false, true]) {
      buildFlowPacket(frame, i, reply);
      engine.packet(frame, 0, FRAME_BYTES, FRAME_BYTES, (ts += 0.01), LINKTYPE_ETHERNET);
    }
  }
  const seen = new Set<string>();
  let pauses = 0, maxHeld = 0, total = 0;
  for (;;) {
    const more = engine.flush('end_of_input');
    let held = 0;
    for (let r = engine.take(); r; r = engine.take()) {
      held += r.count;
      total += r.count;
      const keys = new KeyRows(r.keyBytes);
      for (let i = 0; i < r.count; i++) {
        const k = keys.wire(i);
        assert.is(k.end_reason, 'end_of_input');
        seen.add(`${k.src_ip}:${k.src_port}>${k.dst_ip}:${k.dst_port}`);
      }
    }
    maxHeld = Math.max(maxHeld, held);
    if (!more) break;
    pauses++;
  }
  assert.is(seen.size, flows, 'every live flow reported');
  assert.is(total, flows, 'each once');
  assert.is(engine.counters().activeFlows, 0);
  assert.is(engine.counters().packets, 2 * flows, 'no packet processed twice');
  assert.ok(pauses >= 2, `${pauses} pauses`);
  assert.ok(maxHeld <= 8192 + 1024, `at most one chunk held at once (${maxHeld} rows)`);
  assert.is(engine.flush('end_of_input'), false, 'nothing left');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();

/**
 * The shipped detection model: matches the feature schema, agrees with its float reference on golden flow rows,
 * and a corrupt, truncated or incompatible model file is refused with a typed error.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeModel, onnx } from '../models/onnx/builder.ts';
import { FEATURE_NAMES, NUM_FEATURES, SCHEMA_ID } from '../core/schema.ts';
import { defaultModelPath, loadModel, loadModelBytes } from '../inference/model.ts';
import { NetsensorError } from '../common/errors.ts';
import { packagePath } from '../common/paths.ts';

const int8Path = defaultModelPath();
const floatPath = packagePath('models/netsensor-detect-float.onnx');

async function refused(p: Promise<unknown>): Promise<NetsensorError> {
  try { await p; } catch (e) {
    assert.instance(e, NetsensorError);
    return e as NetsensorError;
  }
  throw new Error('model was accepted');
}

test('shipped model input width and feature names equal the schema', async () => {
  const bytes = readFileSync(int8Path);
  const m = onnx.ModelProto.decode(bytes);
  const input = m.graph!.input![0]!;
  assert.equal(input.name, 'features');
  const dims = input.type!.tensorType!.shape!.dim!;
  assert.equal(dims.length, 2);
  assert.equal(Number(dims[1]!.dimValue), NUM_FEATURES);
  const d = decodeModel(bytes);
  assert.equal(d.metadata.feature_schema_id, SCHEMA_ID);
  assert.equal(JSON.parse(d.metadata.feature_names!), [...FEATURE_NAMES]);
  assert.equal(d.initializers.get('prep.mean')!.data.length, NUM_FEATURES);
  const model = await loadModel();
  assert.equal(model.quantization, 'int8-qdq-w7');
  assert.ok(model.classNames.includes('benign') && model.classNames.length >= 7);
  assert.ok(model.thresholds.anomaly > 0);
  await model.close();
});

test('golden flow rows get the same class in float and int8, and the labelled one', async () => {
  const golden = JSON.parse(readFileSync(new URL('./fixtures/model/golden-rows.json', import.meta.url), 'utf8')) as { label: string; features: number[] }[];
  assert.ok(golden.length >= 7);
  const x = new Float32Array(golden.length * NUM_FEATURES);
  golden.forEach((g, i) => { assert.equal(g.features.length, NUM_FEATURES); x.set(g.features, i * NUM_FEATURES); });
  const q = await loadModel(int8Path), f = await loadModel(floatPath);
  const sq = await q.score(x, golden.length), sf = await f.score(x, golden.length);
  golden.forEach((g, i) => {
    assert.equal(sq[i]!.class, sf[i]!.class, `row ${i} (${g.label}): int8 ${sq[i]!.class} vs float ${sf[i]!.class}`);
    assert.equal(sq[i]!.class, g.label, `row ${i}`);
    assert.ok(Math.abs(sq[i]!.score - sf[i]!.score) < 0.05);
  });
  const attack = sq.findIndex((s, i) => s.alert && golden[i]!.label !== 'benign');
  assert.ok(attack >= 0 && sq[attack]!.top.length > 0, 'an alerting row carries its top features');
  assert.ok(sq[attack]!.top.every(([name]) => FEATURE_NAMES.includes(name)));
  await q.close(); await f.close();
});

test('an anomaly alert is explained by its own row\'s per-feature error, fetched only for the rows explained', async () => {
  // varied rows, every one an anomaly alert (no class may alert, anomaly ratio ≥ 0), every third one explained: the
  // explained rows sit at other indices in the second run than in the batch, so a mix-up shows
  const rows = 30;
  const x = new Float32Array(rows * NUM_FEATURES);
  let seed = 7;
  for (let i = 0; i < x.length; i++) { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; x[i] = (seed % 100_000) / 10 * (i % 3 === 0 ? 50 : 1); }
  const model = await loadModel(int8Path);
  let seen = 0;
  const scores = await model.score(x, rows, { decision: { classThreshold: 1.01, anomalyThreshold: 0 }, explainIf: (_c, _s, _a, alert) => alert && ++seen % 3 === 0 });
  const session = await ort.InferenceSession.create(readFileSync(int8Path));
  const all = (await session.run({ features: new ort.Tensor('float32', x, [rows, NUM_FEATURES]) })).anomaly_feature_error!.data as Float32Array;
  let explained = 0;
  scores.forEach((s, r) => {
    assert.is(s.alertClass, 'anomaly', `row ${r}`);
    if (r % 3 !== 2) { assert.equal(s.top, [], `row ${r} was not to be explained`); return; }
    explained++;
    const err = all.subarray(r * NUM_FEATURES, (r + 1) * NUM_FEATURES);
    const want = [...err].map((v, i) => [FEATURE_NAMES[i]!, v] as const).sort((a, b) => b[1] - a[1]).slice(0, 5).map(([n]) => n);
    assert.equal(s.top.map(([n]) => n), want, `row ${r}: its own five largest per-feature errors`);
    // reported to 4 significant digits
    s.top.forEach(([n, v]) => assert.is(v, Number(err[FEATURE_NAMES.indexOf(n)]!.toPrecision(4)), `row ${r} ${n}`));
  });
  assert.is(explained, 10);
  await session.release();
  await model.close();
});

test('a file that is not ONNX is refused with ERR_MODEL_LOAD', async () => {
  const e = await refused(loadModelBytes(new TextEncoder().encode('this is not a model at all'), 'garbage.onnx'));
  assert.is(e.code, 'ERR_MODEL_LOAD');
  assert.match(e.message, /garbage\.onnx/);
});

test('a truncated model file is refused with ERR_MODEL_LOAD', async () => {
  const bytes = readFileSync(int8Path);
  const e = await refused(loadModelBytes(bytes.subarray(0, Math.floor(bytes.length * 0.6)), 'truncated.onnx'));
  assert.is(e.code, 'ERR_MODEL_LOAD');
});

test('a missing model file is refused with ERR_MODEL_LOAD', async () => {
  const e = await refused(loadModel('/nonexistent/netsensor-model.onnx'));
  assert.is(e.code, 'ERR_MODEL_LOAD');
});

test('a model for another feature schema is refused with ERR_MODEL_INCOMPATIBLE', async () => {
  const m = onnx.ModelProto.decode(readFileSync(int8Path));
  for (const p of m.metadataProps) if (p.key === 'feature_schema_id') p.value = 'nsf0-000000000000';
  const e = await refused(loadModelBytes(onnx.ModelProto.encode(m).finish(), 'old-schema.onnx'));
  assert.is(e.code, 'ERR_MODEL_INCOMPATIBLE');
  assert.match(e.message, /nsf0-000000000000/);
  assert.match(e.message, new RegExp(SCHEMA_ID));
});

test('an ONNX model without netsensor metadata is refused with ERR_MODEL_INCOMPATIBLE', async () => {
  const m = onnx.ModelProto.decode(readFileSync(int8Path));
  m.metadataProps = [];
  const e = await refused(loadModelBytes(onnx.ModelProto.encode(m).finish(), 'plain.onnx'));
  assert.is(e.code, 'ERR_MODEL_INCOMPATIBLE');
});

test.run();

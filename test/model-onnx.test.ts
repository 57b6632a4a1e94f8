/**
 * The ONNX path on synthetic data: a classifier and autoencoder trained in TypeScript, exported to float and
 * int8 QDQ graphs, run by onnxruntime-node. Checks the graph computes what the training code computes, and
 * that int8 keeps the classes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ort from 'onnxruntime-node';
import { NUM_FEATURES } from '../core/schema.ts';
import { createRng } from '../models/train/rng.ts';
import { fitStandardiser, standardise, Z_CLIP } from '../models/train/preprocess.ts';
import { predictProba, trainClassifier } from '../models/train/classifier.ts';
import { reconstructionError, trainAutoencoder } from '../models/train/autoencoder.ts';
import { netForward } from '../models/train/dense.ts';
import { buildDetectionModel } from '../models/onnx/export.ts';
import { decodeModel } from '../models/onnx/builder.ts';
import { dequantizeWeight, quantizeWeight, tensorRange, WEIGHT_QMAX } from '../models/onnx/quantize.ts';

const F = NUM_FEATURES, C = 7;

/** Gaussian clusters in log space: heavy-tailed like flow counts, one cluster per class. */
function clusters(n: number, seed: number) {
  const rng = createRng(seed);
  const centers = Array.from({ length: C }, () => Array.from({ length: F }, () => Math.exp(rng.gauss() * 2.5)));
  const x = new Float32Array(n * F), y = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const c = r % C;
    y[r] = c;
    for (let i = 0; i < F; i++) x[r * F + i] = centers[c]![i]! * Math.exp(rng.gauss() * 0.9) * (i === 5 && r % 11 === 0 ? -1 : 1);
  }
  return { x, y };
}

const train = clusters(2100, 11);
const held = clusters(1400, 11).x; // same centres (same seed), fresh noise below
const heldOut = clusters(1400, 11);
for (let i = 0; i < held.length; i++) held[i] = heldOut.x[i]! * Math.exp(createRng(i).gauss() * 0.1);
const st = fitStandardiser(train.x, 2100, F);
const zTrain = standardise(train.x, 2100, F, st);
const cls = trainClassifier(zTrain, train.y, F, C, { hidden: [32, 16], epochs: 4, batch: 64, lr: 3e-3, weightDecay: 0, seed: 3 });
const benignRows = Array.from({ length: 300 }, (_, k) => k * C);
const zb = new Float32Array(benignRows.length * F);
benignRows.forEach((r, k) => zb.set(zTrain.subarray(r * F, (r + 1) * F), k * F));
const ae = trainAutoencoder(zb, benignRows.length, F, { hidden: [16, 4, 16], epochs: 4, batch: 64, lr: 3e-3, seed: 4 });
const ranges = new Map<string, [number, number]>();
for (const [p, net, z, n] of [['cls', cls, zTrain, 2100], ['ae', ae, zTrain, 2100]] as const) {
  const acts = netForward(net, z, n);
  net.layers.forEach((_, l) => ranges.set(`${p}.l${l}`, tensorRange(acts[l]!)));
}
const meta = { feature_schema_id: 'synthetic' };
const floatBytes = buildDetectionModel({ standardiser: st, classifier: cls, autoencoder: ae, metadata: meta });
const int8Bytes = buildDetectionModel({ standardiser: st, classifier: cls, autoencoder: ae, metadata: meta, activationRanges: ranges });

async function run(bytes: Uint8Array, x: Float32Array, n: number) {
  const s = await ort.InferenceSession.create(bytes);
  const out = await s.run({ features: new ort.Tensor('float32', x, [n, F]) });
  await s.release();
  return { p: out.probabilities!.data as Float32Array, e: out.anomaly_error!.data as Float32Array, fe: out.anomaly_feature_error!.data as Float32Array };
}
const argmax = (p: ArrayLike<number>, r: number): number => {
  let b = 0;
  for (let c = 1; c < C; c++) if (p[r * C + c]! > p[r * C + b]!) b = c;
  return b;
};

test('7-bit per-channel weight quantization stays in range and round-trips within half a step', () => {
  const rng = createRng(5);
  const w = Float32Array.from({ length: 40 * 8 }, () => rng.gauss() * (1 + rng.next() * 3));
  const q = quantizeWeight(w, 40, 8);
  assert.ok(q.q.every((v) => Math.abs(v) <= WEIGHT_QMAX));
  assert.ok(q.q.some((v) => Math.abs(v) === WEIGHT_QMAX), 'the largest weight of a channel uses the full range');
  const back = dequantizeWeight(q.q, q.scale, 8);
  for (let k = 0; k < w.length; k++) assert.ok(Math.abs(back[k]! - w[k]!) <= q.scale[k % 8]! / 2 + 1e-6);
});

test('float graph reproduces the TypeScript forward pass (preprocessing, MLP, softmax, reconstruction error)', async () => {
  const n = 300;
  const x = held.subarray(0, n * F);
  const { p, e } = await run(floatBytes, x, n);
  const z = standardise(x, n, F, st);
  const ref = predictProba(cls, z, n);
  const refErr = reconstructionError(ae, z, n, F);
  let maxP = 0, maxE = 0;
  for (let i = 0; i < ref.length; i++) maxP = Math.max(maxP, Math.abs(ref[i]! - p[i]!));
  for (let r = 0; r < n; r++) maxE = Math.max(maxE, Math.abs(refErr[r]! - e[r]!) / Math.max(1e-3, refErr[r]!));
  assert.ok(maxP < 1e-4, `probabilities differ by ${maxP}`);
  assert.ok(maxE < 1e-3, `reconstruction error differs by ${maxE} (relative)`);
});

test('input outside the training range is clipped, not propagated', async () => {
  const x = new Float32Array(F).fill(1e30);
  const { e, fe } = await run(floatBytes, x, 1);
  assert.ok(Number.isFinite(e[0]!));
  assert.ok(fe.every((v) => Number.isFinite(v) && v <= (2 * Z_CLIP + 100) ** 2));
});

test('int8 QDQ model: top-1 agreement with float ≥ 99.5 % on held-out rows, and smaller', async () => {
  const n = 1400;
  const f = await run(floatBytes, held, n);
  const q = await run(int8Bytes, held, n);
  let agree = 0, correct = 0;
  for (let r = 0; r < n; r++) { if (argmax(f.p, r) === argmax(q.p, r)) agree++; if (argmax(f.p, r) === heldOut.y[r]) correct++; }
  assert.ok(correct / n > 0.95, `float accuracy ${correct / n}`);
  assert.ok(agree / n >= 0.995, `agreement ${agree / n}`);
  assert.ok(int8Bytes.length < floatBytes.length * 0.6, `int8 ${int8Bytes.length} B vs float ${floatBytes.length} B`);
  // The anomaly output survives quantization closely enough to keep its ordering.
  let concordant = 0, pairs = 0;
  for (let r = 0; r + 1 < 400; r += 2) { pairs++; if ((f.e[r]! - f.e[r + 1]!) * (q.e[r]! - q.e[r + 1]!) > 0) concordant++; }
  assert.ok(concordant / pairs > 0.9, `anomaly ordering kept for ${concordant}/${pairs} pairs`);
});

test('the int8 file stores int8 weights and the metadata round-trips', () => {
  const d = decodeModel(int8Bytes);
  assert.equal(d.metadata.feature_schema_id, 'synthetic');
  assert.instance(d.initializers.get('cls.l0.weight_q')!.data, Int8Array);
  assert.not.ok(d.initializers.has('cls.l0.weight'));
  assert.equal(d.inputs, ['features']);
  assert.equal(d.outputs, ['probabilities', 'anomaly_error', 'anomaly_feature_error']);
});

test.run();

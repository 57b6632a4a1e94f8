/**
 * Dataset → trained, calibrated, quantized detection model (float reference + int8 QDQ), evaluated on the
 * held-out test runs. Everything is seeded; the same dataset and seed give the same model bytes.
 *
 *  1. standardiser fitted on training rows (capped per run and class so a flood's 4,000 one-packet flows
 *     do not drown a run with 20 beacons);
 *  2. MLP classifier on all classes; autoencoder on benign training rows;
 *  3. activation ranges for QDQ from the training rows; int8 and float graphs exported;
 *  4. thresholds calibrated on the validation runs with the int8 model as shipped: anomaly = log-normal fit of
 *     benign reconstruction errors at `anomalyFpr`; class thresholds within `classFalseAlertRate`;
 *  5. test-run evaluation: per-class P/R/F1, confusion, false alerts per 10k benign flows, int8-vs-float
 *     agreement, size, batch throughput.
 * Rows of the benign public-capture corpus (scenario `corpus-*`, models/corpus), when the dataset holds them,
 * join the benign class of their split: train rows train (capped per capture like a lab run), validation rows
 * calibrate (capped the same way, so one busy capture does not set the thresholds), test rows are only
 * reported, per capture, apart from the lab test figures.
 */
import * as ort from 'onnxruntime-node';
import { decodeModel } from '../onnx/builder.js';
import { buildDetectionModel, INPUT_NAME, OUTPUT_ANOMALY, OUTPUT_PROBABILITIES } from '../onnx/export.js';
import { BENIGN_CLASS, META } from '../../inference/metadata.js';
import { tensorRange } from '../onnx/quantize.js';
import { FEATURE_NAMES, NUM_FEATURES, SCHEMA_ID } from '../../core/schema.js';
import { DEFAULT_AUTOENCODER, trainAutoencoder } from './autoencoder.js';
import { calibrateAnomalyThreshold, calibrateClassThresholds } from './calibrate.js';
import { DEFAULT_CLASSIFIER, trainClassifier } from './classifier.js';
import { gatherFeatures, isCorpusRow, selectRows, type Dataset, type FlowRowMeta } from './dataset.js';
import { netForward } from './dense.js';
import { evaluate, type Evaluation } from './metrics.js';
import { fitStandardiser, standardise } from './preprocess.js';
import { createRng } from './rng.js';

export const DEFAULT_CLASSES = ['benign', 'scan', 'dos', 'bruteforce', 'dns_tunnel', 'exfil', 'c2', 'tunnel'] as const;

export interface TrainOptions {
  seed: number;
  version: string;
  epochs: number;
  aeEpochs: number;
  capPerRunClass: number;
  anomalyFpr: number;
  classFalseAlertRate: number;
  log?: (msg: string) => void;
}

export const DEFAULT_TRAIN: TrainOptions = { seed: 1, version: '1.1.0', epochs: 40, aeEpochs: 30, capPerRunClass: 600, anomalyFpr: 1e-4, classFalseAlertRate: 1e-4 };

export interface ScoredSet { probs: Float32Array; anomaly: Float32Array; rows: number; }

export async function runModel(bytes: Uint8Array, x: Float32Array, rows: number, batch = 4096): Promise<ScoredSet> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const classes = JSON.parse(sessionMeta(bytes, META.classNames)).length as number;
  const probs = new Float32Array(rows * classes), anomaly = new Float32Array(rows);
  for (let s = 0; s < rows; s += batch) {
    const n = Math.min(batch, rows - s);
    const out = await session.run({ [INPUT_NAME]: new ort.Tensor('float32', x.subarray(s * NUM_FEATURES, (s + n) * NUM_FEATURES), [n, NUM_FEATURES]) });
    probs.set(out[OUTPUT_PROBABILITIES]!.data as Float32Array, s * classes);
    anomaly.set(out[OUTPUT_ANOMALY]!.data as Float32Array, s);
  }
  await session.release();
  return { probs, anomaly, rows };
}

function sessionMeta(bytes: Uint8Array, key: string): string {
  return decodeModel(bytes).metadata[key] ?? '[]';
}

export function argmaxRows(probs: Float32Array, rows: number, k: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let b = 0;
    for (let c = 1; c < k; c++) if (probs[r * k + c]! > probs[r * k + b]!) b = c;
    out[r] = b;
  }
  return out;
}

/** The decision as deployed: an attack class only at or above its threshold, else benign. */
export function thresholdedRows(probs: Float32Array, rows: number, thresholds: number[], benign: number): Int32Array {
  const k = thresholds.length;
  const am = argmaxRows(probs, rows, k);
  return am.map((c, r) => (c !== benign && probs[r * k + c]! >= thresholds[c]! ? c : benign));
}

const DST_HOST_FEATURES = FEATURE_NAMES.map((n, i) => (n.startsWith('dst_host_') ? i : -1)).filter((i) => i >= 0);

/**
 * A benign flow to a server that is being flooded or scanned is still benign, but in the lab such flows are
 * rare, so the classifier can learn "busy responder ⇒ attack" from the responder's host-window features. Each
 * benign training row gets one copy whose dst_host_* features come from a random attack row (labels stay
 * benign), which teaches the classifier to judge a flow by its own behaviour and its initiator.
 */
export function augmentBenignUnderAttack(x: Float32Array, y: Int32Array, benign: number, seed: number): { x: Float32Array; y: Int32Array; augmented: number } {
  const rows = y.length;
  const attacks: number[] = [], benigns: number[] = [];
  for (let r = 0; r < rows; r++) (y[r] === benign ? benigns : attacks).push(r);
  if (attacks.length === 0 || benigns.length === 0) return { x, y, augmented: 0 };
  const rng = createRng(seed ^ 0xa11ce);
  const out = new Float32Array((rows + benigns.length) * NUM_FEATURES);
  out.set(x);
  const yOut = new Int32Array(rows + benigns.length);
  yOut.set(y);
  benigns.forEach((r, k) => {
    const dst = (rows + k) * NUM_FEATURES;
    out.set(x.subarray(r * NUM_FEATURES, (r + 1) * NUM_FEATURES), dst);
    const a = attacks[rng.int(attacks.length)]!;
    for (const i of DST_HOST_FEATURES) out[dst + i] = x[a * NUM_FEATURES + i]!;
    yOut[rows + k] = benign;
  });
  return { x: out, y: yOut, augmented: benigns.length };
}

const fi = (name: string): number => FEATURE_NAMES.indexOf(name);

/**
 * The lab's benign hosts are always busy, so every benign training flow carries warm host windows, while a
 * lone flow from a quiet host (a small capture, a device that talks once a minute) has windows holding little
 * more than the flow itself. Without such examples the classifier extrapolates "cold host" towards the attack
 * classes whose first probes look like that. This adds, for each benign row, a copy whose host-window features
 * are what they would be if the flow were the hosts' only recent traffic (label stays benign). Attack rows are
 * left alone — a lone probe is indistinguishable from a benign failed connection, and the model should say so —
 * except DNS tunnel rows, whose evidence (one long high-entropy query name) stands on its own.
 */
export function augmentColdHosts(x: Float32Array, y: Int32Array, classes: number[]): { x: Float32Array; y: Int32Array; augmented: number } {
  const rows = y.length;
  const benigns: number[] = [];
  for (let r = 0; r < rows; r++) if (classes.includes(y[r]!)) benigns.push(r);
  const out = new Float32Array((rows + benigns.length) * NUM_FEATURES);
  out.set(x);
  const yOut = new Int32Array(rows + benigns.length);
  yOut.set(y);
  benigns.forEach((r, k) => {
    const src = r * NUM_FEATURES, dst = (rows + k) * NUM_FEATURES;
    out.set(x.subarray(src, src + NUM_FEATURES), dst);
    const v = (name: string): number => x[src + fi(name)]!;
    const failed = v('dst2src_packets') === 0 || v('dst2src_rst_packets') > 0 ? 1 : 0;
    for (const w of [1, 10, 100]) {
      const set = (name: string, value: number): void => { out[dst + fi(name)] = value; };
      set(`src_host_w${w}s_packets`, v('src2dst_packets'));
      set(`src_host_w${w}s_mean_ps`, v('src2dst_mean_ps'));
      set(`src_host_w${w}s_stddev_ps`, v('src2dst_stddev_ps'));
      set(`src_host_w${w}s_flows`, 1);
      set(`src_host_w${w}s_dst_hosts`, 1);
      set(`src_host_w${w}s_dst_ports`, 1);
      set(`src_host_w${w}s_failed_flows`, failed);
      set(`dst_host_w${w}s_packets`, v('src2dst_packets'));
      set(`dst_host_w${w}s_flows`, 1);
      set(`dst_host_w${w}s_src_hosts`, 1);
    }
    yOut[rows + k] = y[r]!;
  });
  return { x: out, y: yOut, augmented: benigns.length };
}

export interface TrainResult {
  int8: Uint8Array;
  float: Uint8Array;
  report: TrainReport;
}

export interface TrainReport {
  version: string;
  schemaId: string;
  classNames: string[];
  rows: Record<string, Record<string, number>>;
  runs: Record<string, string[]>;
  classThresholds: number[];
  anomaly: { threshold: number; mu: number; sigma: number; targetFpr: number; empirical: number };
  test: {
    argmax: Evaluation;
    thresholded: Evaluation;
    float: Evaluation;
    benignFlows: number;
    falseAlertsPer10k: { classifier: number; anomaly: number; any: number };
    anomalyRecallOnAttacks: number;
    int8FloatTop1Agreement: number;
  };
  /** Held-out benign corpus captures (absent without corpus rows): how many raise any flow alert, and which. */
  corpusTest?: { captures: number; flows: number; capturesAlerting: number; capturesByClass: Record<string, number>; falseAlertsPer10k: number };
  sizeBytes: { int8: number; float: number };
  throughputRowsPerS: { int8: number; float: number; batch: number };
}

export async function trainModel(ds: Dataset, opts: TrainOptions, classNames: readonly string[] = DEFAULT_CLASSES): Promise<TrainResult> {
  const log = opts.log ?? (() => {});
  const labelIndex = (l: string): number => {
    const i = classNames.indexOf(l);
    if (i < 0) throw new Error(`dataset label '${l}' is not a model class`);
    return i;
  };
  const benign = labelIndex(BENIGN_CLASS);
  const lab = (m: FlowRowMeta): boolean => !isCorpusRow(m);
  const trainRows = selectRows(ds, ['train'], opts.capPerRunClass);
  const valRows = [...selectRows(ds, ['val'], Infinity, lab), ...selectRows(ds, ['val'], opts.capPerRunClass, isCorpusRow)].sort((a, b) => a - b);
  const testRows = selectRows(ds, ['test'], Infinity, lab);
  const corpusTestRows = selectRows(ds, ['test'], Infinity, isCorpusRow);
  const corpusIn = (rows: number[]): number => rows.reduce((n, r) => n + (isCorpusRow(ds.meta[r]!) ? 1 : 0), 0);
  const interimIn = (rows: number[]): number => rows.reduce((n, r) => n + (ds.meta[r]!.record === 'interim' ? 1 : 0), 0);
  log(`rows: train ${trainRows.length} (capped; ${corpusIn(trainRows)} corpus, ${interimIn(trainRows)} interim), val ${valRows.length} (${corpusIn(valRows)} corpus, ${interimIn(valRows)} interim), test ${testRows.length} (${interimIn(testRows)} interim; + ${corpusTestRows.length} corpus, reported apart)`);
  const xRaw = gatherFeatures(ds, trainRows);
  const yRaw = Int32Array.from(trainRows, (r) => labelIndex(ds.meta[r]!.label));
  const underAttack = augmentBenignUnderAttack(xRaw, yRaw, benign, opts.seed);
  const cold = augmentColdHosts(xRaw, yRaw, [benign, classNames.indexOf('dns_tunnel')].filter((c) => c >= 0));
  // Original rows first (the autoencoder and the activation ranges use them), then both augmented sets.
  const extra = (a: { x: Float32Array; y: Int32Array }): { x: Float32Array; y: Int32Array } => ({ x: a.x.subarray(xRaw.length), y: a.y.subarray(yRaw.length) });
  const parts = [{ x: xRaw, y: yRaw }, extra(underAttack), extra(cold)];
  const xTrain = new Float32Array(parts.reduce((s, p) => s + p.x.length, 0));
  const yTrain = new Int32Array(parts.reduce((s, p) => s + p.y.length, 0));
  let xo = 0, yo = 0;
  for (const p of parts) { xTrain.set(p.x, xo); yTrain.set(p.y, yo); xo += p.x.length; yo += p.y.length; }
  const augmented = underAttack.augmented + cold.augmented;
  log(`augmentation: ${underAttack.augmented} benign rows with an attacked responder's host windows, ${cold.augmented} benign/dns_tunnel rows with cold host windows`);
  const nTrain = yTrain.length;
  const st = fitStandardiser(xTrain, nTrain, NUM_FEATURES);
  const zTrain = standardise(xTrain, nTrain, NUM_FEATURES, st);

  const classifier = trainClassifier(zTrain, yTrain, NUM_FEATURES, classNames.length, {
    ...DEFAULT_CLASSIFIER, epochs: opts.epochs, seed: opts.seed,
    onEpoch: (e, l) => { if (e % 10 === 9 || e === opts.epochs - 1) log(`classifier epoch ${e + 1}: loss ${l.toFixed(4)}`); },
  });
  const benignIdx = Array.from({ length: nTrain - augmented }, (_, k) => k).filter((k) => yTrain[k] === benign);
  const zBenign = new Float32Array(benignIdx.length * NUM_FEATURES);
  benignIdx.forEach((k, j) => zBenign.set(zTrain.subarray(k * NUM_FEATURES, (k + 1) * NUM_FEATURES), j * NUM_FEATURES));
  const autoencoder = trainAutoencoder(zBenign, benignIdx.length, NUM_FEATURES, {
    ...DEFAULT_AUTOENCODER, epochs: opts.aeEpochs, seed: opts.seed + 1,
    onEpoch: (e, l) => { if (e % 10 === 9 || e === opts.aeEpochs - 1) log(`autoencoder epoch ${e + 1}: loss ${l.toFixed(4)}`); },
  });

  // Activation ranges for QDQ. The autoencoder's come from ALL training rows, not only the benign ones it was
  // trained on: attack flows drive its activations further, and a range that clips them would blunt exactly
  // the reconstruction errors the anomaly threshold must see.
  const ranges = new Map<string, [number, number]>();
  for (const [prefix, net, z, n] of [['cls', classifier, zTrain, nTrain], ['ae', autoencoder, zTrain, nTrain]] as const) {
    const acts = netForward(net, z, n);
    net.layers.forEach((_, l) => ranges.set(`${prefix}.l${l}`, tensorRange(acts[l]!)));
  }

  const summary = (rows: number[]): Record<string, number> => {
    const c: Record<string, number> = {};
    for (const r of rows) c[ds.meta[r]!.label] = (c[ds.meta[r]!.label] ?? 0) + 1;
    return c;
  };
  const runsOf = (split: string): string[] => [...new Set(ds.meta.filter((m) => m.split === split && lab(m)).map((m) => m.run))];
  const capturesOf = (split: string): number => new Set(ds.meta.filter((m) => m.split === split && isCorpusRow(m)).map((m) => m.run)).size;
  const hasCorpus = ds.meta.some(isCorpusRow);
  const rowsSummary = { train: summary(trainRows), val: summary(valRows), test: summary(testRows) };
  const baseMeta = (extra: Record<string, string>, quantization: string): Record<string, string> => ({
    [META.schemaId]: SCHEMA_ID,
    [META.featureNames]: JSON.stringify(FEATURE_NAMES),
    [META.classNames]: JSON.stringify(classNames),
    [META.version]: opts.version,
    [META.quantization]: quantization,
    [META.trainingData]: JSON.stringify({
      source: hasCorpus ? 'netsensor traffic lab (models/lab) + benign public-capture corpus (models/corpus)' : 'netsensor traffic lab (models/lab)',
      rows: rowsSummary, runs: { train: runsOf('train').length, val: runsOf('val').length, test: runsOf('test').length },
      ...(hasCorpus ? { corpus_captures: { train: capturesOf('train'), val: capturesOf('val'), test: capturesOf('test') } } : {}),
      seed: opts.seed,
    }),
    [META.attribution]: 'gradient x input of the class logit w.r.t. standardised features (float weights from this file); anomalies: per-feature squared reconstruction error',
    ...extra,
  });
  const provisional = { [META.classThresholds]: JSON.stringify(classNames.map(() => 0.5)), [META.anomalyThreshold]: '1' };
  const build = (meta: Record<string, string>, quant: boolean): Uint8Array => buildDetectionModel({
    standardiser: st, classifier, autoencoder, metadata: baseMeta(meta, quant ? 'int8-qdq-w7' : 'float32'), activationRanges: quant ? ranges : undefined,
  });

  // Calibrate on the validation runs with the int8 model, as it will run in the sensor.
  const xVal = gatherFeatures(ds, valRows);
  const val = await runModel(build(provisional, true), xVal, valRows.length);
  const valBenign = valRows.map((_, k) => k).filter((k) => ds.meta[valRows[k]!]!.label === BENIGN_CLASS);
  const benignErr = Float32Array.from(valBenign, (k) => val.anomaly[k]!);
  const fit = calibrateAnomalyThreshold(benignErr, opts.anomalyFpr);
  const benignProbs = new Float32Array(valBenign.length * classNames.length);
  valBenign.forEach((k, j) => benignProbs.set(val.probs.subarray(k * classNames.length, (k + 1) * classNames.length), j * classNames.length));
  const classThresholds = calibrateClassThresholds(benignProbs, valBenign.length, classNames.length, benign, opts.classFalseAlertRate);
  log(`anomaly threshold ${fit.threshold.toExponential(3)} (log-normal mu ${fit.mu.toFixed(3)} sigma ${fit.sigma.toFixed(3)}; empirical ${fit.empirical.toExponential(3)}); class thresholds ${classThresholds.map((t) => t.toFixed(3)).join(' ')}`);
  const finalMeta = {
    [META.classThresholds]: JSON.stringify(classThresholds.map((t) => Number(t.toFixed(4)))),
    [META.anomalyThreshold]: String(fit.threshold),
    [META.anomalyFit]: JSON.stringify({ method: 'log-normal fit of benign validation reconstruction error', mu: fit.mu, sigma: fit.sigma, target_fpr: opts.anomalyFpr, empirical: fit.empirical }),
  };
  const int8 = build(finalMeta, true);
  const float = build(finalMeta, false);

  // Held-out test runs.
  const xTest = gatherFeatures(ds, testRows);
  const yTest = Int32Array.from(testRows, (r) => labelIndex(ds.meta[r]!.label));
  const tq = await runModel(int8, xTest, testRows.length);
  const tf = await runModel(float, xTest, testRows.length);
  const k = classNames.length;
  const amQ = argmaxRows(tq.probs, testRows.length, k), amF = argmaxRows(tf.probs, testRows.length, k);
  const thQ = thresholdedRows(tq.probs, testRows.length, classThresholds, benign);
  let agree = 0;
  for (let r = 0; r < testRows.length; r++) if (amQ[r] === amF[r]) agree++;
  let benignFlows = 0, faCls = 0, faAnom = 0, faAny = 0, attacks = 0, attackAnom = 0;
  for (let r = 0; r < testRows.length; r++) {
    const anom = tq.anomaly[r]! >= fit.threshold;
    if (yTest[r] === benign) {
      benignFlows++;
      if (thQ[r] !== benign) faCls++;
      if (anom) faAnom++;
      if (thQ[r] !== benign || anom) faAny++;
    } else { attacks++; if (anom) attackAnom++; }
  }
  const per10k = (n: number): number => (benignFlows ? (n / benignFlows) * 10_000 : 0);
  const corpusTest = hasCorpus ? await scoreCorpusTest(int8, ds, corpusTestRows, classThresholds, fit.threshold, classNames) : undefined;
  const throughput = async (bytes: Uint8Array): Promise<number> => {
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    const B = 1024;
    const x = new Float32Array(B * NUM_FEATURES);
    for (let i = 0; i < x.length; i++) x[i] = xTest[i % Math.max(1, xTest.length)] ?? 0;
    const feed = { [INPUT_NAME]: new ort.Tensor('float32', x, [B, NUM_FEATURES]) };
    await session.run(feed);
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < 1500) { await session.run(feed); n++; }
    const rate = (n * B) / ((performance.now() - t0) / 1000);
    await session.release();
    return Math.round(rate);
  };
  const report: TrainReport = {
    version: opts.version,
    schemaId: SCHEMA_ID,
    classNames: [...classNames],
    rows: rowsSummary,
    runs: { train: runsOf('train'), val: runsOf('val'), test: runsOf('test') },
    classThresholds,
    anomaly: { threshold: fit.threshold, mu: fit.mu, sigma: fit.sigma, targetFpr: opts.anomalyFpr, empirical: fit.empirical },
    test: {
      argmax: evaluate(yTest, amQ, classNames),
      thresholded: evaluate(yTest, thQ, classNames),
      float: evaluate(yTest, amF, classNames),
      benignFlows,
      falseAlertsPer10k: { classifier: per10k(faCls), anomaly: per10k(faAnom), any: per10k(faAny) },
      anomalyRecallOnAttacks: attacks ? attackAnom / attacks : 0,
      int8FloatTop1Agreement: testRows.length ? agree / testRows.length : 1,
    },
    ...(corpusTest ? { corpusTest } : {}),
    sizeBytes: { int8: int8.length, float: float.length },
    throughputRowsPerS: { int8: await throughput(int8), float: await throughput(float), batch: 1024 },
  };
  return { int8, float, report };
}

/** Held-out benign corpus captures with the int8 model as shipped: which captures raise any flow alert, of which class. */
async function scoreCorpusTest(int8: Uint8Array, ds: Dataset, rows: number[], thresholds: number[], anomalyThreshold: number, classNames: readonly string[]): Promise<NonNullable<TrainReport['corpusTest']>> {
  const benign = classNames.indexOf(BENIGN_CLASS);
  const scored = await runModel(int8, gatherFeatures(ds, rows), rows.length);
  const th = thresholdedRows(scored.probs, rows.length, thresholds, benign);
  const byCapture = new Map<string, Set<string>>();
  let alerts = 0;
  rows.forEach((r, k) => {
    const run = ds.meta[r]!.run;
    const set = byCapture.get(run) ?? new Set<string>();
    byCapture.set(run, set);
    const cls = th[k] !== benign ? classNames[th[k]!]! : scored.anomaly[k]! >= anomalyThreshold ? 'anomaly' : undefined;
    if (cls) { set.add(cls); alerts++; }
  });
  const capturesByClass: Record<string, number> = {};
  for (const set of byCapture.values()) for (const c of set) capturesByClass[c] = (capturesByClass[c] ?? 0) + 1;
  return {
    captures: byCapture.size, flows: rows.length, capturesAlerting: [...byCapture.values()].filter((s) => s.size > 0).length,
    capturesByClass, falseAlertsPer10k: rows.length ? (alerts / rows.length) * 10_000 : 0,
  };
}

/**
 * The detection model as the sensor sees it: an ONNX file (int8 QDQ by default) run with onnxruntime-node.
 *
 * Loading reads the file's metadata first (onnx-proto) and refuses, with typed errors:
 *  - a file that is missing, not ONNX, or that onnxruntime cannot load       → ERR_MODEL_LOAD
 *  - a model for another feature schema, or without the metadata we need     → ERR_MODEL_INCOMPATIBLE
 * `score()` runs one batch and returns, per row, the class, its probability, the anomaly ratio and the
 * features that contributed most (see attribution.ts).
 */
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { NetsensorError } from '../common/errors.js';
import { packagePath } from '../common/paths.js';
import { decodeModel, dequantizeWeight, INPUT_NAME, OUTPUT_ANOMALY, OUTPUT_ANOMALY_FEATURES, OUTPUT_PROBABILITIES, type DecodedModel } from './onnx.js';
import { BENIGN_CLASS, META } from './metadata.js';
import { FEATURE_NAMES, NUM_FEATURES, SCHEMA_ID } from '../core/schema.js';
import type { DenseLayer, DenseNet } from './dense.js';
import { signedLog1p, Z_CLIP } from './preprocess.js';
import { GradientAttributor, TopK, type Contribution } from './attribution.js';
import { decide, type DecisionOverrides, type Thresholds } from './decide.js';

/** Shared by every row that is not explained (never mutated). */
const NO_TOP: Contribution[] = [];
const NO_PROBABILITIES: number[] = [];

/** The outputs read for every row (inference/onnx.ts names them). */
const ROW_OUTPUTS = [OUTPUT_PROBABILITIES, OUTPUT_ANOMALY];

export const DEFAULT_MODEL_FILE = 'models/netsensor-detect.onnx';

export function defaultModelPath(): string {
  return packagePath(DEFAULT_MODEL_FILE);
}

export interface RowScore {
  class: string;
  score: number;
  /** Reconstruction error / anomaly threshold (≥ 1 = anomalous). */
  anomaly: number;
  anomalyError: number;
  alert: boolean;
  alertClass?: string;
  /** The probability threshold the alerting class passed (inference/decide.ts). */
  threshold: number;
  /** Top contributing features, only for alerting rows (or all rows with `explainAll`). */
  top: Contribution[];
  /** Every class's probability, in classNames order (empty when the caller asked for none). */
  probabilities: number[];
}

export interface ScoreOptions {
  topFeatures?: number;
  explainAll?: boolean;
  /** Threshold overrides (inference/decide.ts); rows that alert under them are the ones explained. */
  decision?: DecisionOverrides;
  /** Which rows to explain instead (default: alerting rows, or all with explainAll). */
  explainIf?: (className: string, score: number, anomaly: number, alert: boolean) => boolean;
  /** false: rows carry no probabilities (the sensor needs none: one array less per flow row). Default true. */
  probabilities?: boolean;
}

export interface DetectionModel {
  readonly source: string;
  readonly version: string;
  readonly schemaId: string;
  readonly quantization: string;
  readonly classNames: readonly string[];
  readonly thresholds: Thresholds;
  readonly metadata: Readonly<Record<string, string>>;
  readonly sizeBytes: number;
  score(features: Float32Array, rows: number, opts?: ScoreOptions): Promise<RowScore[]>;
  close(): Promise<void>;
}

function parseJson<T>(meta: Record<string, string>, key: string, source: string): T {
  const raw = meta[key];
  if (raw === undefined) throw new NetsensorError('ERR_MODEL_INCOMPATIBLE', `model ${source} has no '${key}' metadata; not a netsensor detection model`);
  try { return JSON.parse(raw) as T; } catch (e) {
    throw new NetsensorError('ERR_MODEL_INCOMPATIBLE', `model ${source}: metadata '${key}' is not valid JSON`, { cause: e });
  }
}

/** Rebuilds a float DenseNet (`cls`, `ae`) from the model's initializers, dequantizing int8 weights. */
export function netFromInitializers(decoded: DecodedModel, prefix: string): DenseNet {
  const layers: DenseLayer[] = [];
  for (let l = 0; ; l++) {
    const tag = `${prefix}.l${l}`;
    const bias = decoded.initializers.get(`${tag}.bias`);
    if (!bias) break;
    const float = decoded.initializers.get(`${tag}.weight`);
    const q = decoded.initializers.get(`${tag}.weight_q`);
    const scale = decoded.initializers.get(`${tag}.weight_scale`);
    const dims = (float ?? q)?.dims;
    if (!dims || dims.length !== 2) throw new Error(`missing weight for ${tag}`);
    const weight = float ? (float.data as Float32Array) : dequantizeWeight(q!.data as Int8Array, scale!.data as Float32Array, dims[1]!);
    layers.push({ inputs: dims[0]!, outputs: dims[1]!, weight, bias: bias.data as Float32Array });
  }
  return { layers };
}

/**
 * One thread, no arena, no memory-pattern cache: the sensor scores small batches on one core of an edge box,
 * and the CPU arena / pattern planner keep the peak of the largest batch ever seen (tens of MiB at 4096
 * rows) for the life of the process. Measured: the same throughput either way at 256–4096 rows per batch.
 */
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  graphOptimizationLevel: 'all',
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  enableCpuMemArena: false,
  enableMemPattern: false,
};

export async function loadModel(path: string = defaultModelPath()): Promise<DetectionModel> {
  let bytes: Uint8Array;
  try { bytes = await readFile(path); } catch (e) {
    throw new NetsensorError('ERR_MODEL_LOAD', `cannot read model file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  return loadModelBytes(bytes, path);
}

export async function loadModelBytes(bytes: Uint8Array, source = '<buffer>'): Promise<DetectionModel> {
  let decoded: DecodedModel;
  try { decoded = decodeModel(bytes); } catch (e) {
    throw new NetsensorError('ERR_MODEL_LOAD', `model ${source} is not a valid ONNX file (${(e as Error).message})`, { cause: e });
  }
  const meta = decoded.metadata;
  const schemaId = meta[META.schemaId];
  if (!schemaId) throw new NetsensorError('ERR_MODEL_INCOMPATIBLE', `model ${source} has no feature_schema_id; not a netsensor detection model`);
  if (schemaId !== SCHEMA_ID) {
    throw new NetsensorError('ERR_MODEL_INCOMPATIBLE', `model ${source} was trained for feature schema ${schemaId}, this sensor produces ${SCHEMA_ID}`, { detail: { model: schemaId, sensor: SCHEMA_ID } });
  }
  const featureNames = parseJson<string[]>(meta, META.featureNames, source);
  if (featureNames.length !== NUM_FEATURES || featureNames.some((n, i) => n !== FEATURE_NAMES[i])) {
    throw new NetsensorError('ERR_MODEL_INCOMPATIBLE', `model ${source}: feature names differ from the sensor's schema`);
  }
  const classNames = parseJson<string[]>(meta, META.classNames, source);
  const perClass = parseJson<number[]>(meta, META.classThresholds, source);
  const anomaly = Number(meta[META.anomalyThreshold]);
  const benignIndex = classNames.indexOf(BENIGN_CLASS);
  if (benignIndex < 0 || perClass.length !== classNames.length || !(anomaly > 0)) {
    throw new NetsensorError('ERR_MODEL_INCOMPATIBLE', `model ${source}: class names, class thresholds or anomaly threshold missing or inconsistent`);
  }
  for (const out of [OUTPUT_PROBABILITIES, OUTPUT_ANOMALY, OUTPUT_ANOMALY_FEATURES]) {
    if (!decoded.outputs.includes(out)) throw new NetsensorError('ERR_MODEL_INCOMPATIBLE', `model ${source} lacks output '${out}'`);
  }
  let classifier: DenseNet;
  try { classifier = netFromInitializers(decoded, 'cls'); } catch (e) {
    throw new NetsensorError('ERR_MODEL_INCOMPATIBLE', `model ${source}: classifier weights unreadable (${(e as Error).message})`, { cause: e });
  }
  const mean = decoded.initializers.get('prep.mean')?.data as Float32Array | undefined;
  const std = decoded.initializers.get('prep.std')?.data as Float32Array | undefined;
  if (!mean || !std || mean.length !== NUM_FEATURES) throw new NetsensorError('ERR_MODEL_INCOMPATIBLE', `model ${source}: standardisation constants missing`);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS);
  } catch (e) {
    throw new NetsensorError('ERR_MODEL_LOAD', `onnxruntime cannot load model ${source}: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  const thresholds: Thresholds = { classNames, benignIndex, perClass, anomaly };
  const k = classNames.length;
  const attributor = new GradientAttributor(classifier);
  const top5 = new TopK(5);

  return {
    source,
    version: meta[META.version] ?? 'unknown',
    schemaId,
    quantization: meta[META.quantization] ?? 'unknown',
    classNames,
    thresholds,
    metadata: meta,
    sizeBytes: bytes.length,
    async score(features, rows, opts = {}) {
      if (rows === 0) return [];
      if (features.length < rows * NUM_FEATURES) throw new RangeError(`features holds ${features.length} values, need ${rows}×${NUM_FEATURES}`);
      const input = new ort.Tensor('float32', features.subarray(0, rows * NUM_FEATURES), [rows, NUM_FEATURES]);
      // Only the two outputs every row needs: fetching the per-feature error too ([rows, F] floats, copied out of
      // onnxruntime each batch) cost a third of the inference; it is fetched below for the rows it explains.
      const out = await session.run({ [INPUT_NAME]: input }, ROW_OUTPUTS);
      const probs = out[OUTPUT_PROBABILITIES]!.data as Float32Array;
      const errs = out[OUTPUT_ANOMALY]!.data as Float32Array;
      const anomalyRows: number[] = [];
      const topN = opts.topFeatures ?? 5;
      const picker = topN > 0 ? (topN === top5.k ? top5 : new TopK(topN)) : undefined;
      const overrides = opts.decision ?? {};
      const result: RowScore[] = new Array(rows);
      for (let r = 0; r < rows; r++) {
        const d = decide(probs, r * k, errs[r]!, thresholds, overrides);
        let top: Contribution[] = NO_TOP;
        if (picker && (opts.explainIf ? opts.explainIf(d.className, d.score, d.anomaly, d.alert) : d.alert || opts.explainAll)) {
          const at = r * NUM_FEATURES;
          if (d.alertClass === 'anomaly') {
            anomalyRows.push(r); // explained after the loop, from the per-feature error of these rows only
          } else {
            // the same standardisation as models/train/preprocess.ts standardise(), straight into the attributor
            const z = attributor.input;
            for (let i = 0; i < NUM_FEATURES; i++) {
              const v = (signedLog1p(features[at + i]!) - mean[i]!) / std[i]!;
              z[i] = v > Z_CLIP ? Z_CLIP : v < -Z_CLIP ? -Z_CLIP : v;
            }
            top = picker.pick(attributor.run(d.classIndex), 0, NUM_FEATURES, FEATURE_NAMES);
          }
        }
        let p = NO_PROBABILITIES;
        if (opts.probabilities !== false) {
          p = new Array<number>(k);
          for (let c = 0; c < k; c++) p[c] = probs[r * k + c]!;
        }
        result[r] = {
          class: d.className, score: d.score, anomaly: d.anomaly, anomalyError: errs[r]!, alert: d.alert, alertClass: d.alertClass, threshold: d.threshold, top,
          probabilities: p,
        };
      }
      if (picker && anomalyRows.length > 0) {
        // The same graph on just these rows (each row is computed on its own: the values are the batch's).
        const sub = new Float32Array(anomalyRows.length * NUM_FEATURES);
        anomalyRows.forEach((r, j) => sub.set(features.subarray(r * NUM_FEATURES, (r + 1) * NUM_FEATURES), j * NUM_FEATURES));
        const fe = await session.run({ [INPUT_NAME]: new ort.Tensor('float32', sub, [anomalyRows.length, NUM_FEATURES]) }, [OUTPUT_ANOMALY_FEATURES]);
        const featErr = fe[OUTPUT_ANOMALY_FEATURES]!.data as Float32Array;
        anomalyRows.forEach((r, j) => { result[r]!.top = picker.pick(featErr, j * NUM_FEATURES, NUM_FEATURES, FEATURE_NAMES); });
      }
      return result;
    },
    async close() { await session.release(); },
  };
}

/**
 * What the OTA receiver needs from a model: load bytes into a fresh onnxruntime session (the "staging" session,
 * separate from the one scoring traffic), run rows through it, release it. The detection code may provide its own
 * `ModelLoader`; `ortModelLoader` is the plain onnxruntime-node one, enough for any classifier whose first input
 * is features[N, F] and whose output `probabilities` (or its last output) is [N, C].
 */
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { NetsensorError } from '../common/errors.js';

export interface LoadedModel {
  /** Class names from the model's metadata_props `classes` / `class_names` (JSON array), when present. */
  readonly classes?: readonly string[];
  /** metadata_props `feature_schema_id`, when present. */
  readonly schemaId?: string;
  /** rows: n × width float32 → n × C class probabilities. */
  predict(rows: Float32Array, n: number, width: number): Promise<Float32Array>;
  release(): Promise<void>;
}

export interface ModelLoader {
  load(bytes: Uint8Array): Promise<LoadedModel>;
}

/** Reads metadata_props without a session (onnxruntime's JS API does not expose custom metadata). */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const model = onnxProto.onnx.ModelProto.decode(bytes);
  const out: Record<string, string> = {};
  for (const p of model.metadataProps ?? []) if (p.key) out[p.key] = p.value ?? '';
  return out;
}

class OrtModel implements LoadedModel {
  constructor(
    private readonly session: ort.InferenceSession,
    private readonly input: string,
    private readonly output: string,
    readonly classes: readonly string[] | undefined,
    readonly schemaId: string | undefined,
  ) {}

  async predict(rows: Float32Array, n: number, width: number): Promise<Float32Array> {
    const feeds = { [this.input]: new ort.Tensor('float32', rows, [n, width]) };
    const out = await this.session.run(feeds, [this.output]);
    return out[this.output].data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export const ortModelLoader: ModelLoader = {
  async load(bytes: Uint8Array): Promise<LoadedModel> {
    let meta: Record<string, string>;
    try {
      meta = readOnnxMetadata(bytes);
    } catch (e) {
      throw new NetsensorError('ERR_MODEL_LOAD', `not an ONNX model: ${(e as Error).message}`, { cause: e });
    }
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
    } catch (e) {
      throw new NetsensorError('ERR_MODEL_LOAD', `onnxruntime refused the model: ${(e as Error).message}`, { cause: e });
    }
    const output = session.outputNames.includes('probabilities') ? 'probabilities' : session.outputNames[session.outputNames.length - 1];
    let classes: string[] | undefined;
    try {
      const raw = meta.classes ?? meta.class_names;
      const c = raw ? JSON.parse(raw) : undefined;
      if (Array.isArray(c) && c.every((x) => typeof x === 'string')) classes = c;
    } catch { /* a model without readable class metadata is checked by the manifest alone */ }
    return new OrtModel(session, session.inputNames[0], output, classes, meta.feature_schema_id);
  },
};

/** A LoadedModel backed by the sensor's detection model (inference/model.ts), ready for Pipeline.setModel. */
export interface DetectionLoadedModel extends LoadedModel {
  readonly detection: import('./model.js').DetectionModel;
}

/**
 * The loader the sensor uses: the detection model's own loader (which also checks its schema, feature names,
 * outputs and thresholds), wrapped for the OTA self-test. `onApply` then hands `active.model.detection` to
 * `pipeline.setModel`. Loaded lazily so that OTA code does not pull the detection code in until it is needed.
 */
export const detectionModelLoader: ModelLoader = {
  async load(bytes: Uint8Array): Promise<DetectionLoadedModel> {
    const { loadModelBytes } = await import('./model.js');
    const d = await loadModelBytes(bytes, 'ota update');
    return {
      detection: d,
      classes: d.classNames,
      schemaId: d.schemaId,
      async predict(rows: Float32Array, n: number): Promise<Float32Array> {
        const scored = await d.score(rows, n, { topFeatures: 0 });
        return Float32Array.from(scored.flatMap((r) => r.probabilities));
      },
      release: () => d.close(),
    };
  },
};

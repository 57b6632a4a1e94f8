/**
 * Builds small but real ONNX classifiers for the OTA tests (run by the real onnxruntime-node):
 *   features[N, F] → Gemm(W1, b1) → [Relu → Gemm(W2, b2)] → Softmax → probabilities[N, C]
 * with metadata_props feature_schema_id / classes / model_id like a shipped model. `hidden` adds a layer whose
 * weights make the file as large as needed (the kill -9 test wants a payload that takes a while to write).
 */
import onnxProto from 'onnx-proto';
import { NUM_FEATURES, SCHEMA_ID } from '../../core/schema.ts';

const { onnx } = onnxProto;

export interface TestModelOptions {
  classes?: string[];
  schemaId?: string;
  modelId?: string;
  /** Seed of the weights: different seeds give models that classify differently. */
  seed?: number;
  hidden?: number;
  numFeatures?: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 0x100000000 - 0.5;
  };
}

function tensor(name: string, dims: number[], values: Float32Array) {
  return onnx.TensorProto.create({
    name, dims, dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  });
}

function valueInfo(name: string, dims: Array<number | string>) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        }),
      }),
    }),
  });
}

export const TEST_CLASSES = ['benign', 'scan', 'dos'];

export function buildTestModel(opts: TestModelOptions = {}): Uint8Array {
  const classes = opts.classes ?? TEST_CLASSES;
  const F = opts.numFeatures ?? NUM_FEATURES;
  const C = classes.length;
  const r = rng(opts.seed ?? 1);
  const nodes = [];
  const inits = [];
  let inWidth = F;
  let current = 'features';
  if (opts.hidden) {
    const H = opts.hidden;
    const w1 = new Float32Array(F * H).map(() => r() * 0.2);
    inits.push(tensor('W1', [F, H], w1), tensor('B1', [H], new Float32Array(H)));
    nodes.push(onnx.NodeProto.create({ opType: 'Gemm', input: ['features', 'W1', 'B1'], output: ['h'] }));
    nodes.push(onnx.NodeProto.create({ opType: 'Relu', input: ['h'], output: ['hr'] }));
    current = 'hr';
    inWidth = H;
  }
  const w = new Float32Array(inWidth * C).map(() => r() * 2);
  const b = new Float32Array(C).map(() => r());
  inits.push(tensor('W', [inWidth, C], w), tensor('B', [C], b));
  nodes.push(onnx.NodeProto.create({ opType: 'Gemm', input: [current, 'W', 'B'], output: ['logits'] }));
  nodes.push(onnx.NodeProto.create({
    opType: 'Softmax', input: ['logits'], output: ['probabilities'],
    attribute: [onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 })],
  }));
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'netsensor-test',
    opsetImport: [{ domain: '', version: 13 }],
    graph: onnx.GraphProto.create({
      name: 'ota_test',
      node: nodes,
      initializer: inits,
      input: [valueInfo('features', ['N', F])],
      output: [valueInfo('probabilities', ['N', C])],
    }),
    metadataProps: [
      { key: 'feature_schema_id', value: opts.schemaId ?? SCHEMA_ID },
      { key: 'classes', value: JSON.stringify(classes) },
      { key: 'model_id', value: opts.modelId ?? 'test-model' },
    ],
  });
  return onnx.ModelProto.encode(model).finish();
}

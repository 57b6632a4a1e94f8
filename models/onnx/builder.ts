/**
 * A minimal ONNX graph builder over `onnx-proto` (protobuf definitions only; no Python, no converter).
 * Tensors are written as little-endian raw_data; the machines this runs on are little-endian (x64, arm64).
 */
import { ElemType, onnx } from '../../inference/onnx.js';

export { decodeModel, ElemType, onnx, type DecodedModel } from '../../inference/onnx.js';

export const OPSET = 13;

type TensorData = Float32Array | Int8Array | Uint8Array | BigInt64Array;

function elemTypeOf(data: TensorData): number {
  if (data instanceof Float32Array) return ElemType.FLOAT;
  if (data instanceof Int8Array) return ElemType.INT8;
  if (data instanceof Uint8Array) return ElemType.UINT8;
  return ElemType.INT64;
}

export type Attr = number | number[] | string;

export class GraphBuilder {
  readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private seq = 0;

  /** Adds an initializer and returns its name. */
  tensor(name: string, dims: number[], data: TensorData): string {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: elemTypeOf(data), rawData: Uint8Array.from(bytes) }));
    return name;
  }

  scalar(name: string, value: number): string {
    return this.tensor(name, [], new Float32Array([value]));
  }

  /** Adds a node; returns the name of its (first) output. Integer attributes must be given as integers. */
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs?: string[]): string {
    const outs = outputs ?? [`${op.toLowerCase()}_${this.seq++}`];
    const attribute = Object.entries(attrs).map(([name, v]) => {
      if (typeof v === 'string') return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v) });
      if (Array.isArray(v)) return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
      return Number.isInteger(v)
        ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: v })
        : onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v });
    });
    this.nodes.push(onnx.NodeProto.create({ opType: op, input: inputs, output: outs, name: `${op}_${this.seq++}`, attribute }));
    return outs[0]!;
  }
}

export interface IoSpec { name: string; dims: (number | string)[]; }

function valueInfo(io: IoSpec) {
  return onnx.ValueInfoProto.create({
    name: io.name,
    type: {
      tensorType: {
        elemType: ElemType.FLOAT,
        shape: { dim: io.dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

export function encodeModel(g: GraphBuilder, name: string, inputs: IoSpec[], outputs: IoSpec[], metadata: Record<string, string>): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'netsensor',
    producerVersion: '1',
    graph: onnx.GraphProto.create({
      name,
      node: g.nodes,
      initializer: g.initializers,
      input: inputs.map(valueInfo),
      output: outputs.map(valueInfo),
    }),
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

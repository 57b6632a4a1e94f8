/**
 * Reading an ONNX file (onnx-proto): metadata and initializers, for compatibility checks and attribution.
 * Also the graph's input/output names and int8 weight dequantization, shared with the exporter (models/onnx/).
 */
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;

export const ElemType = { FLOAT: 1, UINT8: 2, INT8: 3, INT64: 7 } as const;

export const INPUT_NAME = 'features';
export const OUTPUT_PROBABILITIES = 'probabilities';
export const OUTPUT_ANOMALY = 'anomaly_error';
export const OUTPUT_ANOMALY_FEATURES = 'anomaly_feature_error';

/** Inverse of models/onnx/quantize.ts quantizeWeight: q is row-major [inputs, outputs], one scale per output. */
export function dequantizeWeight(q: Int8Array, scale: Float32Array, outputs: number): Float32Array {
  const w = new Float32Array(q.length);
  for (let k = 0; k < q.length; k++) w[k] = q[k]! * scale[k % outputs]!;
  return w;
}

export interface DecodedModel {
  metadata: Record<string, string>;
  /** Float32/int8 initializers by name, for attribution and inspection. */
  initializers: Map<string, { dims: number[]; data: Float32Array | Int8Array | Uint8Array }>;
  inputs: string[];
  outputs: string[];
}

/** Decodes an ONNX file's metadata and initializers (throws on anything that is not an ONNX model). */
export function decodeModel(bytes: Uint8Array): DecodedModel {
  const m = onnx.ModelProto.decode(bytes);
  if (!m.graph) throw new Error('ONNX model has no graph');
  const metadata: Record<string, string> = {};
  for (const p of m.metadataProps ?? []) if (p.key) metadata[p.key] = p.value ?? '';
  const initializers = new Map<string, { dims: number[]; data: Float32Array | Int8Array | Uint8Array }>();
  for (const t of m.graph.initializer ?? []) {
    const name = t.name ?? '';
    const raw = t.rawData;
    if (!raw || raw.length === 0) continue;
    const copy = Uint8Array.from(raw);
    const dims = (t.dims ?? []).map((d) => Number(d));
    if (t.dataType === ElemType.FLOAT) initializers.set(name, { dims, data: new Float32Array(copy.buffer, 0, copy.length / 4) });
    else if (t.dataType === ElemType.INT8) initializers.set(name, { dims, data: new Int8Array(copy.buffer) });
    else if (t.dataType === ElemType.UINT8) initializers.set(name, { dims, data: copy });
  }
  return { metadata, initializers, inputs: (m.graph.input ?? []).map((i) => i.name ?? ''), outputs: (m.graph.output ?? []).map((o) => o.name ?? '') };
}

/**
 * Builds netsensor's detection graph: one ONNX model, one input, three outputs.
 *
 *   features [N, F] ─ sign(x)·ln(1+|x|) ─ (−mean)/std ─ clip ±Z ─┬─ MLP ─ Softmax → probabilities [N, C]
 *                                                                 └─ autoencoder ─ (r − z)² ─┬→ anomaly_feature_error [N, F]
 *                                                                                            └ ReduceMean → anomaly_error [N]
 *
 * With `quant`, every MatMul reads int8 weights through DequantizeLinear and its input through a
 * QuantizeLinear/DequantizeLinear pair (QDQ), which onnxruntime fuses into integer kernels. Initializer names
 * are stable (`cls.l0.weight`, `cls.l0.weight_q` + `cls.l0.weight_scale`, …) so the sensor can rebuild float
 * weights from the file for feature attribution.
 */
import type { DenseNet } from '../train/dense.js';
import { Z_CLIP, type Standardiser } from '../train/preprocess.js';
import { encodeModel, GraphBuilder } from './builder.js';
import { activationQuant, quantizeWeight } from './quantize.js';

import { INPUT_NAME, OUTPUT_ANOMALY, OUTPUT_ANOMALY_FEATURES, OUTPUT_PROBABILITIES } from '../../inference/onnx.js';

export { INPUT_NAME, OUTPUT_ANOMALY, OUTPUT_ANOMALY_FEATURES, OUTPUT_PROBABILITIES };

export interface ExportInput {
  standardiser: Standardiser;
  classifier: DenseNet;
  autoencoder: DenseNet;
  metadata: Record<string, string>;
  /** Per-layer input ranges (from calibration), keyed `cls.l0`, `ae.l2`, …; absent = float model. */
  activationRanges?: Map<string, [number, number]>;
}

function dense(g: GraphBuilder, prefix: string, net: DenseNet, input: string, ranges?: Map<string, [number, number]>): string {
  let x = input;
  net.layers.forEach((layer, l) => {
    const tag = `${prefix}.l${l}`;
    let w: string;
    let xin = x;
    if (ranges) {
      const range = ranges.get(tag);
      if (!range) throw new Error(`no calibration range for ${tag}`);
      const aq = activationQuant(range[0], range[1]);
      const s = g.tensor(`${tag}.input_scale`, [], new Float32Array([aq.scale]));
      const zp = g.tensor(`${tag}.input_zero_point`, [], new Uint8Array([aq.zeroPoint]));
      xin = g.node('DequantizeLinear', [g.node('QuantizeLinear', [x, s, zp]), s, zp]);
      const qw = quantizeWeight(layer.weight, layer.inputs, layer.outputs);
      const wq = g.tensor(`${tag}.weight_q`, [layer.inputs, layer.outputs], qw.q);
      const ws = g.tensor(`${tag}.weight_scale`, [layer.outputs], qw.scale);
      const wz = g.tensor(`${tag}.weight_zero_point`, [layer.outputs], new Int8Array(layer.outputs));
      w = g.node('DequantizeLinear', [wq, ws, wz], { axis: 1 });
    } else {
      w = g.tensor(`${tag}.weight`, [layer.inputs, layer.outputs], layer.weight);
    }
    const b = g.tensor(`${tag}.bias`, [layer.outputs], layer.bias);
    const y = g.node('Add', [g.node('MatMul', [xin, w]), b]);
    x = l + 1 < net.layers.length ? g.node('Relu', [y]) : y;
  });
  return x;
}

export function buildDetectionModel(input: ExportInput): Uint8Array {
  const width = input.standardiser.mean.length;
  const classes = input.classifier.layers[input.classifier.layers.length - 1]!.outputs;
  const g = new GraphBuilder();
  const one = g.scalar('const.one', 1);
  const compressed = g.node('Mul', [g.node('Sign', [INPUT_NAME]), g.node('Log', [g.node('Add', [g.node('Abs', [INPUT_NAME]), one])])]);
  const mean = g.tensor('prep.mean', [width], input.standardiser.mean);
  const std = g.tensor('prep.std', [width], input.standardiser.std);
  const zRaw = g.node('Div', [g.node('Sub', [compressed, mean]), std]);
  const z = g.node('Clip', [zRaw, g.scalar('prep.clip_min', -Z_CLIP), g.scalar('prep.clip_max', Z_CLIP)]);
  const logits = dense(g, 'cls', input.classifier, z, input.activationRanges);
  g.node('Softmax', [logits], { axis: 1 }, [OUTPUT_PROBABILITIES]);
  const recon = dense(g, 'ae', input.autoencoder, z, input.activationRanges);
  const diff = g.node('Sub', [recon, z]);
  g.node('Mul', [diff, diff], {}, [OUTPUT_ANOMALY_FEATURES]);
  g.node('ReduceMean', [OUTPUT_ANOMALY_FEATURES], { axes: [1], keepdims: 0 }, [OUTPUT_ANOMALY]);
  return encodeModel(
    g,
    'netsensor_detection',
    [{ name: INPUT_NAME, dims: ['N', width] }],
    [
      { name: OUTPUT_PROBABILITIES, dims: ['N', classes] },
      { name: OUTPUT_ANOMALY, dims: ['N'] },
      { name: OUTPUT_ANOMALY_FEATURES, dims: ['N', width] },
    ],
    input.metadata,
  );
}

/**
 * Cheap per-flow explanations, computed in JS only for rows that alert.
 *  - Class alerts: gradient × input of the class logit with respect to the standardised features, through the
 *    float weights rebuilt from the model file (int8 weights are dequantized). The baseline is z = 0, the
 *    training mean, so a contribution reads "this feature, being this far from typical, pushed towards the
 *    class by this much".
 *  - Anomaly alerts: the per-feature squared reconstruction error the graph already outputs.
 */
import type { DenseNet } from '../../models/train/dense.js';

export type Contribution = [name: string, contribution: number];

export function topK(values: ArrayLike<number>, names: readonly string[], k: number): Contribution[] {
  const idx = Array.from({ length: values.length }, (_, i) => i).filter((i) => values[i] !== 0);
  idx.sort((a, b) => Math.abs(values[b]!) - Math.abs(values[a]!));
  return idx.slice(0, k).map((i) => [names[i]!, Number(values[i]!.toPrecision(4))]);
}

/** d logit[cls] / dz · z for one standardised row z. */
export function gradientTimesInput(net: DenseNet, z: Float32Array, cls: number): Float32Array {
  // Forward, keeping the ReLU masks.
  const acts: Float32Array[] = [z];
  net.layers.forEach((layer, l) => {
    const x = acts[l]!;
    const y = Float32Array.from(layer.bias);
    for (let i = 0; i < layer.inputs; i++) {
      const xi = x[i]!;
      if (xi === 0) continue;
      for (let o = 0; o < layer.outputs; o++) y[o]! += xi * layer.weight[i * layer.outputs + o]!;
    }
    if (l + 1 < net.layers.length) for (let o = 0; o < y.length; o++) if (y[o]! < 0) y[o] = 0;
    acts.push(y);
  });
  // Backward from the one-hot of the class logit.
  const last = net.layers[net.layers.length - 1]!;
  let g = new Float32Array(last.outputs);
  g[cls] = 1;
  for (let l = net.layers.length - 1; l >= 0; l--) {
    const layer = net.layers[l]!;
    const x = acts[l]!;
    const gx = new Float32Array(layer.inputs);
    for (let i = 0; i < layer.inputs; i++) {
      if (l > 0 && x[i]! <= 0) continue; // ReLU of the previous layer was off
      let s = 0;
      for (let o = 0; o < layer.outputs; o++) s += layer.weight[i * layer.outputs + o]! * g[o]!;
      gx[i] = s;
    }
    g = gx;
  }
  const out = new Float32Array(z.length);
  for (let i = 0; i < z.length; i++) out[i] = g[i]! * z[i]!;
  return out;
}

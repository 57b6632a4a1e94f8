/**
 * A small dense network (fully connected layers, ReLU between them, linear last layer) with batched forward
 * and backward passes over row-major Float32Arrays, and an Adam optimiser. Enough for the sensor's MLP
 * classifier and autoencoder; no dependencies, deterministic given the seed.
 */
import { type DenseLayer, type DenseNet, netForward } from '../../inference/dense.js';
import { createRng } from './rng.js';

export { denseForward, netForward, type DenseLayer, type DenseNet } from '../../inference/dense.js';

/** He-initialised network with the given layer widths, e.g. [121, 64, 32, 7]. */
export function createNet(widths: number[], seed: number): DenseNet {
  const rng = createRng(seed);
  const layers: DenseLayer[] = [];
  for (let l = 0; l + 1 < widths.length; l++) {
    const inputs = widths[l]!, outputs = widths[l + 1]!;
    const weight = new Float32Array(inputs * outputs);
    const sd = Math.sqrt(2 / inputs);
    for (let i = 0; i < weight.length; i++) weight[i] = rng.gauss() * sd;
    layers.push({ inputs, outputs, weight, bias: new Float32Array(outputs) });
  }
  return { layers };
}

export interface Gradients {
  weight: Float32Array[];
  bias: Float32Array[];
}

/** Back-propagates dOut (gradient of the loss w.r.t. the last layer's linear output). */
export function netBackward(net: DenseNet, acts: Float32Array[], dOut: Float32Array, rows: number): Gradients {
  const L = net.layers.length;
  const gw: Float32Array[] = new Array(L), gb: Float32Array[] = new Array(L);
  let d = dOut;
  for (let l = L - 1; l >= 0; l--) {
    const { inputs, outputs, weight } = net.layers[l]!;
    const x = acts[l]!;
    const dw = new Float32Array(inputs * outputs), db = new Float32Array(outputs);
    const dx = l > 0 ? new Float32Array(rows * inputs) : undefined;
    for (let r = 0; r < rows; r++) {
      const dOff = r * outputs, xOff = r * inputs;
      for (let o = 0; o < outputs; o++) db[o]! += d[dOff + o]!;
      for (let i = 0; i < inputs; i++) {
        const xi = x[xOff + i]!;
        const wo = i * outputs;
        let s = 0;
        for (let o = 0; o < outputs; o++) {
          const g = d[dOff + o]!;
          if (xi !== 0) dw[wo + o]! += xi * g;
          s += weight[wo + o]! * g;
        }
        // ReLU derivative of the previous layer: its output (our input) was clamped at zero.
        if (dx && xi > 0) dx[xOff + i] = s;
      }
    }
    gw[l] = dw; gb[l] = db;
    if (dx) d = dx;
  }
  return { weight: gw, bias: gb };
}

export interface AdamState {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

export function createAdam(net: DenseNet): AdamState {
  const params = net.layers.flatMap((l) => [l.weight, l.bias]);
  return { step: 0, m: params.map((p) => new Float32Array(p.length)), v: params.map((p) => new Float32Array(p.length)) };
}

export function adamStep(net: DenseNet, state: AdamState, grads: Gradients, lr: number, weightDecay = 0, b1 = 0.9, b2 = 0.999, eps = 1e-8): void {
  state.step++;
  const c1 = 1 - Math.pow(b1, state.step), c2 = 1 - Math.pow(b2, state.step);
  let k = 0;
  net.layers.forEach((layer, l) => {
    for (const [p, g, decay] of [[layer.weight, grads.weight[l]!, weightDecay], [layer.bias, grads.bias[l]!, 0]] as const) {
      const m = state.m[k]!, v = state.v[k]!;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]! + decay * p[i]!;
        m[i] = b1 * m[i]! + (1 - b1) * gi;
        v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
        p[i]! -= (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps);
      }
      k++;
    }
  });
}

/**
 * Cheap per-flow explanations, computed in JS only for rows that alert.
 *  - Class alerts: gradient × input of the class logit with respect to the standardised features, through the
 *    float weights rebuilt from the model file (int8 weights are dequantized). The baseline is z = 0, the
 *    training mean, so a contribution reads "this feature, being this far from typical, pushed towards the
 *    class by this much".
 *  - Anomaly alerts: the per-feature squared reconstruction error the graph already outputs.
 */
import type { DenseNet } from './dense.js';

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

/**
 * Allocation-free top-k by |value| (zeros skipped), the same order as topK(): larger first, lower index first
 * on ties. Used on the scoring hot path, where a DoS can make every row of a batch alert.
 */
export class TopK {
  private readonly idx: Int32Array;
  private readonly mag: Float64Array;
  constructor(readonly k: number) {
    this.idx = new Int32Array(k);
    this.mag = new Float64Array(k);
  }

  pick(values: ArrayLike<number>, offset: number, length: number, names: readonly string[]): Contribution[] {
    const k = this.k, idx = this.idx, mag = this.mag;
    let n = 0;
    for (let i = 0; i < length; i++) {
      const v = values[offset + i]!;
      if (v === 0) continue;
      const a = v < 0 ? -v : v;
      if (n === k && a <= mag[k - 1]!) continue;
      let j = n < k ? n++ : k - 1;
      while (j > 0 && mag[j - 1]! < a) { mag[j] = mag[j - 1]!; idx[j] = idx[j - 1]!; j--; }
      mag[j] = a; idx[j] = i;
    }
    const out: Contribution[] = new Array(n);
    for (let j = 0; j < n; j++) out[j] = [names[idx[j]!]!, Number(values[offset + idx[j]!]!.toPrecision(4))];
    return out;
  }
}

/**
 * gradientTimesInput() for many rows, with every buffer allocated once: the same float32 arithmetic in the
 * same order (so the same numbers), without the per-row arrays and closures that made explaining a batch of
 * alerting rows cost 50× its inference. The output layer is never run forward (only the hidden ReLU masks
 * matter) and its backward step is a column read.
 */
export class GradientAttributor {
  private readonly net: DenseNet;
  private readonly acts: Float32Array[];
  private readonly grads: Float32Array[];
  private readonly cache = new Map<string, Float32Array>();
  /** Weights as [output][input], for the forward pass. */
  private readonly transposed: Float64Array[];
  readonly out: Float32Array;

  constructor(net: DenseNet) {
    this.net = net;
    this.acts = net.layers.map((l) => new Float32Array(l.inputs));
    this.grads = net.layers.map((l) => new Float32Array(l.inputs));
    this.out = new Float32Array(net.layers[0]!.inputs);
    this.transposed = net.layers.map((l) => {
      const t = new Float64Array(l.inputs * l.outputs);
      for (let i = 0; i < l.inputs; i++) for (let o = 0; o < l.outputs; o++) t[o * l.inputs + i] = l.weight[i * l.outputs + o]!;
      return t;
    });
  }

  /** Input of the first layer (write the standardised row here, then call run). */
  get input(): Float32Array { return this.acts[0]!; }

  /** d logit[cls] / dz · z of the row in `input`, into `out`. */
  run(cls: number): Float32Array {
    this.forward();
    return this.fromHidden(cls);
  }

  private fromHidden(cls: number): Float32Array {
    const acts = this.acts;
    // A ReLU network is linear between mask changes: d logit / dz depends only on the class and which hidden
    // units are on. Flows of one attack look alike, so the backward pass is cached by that pattern.
    const key = this.maskKey(cls);
    let g = this.cache.get(key);
    if (!g) {
      g = this.backward(cls);
      if (this.cache.size >= GRADIENT_CACHE_ENTRIES) this.cache.clear();
      this.cache.set(key, g);
    }
    const z = acts[0]!, out = this.out;
    for (let i = 0; i < out.length; i++) out[i] = g[i]! * z[i]!;
    return out;
  }

  private forward(): void {
    const layers = this.net.layers, acts = this.acts;
    const L = layers.length;
    // Forward through the hidden layers only for their ReLU masks: one dot product per unit over transposed
    // weights, accumulated in a register (the masks match the float32 step-by-step sum except for a unit
    // whose pre-activation is within rounding of 0, where either side is as right).
    for (let l = 0; l + 1 < L; l++) {
      const layer = layers[l]!, x = acts[l]!, y = acts[l + 1]!, wt = this.transposed[l]!, b = layer.bias;
      const nOut = layer.outputs, nIn = layer.inputs;
      for (let o = 0; o < nOut; o++) {
        const base = o * nIn;
        let s = b[o]!;
        for (let i = 0; i < nIn; i++) s += x[i]! * wt[base + i]!;
        y[o] = s > 0 ? s : 0;
      }
    }
  }

  /** The class and the on/off state of every hidden unit, as a string key. */
  private maskKey(cls: number): string {
    let key = String.fromCharCode(cls);
    for (let l = 1; l < this.acts.length; l++) {
      const a = this.acts[l]!;
      for (let i = 0; i < a.length; i += 16) {
        let bits = 0;
        for (let j = 0; j < 16 && i + j < a.length; j++) if (a[i + j]! > 0) bits |= 1 << j;
        key += String.fromCharCode(bits);
      }
    }
    return key;
  }

  /** d logit[cls] / dz for the masks in `acts` (a fresh array: it goes into the cache). */
  private backward(cls: number): Float32Array {
    const layers = this.net.layers, acts = this.acts, grads = this.grads;
    const L = layers.length;
    // the last layer's backward step from the one-hot of the class logit: a column of its weights
    const last = layers[L - 1]!;
    let g = grads[L - 1]!;
    {
      const x = acts[L - 1]!, w = last.weight, nOut = last.outputs;
      for (let i = 0; i < last.inputs; i++) g[i] = L - 1 > 0 && x[i]! <= 0 ? 0 : w[i * nOut + cls]!;
    }
    for (let l = L - 2; l >= 0; l--) {
      const layer = layers[l]!, x = acts[l]!, gx = grads[l]!, w = layer.weight;
      const nOut = layer.outputs, nIn = layer.inputs;
      for (let i = 0; i < nIn; i++) {
        if (l > 0 && x[i]! <= 0) { gx[i] = 0; continue; }
        const base = i * nOut;
        let s = 0;
        for (let o = 0; o < nOut; o++) s += w[base + o]! * g[o]!;
        gx[i] = s;
      }
      g = gx;
    }
    return Float32Array.from(g);
  }
}

/** Distinct (class, ReLU pattern) gradients kept; 4096 × 121 floats ≈ 2 MB at most. */
const GRADIENT_CACHE_ENTRIES = 4096;

/**
 * The forward pass of a small dense network (fully connected layers, ReLU between them, linear last layer)
 * over row-major Float32Arrays: what the sensor needs to explain a verdict. Training (backward pass, Adam)
 * lives in models/train/dense.ts on top of these types.
 */
export interface DenseLayer {
  inputs: number;
  outputs: number;
  /** Row-major [inputs, outputs]: y = x·W + b. */
  weight: Float32Array;
  bias: Float32Array;
}

export interface DenseNet {
  layers: DenseLayer[];
}

/** y[rows, out] = x[rows, in]·W + b, optionally ReLU. */
export function denseForward(layer: DenseLayer, x: Float32Array, rows: number, relu: boolean): Float32Array {
  const { inputs, outputs, weight, bias } = layer;
  const y = new Float32Array(rows * outputs);
  for (let r = 0; r < rows; r++) {
    const yo = r * outputs;
    y.set(bias, yo);
    const xo = r * inputs;
    for (let i = 0; i < inputs; i++) {
      const xi = x[xo + i]!;
      if (xi === 0) continue;
      const wo = i * outputs;
      for (let o = 0; o < outputs; o++) y[yo + o]! += xi * weight[wo + o]!;
    }
    if (relu) for (let o = 0; o < outputs; o++) if (y[yo + o]! < 0) y[yo + o] = 0;
  }
  return y;
}

/** Activations of every layer: acts[0] = input, acts[L] = linear output of the last layer. */
export function netForward(net: DenseNet, x: Float32Array, rows: number): Float32Array[] {
  const acts = [x];
  net.layers.forEach((layer, l) => {
    acts.push(denseForward(layer, acts[l]!, rows, l + 1 < net.layers.length));
  });
  return acts;
}

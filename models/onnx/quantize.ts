/**
 * int8 QDQ quantization parameters.
 *  - Weights: symmetric, per output channel, 7-bit range [-63, 63]. On x86 AVX2, ORT's u8×s8 kernels add
 *    pairs of products in int16 (VPMADDUBSW); 255·127·2 overflows it and per-channel 8-bit weights can
 *    saturate after fusion. 255·63·2 = 32130 fits, so 7-bit weights are exact on every CPU.
 *  - Activations: asymmetric uint8 per tensor, range = min/max observed on calibration data (always
 *    containing 0 so zero is exact, which keeps ReLU outputs and padding exact).
 */
export const WEIGHT_QMAX = 63;

export interface QuantizedWeight { q: Int8Array; scale: Float32Array; }

/** weight: row-major [inputs, outputs]; one scale per output column. */
export function quantizeWeight(weight: Float32Array, inputs: number, outputs: number): QuantizedWeight {
  const scale = new Float32Array(outputs);
  for (let o = 0; o < outputs; o++) {
    let m = 0;
    for (let i = 0; i < inputs; i++) m = Math.max(m, Math.abs(weight[i * outputs + o]!));
    scale[o] = m > 0 ? m / WEIGHT_QMAX : 1;
  }
  const q = new Int8Array(weight.length);
  for (let i = 0; i < inputs; i++) {
    for (let o = 0; o < outputs; o++) q[i * outputs + o] = Math.max(-WEIGHT_QMAX, Math.min(WEIGHT_QMAX, Math.round(weight[i * outputs + o]! / scale[o]!)));
  }
  return { q, scale };
}

export { dequantizeWeight } from '../../inference/onnx.js';

export interface ActivationQuant { scale: number; zeroPoint: number; }

export function activationQuant(min: number, max: number): ActivationQuant {
  const lo = Math.min(0, min), hi = Math.max(0, max);
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  return { scale, zeroPoint: Math.max(0, Math.min(255, Math.round(-lo / scale))) };
}

export function tensorRange(x: Float32Array): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const v of x) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return [lo, hi];
}

/** Fits the standardiser of the model's input transform (inference/preprocess.ts) on training rows. */
import { signedLog1p, type Standardiser } from '../../inference/preprocess.js';

export { signedLog1p, standardise, Z_CLIP, type Standardiser } from '../../inference/preprocess.js';

/** Mean and standard deviation of the compressed features; constant columns get std 1. */
export function fitStandardiser(x: Float32Array, rows: number, width: number): Standardiser {
  const mean = new Float64Array(width), sq = new Float64Array(width);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < width; i++) {
      const c = signedLog1p(x[r * width + i]!);
      mean[i]! += c; sq[i]! += c * c;
    }
  }
  const m = new Float32Array(width), s = new Float32Array(width);
  for (let i = 0; i < width; i++) {
    m[i] = mean[i]! / rows;
    const variance = sq[i]! / rows - m[i]! * m[i]!;
    s[i] = variance > 1e-8 ? Math.sqrt(variance) : 1;
  }
  return { mean: m, std: s };
}

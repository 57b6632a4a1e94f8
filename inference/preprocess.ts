/**
 * The input transform that lives inside the ONNX graph, mirrored here for attribution and training: signed log compression
 * of heavy-tailed counts (sign(x)·ln(1+|x|)), standardisation with training-set statistics, then a clip so a
 * wildly out-of-range flow from an unfamiliar network saturates instead of dominating every layer.
 */
export const Z_CLIP = 8;

export interface Standardiser {
  mean: Float32Array;
  std: Float32Array;
}

export function signedLog1p(v: number): number {
  return Math.sign(v) * Math.log1p(Math.abs(v));
}

export function standardise(x: Float32Array, rows: number, width: number, st: Standardiser): Float32Array {
  const z = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < width; i++) {
      const k = r * width + i;
      // Math.fround matches the float32 arithmetic of the ONNX graph closely enough for calibration.
      const v = (signedLog1p(x[k]!) - st.mean[i]!) / st.std[i]!;
      z[k] = v > Z_CLIP ? Z_CLIP : v < -Z_CLIP ? -Z_CLIP : v;
    }
  }
  return z;
}

/**
 * The input transform that lives inside the ONNX graph, mirrored here for training: signed log compression
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

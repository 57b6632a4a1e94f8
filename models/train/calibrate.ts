/**
 * Threshold calibration.
 *  - Anomaly: fit a log-normal to the reconstruction errors of benign validation flows and take the quantile at
 *    1 - targetFpr. The fit extrapolates into the tail where a few thousand benign flows have no samples, which
 *    an empirical quantile cannot do; the larger of fit and empirical quantile is kept so a heavy real tail
 *    never makes the threshold optimistic.
 *  - Classes: the lowest probability threshold (never below `floor`) at which benign validation flows
 *    predicted as that class stay within the false-alert budget.
 */

/** Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`quantile probability ${p} outside (0, 1)`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5, r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

export interface LogNormalFit { mu: number; sigma: number; threshold: number; empirical: number; }

export function calibrateAnomalyThreshold(errors: ArrayLike<number>, targetFpr: number): LogNormalFit {
  const logs: number[] = [];
  for (let i = 0; i < errors.length; i++) logs.push(Math.log(Math.max(errors[i]!, 1e-12)));
  if (logs.length < 10) throw new RangeError('need at least 10 benign validation errors to calibrate');
  const mu = logs.reduce((s, v) => s + v, 0) / logs.length;
  const sigma = Math.sqrt(logs.reduce((s, v) => s + (v - mu) ** 2, 0) / (logs.length - 1));
  const fitted = Math.exp(mu + sigma * normalQuantile(1 - targetFpr));
  const sorted = Array.from(errors).sort((x, y) => x - y);
  const empirical = sorted[Math.min(sorted.length - 1, Math.ceil((1 - targetFpr) * sorted.length))]!;
  return { mu, sigma, threshold: Math.max(fitted, empirical), empirical };
}

/**
 * probs: [rows, classes] for benign validation rows. Returns one threshold per class (benign's is unused and
 * set to 1). A benign row raises a false alert for class c when argmax = c and p_c ≥ t_c.
 */
export function calibrateClassThresholds(probs: Float32Array, rows: number, classes: number, benignClass: number, maxFalseRate: number, floor = 0.5): number[] {
  const t: number[] = [];
  for (let c = 0; c < classes; c++) {
    if (c === benignClass) { t.push(1); continue; }
    const scores: number[] = [];
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let k = 1; k < classes; k++) if (probs[r * classes + k]! > probs[r * classes + best]!) best = k;
      if (best === c) scores.push(probs[r * classes + c]!);
    }
    scores.sort((x, y) => y - x);
    const allowed = Math.floor(maxFalseRate * rows);
    // Threshold just above the (allowed+1)-th highest benign score for this class.
    const cut = scores.length > allowed ? Math.min(0.999, scores[allowed]! + 1e-4) : floor;
    t.push(Math.max(floor, cut));
  }
  return t;
}

/**
 * Turns model outputs into a decision. A flow alerts when
 *  - its most probable class is an attack class whose probability reaches that class's threshold, or
 *  - it is classified benign (or below threshold) but its reconstruction error reaches the anomaly threshold;
 *    then the alert class is `anomaly`.
 * Thresholds come from the model's metadata (calibrated on benign validation data at training time).
 */
export const ANOMALY_CLASS = 'anomaly';

export interface Thresholds {
  classNames: readonly string[];
  benignIndex: number;
  /** Probability threshold per class (benign's entry is ignored). */
  perClass: readonly number[];
  /** Reconstruction error at which a flow is anomalous. */
  anomaly: number;
}

export interface Decision {
  /** Most probable class. */
  classIndex: number;
  className: string;
  /** Probability of that class. */
  score: number;
  /** Reconstruction error divided by the anomaly threshold: ≥ 1 is anomalous. */
  anomaly: number;
  alert: boolean;
  /** The class the alert is raised for (a class name or `anomaly`); undefined when no alert. */
  alertClass?: string;
}

export function decide(probs: ArrayLike<number>, offset: number, anomalyError: number, t: Thresholds, useAnomaly = true): Decision {
  const k = t.classNames.length;
  let best = 0;
  for (let c = 1; c < k; c++) if (probs[offset + c]! > probs[offset + best]!) best = c;
  const score = probs[offset + best]!;
  const anomaly = t.anomaly > 0 ? anomalyError / t.anomaly : 0;
  let alertClass: string | undefined;
  if (best !== t.benignIndex && score >= t.perClass[best]!) alertClass = t.classNames[best];
  else if (useAnomaly && anomaly >= 1) alertClass = ANOMALY_CLASS;
  return { classIndex: best, className: t.classNames[best]!, score, anomaly, alert: alertClass !== undefined, alertClass };
}

/**
 * Turns model outputs into a decision about one flow (evidence, not yet an alert: see detection/). A flow alerts when
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

/** Operator overrides of the model's thresholds (sensor settings `detect.classThreshold` / `detect.anomalyThreshold`). */
export interface DecisionOverrides {
  /** One probability threshold for every attack class instead of the model's per-class ones. */
  classThreshold?: number;
  /** A ceiling on the per-class thresholds: verdicts weaker than a flow alert still count (as evidence, detection/). */
  classThresholdCap?: number;
  /** Anomaly ratio (error / model threshold) at which a flow is anomalous; default 1. */
  anomalyThreshold?: number;
  /** false: never alert as `anomaly`. */
  useAnomaly?: boolean;
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
  /** The probability threshold the alerting class passed (0 for `anomaly` or no alert): how far above it is confidence. */
  threshold: number;
}

/** The one place a flow's scores become a decision. */
export function decide(probs: ArrayLike<number>, offset: number, anomalyError: number, t: Thresholds, o: DecisionOverrides = {}): Decision {
  const k = t.classNames.length;
  let best = 0;
  for (let c = 1; c < k; c++) if (probs[offset + c]! > probs[offset + best]!) best = c;
  const score = probs[offset + best]!;
  const anomaly = t.anomaly > 0 ? anomalyError / t.anomaly : 0;
  let alertClass: string | undefined;
  let threshold = 0;
  const classT = o.classThreshold ?? Math.min(t.perClass[best]!, o.classThresholdCap ?? 1);
  if (best !== t.benignIndex && score >= classT) { alertClass = t.classNames[best]; threshold = classT; }
  else if ((o.useAnomaly ?? true) && anomaly >= (o.anomalyThreshold ?? 1)) alertClass = ANOMALY_CLASS;
  return { classIndex: best, className: t.classNames[best]!, score, anomaly, alert: alertClass !== undefined, alertClass, threshold };
}

/**
 * Keys of the ONNX metadata_props a netsensor detection model carries. JSON values are encoded as strings
 * (metadata_props is string → string).
 */
export const META = {
  schemaId: 'feature_schema_id',
  featureNames: 'feature_names', // JSON string[]
  classNames: 'class_names', // JSON string[]
  classThresholds: 'class_thresholds', // JSON number[] (one per class; benign's unused)
  anomalyThreshold: 'anomaly_threshold', // number
  anomalyFit: 'anomaly_calibration', // JSON { method, mu, sigma, target_fpr, empirical }
  version: 'model_version',
  quantization: 'quantization', // 'float32' | 'int8-qdq-w7'
  trainingData: 'training_data', // JSON summary
  attribution: 'attribution',
} as const;

export const BENIGN_CLASS = 'benign';

/**
 * A detection model with the real graph and metadata (models/onnx/export.ts) but untrained weights, for
 * sensor tests that check the data path (capture → core → inference → events → MQTT), not detection quality.
 * Used with thresholds that flag every flow (e.g. --anomaly-threshold 0) until the shipped model exists.
 */
import { writeFileSync } from 'node:fs';
import { buildDetectionModel } from '../../models/onnx/export.ts';
import { META } from '../../inference/metadata.ts';
import { createNet } from '../../models/train/dense.ts';
import { FEATURE_NAMES, NUM_FEATURES, SCHEMA_ID } from '../../core/schema.ts';

export const UNTRAINED_CLASSES = ['benign', 'scan', 'dos'];

export function writeUntrainedModel(path: string, version = 'untrained-test-1'): string {
  const bytes = buildDetectionModel({
    standardiser: { mean: new Float32Array(NUM_FEATURES), std: new Float32Array(NUM_FEATURES).fill(1) },
    classifier: createNet([NUM_FEATURES, 8, UNTRAINED_CLASSES.length], 1),
    autoencoder: createNet([NUM_FEATURES, 4, NUM_FEATURES], 2),
    metadata: {
      [META.schemaId]: SCHEMA_ID,
      [META.featureNames]: JSON.stringify(FEATURE_NAMES),
      [META.classNames]: JSON.stringify(UNTRAINED_CLASSES),
      [META.classThresholds]: JSON.stringify([1, 0.99, 0.99]),
      [META.anomalyThreshold]: '1000000',
      [META.version]: version,
      [META.quantization]: 'float32',
    },
  });
  writeFileSync(path, bytes);
  return path;
}

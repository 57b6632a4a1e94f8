/**
 * What the column-table exports (cic.ts, nfstream.ts) share: a row's features read by schema name (core/schema.ts;
 * an unknown name throws rather than fill a column wrongly) and one CSV cell per value, empty for "not measured".
 */
import { featureIndex, NUM_FEATURES } from '../schema.js';
import type { FlowBatch } from '../host.js';
import { formatFeature } from './record.js';

export type Value = number | string | undefined;
export type FeatureOf = (name: string) => number;

const INDEX = new Map<string, number>();
function indexOf(name: string): number {
  let i = INDEX.get(name);
  if (i === undefined) { i = featureIndex(name); INDEX.set(name, i); }
  return i;
}

/** The feature values of row `r` of a batch, by schema name. */
export function rowFeatures(batch: FlowBatch, r: number): FeatureOf {
  const base = r * NUM_FEATURES;
  return (name) => batch.features[base + indexOf(name)];
}

export const cell = (v: Value): string => (v === undefined ? '' : typeof v === 'string' ? v : formatFeature(v));

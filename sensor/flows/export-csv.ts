/**
 * CSV flow export: a header line (schema names, or CICFlowMeter names with --cic-names), then one line per
 * finished flow. No value contains a comma or a quote (addresses, numbers, end-reason words), so none is quoted.
 */
import { NUM_FEATURES } from '../../models/schema.js';
import type { FlowBatch } from '../core.js';
import { formatFeature, keyValues, recordLayout } from './record.js';
import type { FlowWriter, TextSink } from './writer.js';

export function csvWriter(out: TextSink, opts: { cicNames?: boolean } = {}): FlowWriter {
  const layout = recordLayout(opts);
  const idx = layout.featureIndexes;
  out.write(layout.names.join(',') + '\n');
  return {
    names: layout.names,
    write(batch: FlowBatch): void {
      const f = batch.features;
      let text = '';
      for (let r = 0; r < batch.rows; r++) {
        let line = keyValues(batch.keys[r]).join(',');
        const base = r * NUM_FEATURES;
        for (let j = 0; j < idx.length; j++) line += ',' + formatFeature(f[base + idx[j]]);
        text += line + '\n';
      }
      out.write(text);
    },
  };
}

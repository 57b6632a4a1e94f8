/**
 * JSON Lines flow export: one object per finished flow, keys in record order (key columns, then features).
 * Built as text with precomputed `"name":` prefixes (no object per row); a non-finite value becomes null.
 */
import { NUM_FEATURES } from '../../models/schema.js';
import type { FlowBatch } from '../core.js';
import { formatFeature, keyValues, recordLayout, TEXT_KEY_COLUMNS } from './record.js';
import type { FlowWriter, TextSink } from './writer.js';

export function jsonlWriter(out: TextSink, opts: { cicNames?: boolean } = {}): FlowWriter {
  const layout = recordLayout(opts);
  const idx = layout.featureIndexes;
  const nk = layout.keyColumns.length;
  const keyPrefix = layout.keyColumns.map((c, i) => `${i === 0 ? '{' : ','}${JSON.stringify(layout.names[i])}:`);
  const keyQuoted = layout.keyColumns.map((c) => TEXT_KEY_COLUMNS.has(c));
  const featPrefix = idx.map((_, j) => `,${JSON.stringify(layout.names[nk + j])}:`);
  return {
    names: layout.names,
    write(batch: FlowBatch): void {
      const f = batch.features;
      let text = '';
      for (let r = 0; r < batch.rows; r++) {
        const kv = keyValues(batch.keys[r]);
        let line = '';
        for (let i = 0; i < nk; i++) line += keyPrefix[i] + (keyQuoted[i] ? JSON.stringify(kv[i]) : kv[i]);
        const base = r * NUM_FEATURES;
        for (let j = 0; j < idx.length; j++) {
          const s = formatFeature(f[base + idx[j]]);
          line += featPrefix[j] + (s === '' ? 'null' : s);
        }
        text += line + '}\n';
      }
      out.write(text);
    },
  };
}

/**
 * JSON Lines flow export: one object per finished flow, keys in record order (key columns, then features).
 * Written byte by byte with precomputed `"name":` prefixes (no object or string per value); a non-finite
 * feature value becomes null.
 */
import { NUM_FEATURES } from '../schema.js';
import type { FlowBatch } from '../host.js';
import { recordLayout, writeKeyColumns } from './record.js';
import { PrefixTable, TextBuffer } from './text-buffer.js';
import type { FlowWriter, TextSink } from './writer.js';

export function jsonlWriter(out: TextSink, opts: { cicNames?: boolean } = {}): FlowWriter {
  const layout = recordLayout(opts);
  const idx = layout.featureIndexes;
  const nk = layout.keyColumns.length;
  const keyPrefixes = new PrefixTable(layout.keyColumns.map((_, i) => `${i === 0 ? '{' : ','}${JSON.stringify(layout.names[i])}:`));
  const featPrefixes = new PrefixTable(idx.map((_, j) => `,${JSON.stringify(layout.names[nk + j])}:`));
  const nul = TextBuffer.encode('null');
  const tb = new TextBuffer();
  return {
    names: layout.names,
    write(batch: FlowBatch): void {
      const f = batch.features;
      const kb = batch.keyBytes;
      const kv = new DataView(kb.buffer, kb.byteOffset, kb.byteLength);
      for (let r = 0; r < batch.rows; r++) {
        // addresses and end reasons are plain ASCII without quotes or backslashes: no JSON escaping needed
        writeKeyColumns(tb, kb, kv, r, keyPrefixes, true);
        const base = r * NUM_FEATURES;
        for (let j = 0; j < idx.length; j++) {
          tb.prefix(featPrefixes, j);
          tb.feature(f[base + idx[j]], nul);
        }
        tb.byte(125);
        tb.byte(10);
        if (tb.pos >= TextBuffer.FLUSH_AT) tb.flushTo(out);
      }
      tb.flushTo(out);
    },
  };
}

/**
 * CSV flow export: a header line (schema names, or CICFlowMeter names with --cic-names), then one line per
 * finished flow. No value contains a comma or a quote (addresses, numbers, end-reason words), so none is quoted;
 * a non-finite feature value is an empty cell.
 */
import { NUM_FEATURES } from '../schema.js';
import type { FlowBatch } from '../host.js';
import { recordLayout, writeKeyColumns } from './record.js';
import { TextBuffer } from './text-buffer.js';
import type { FlowWriter, TextSink } from './writer.js';

export function csvWriter(out: TextSink, opts: { cicNames?: boolean } = {}): FlowWriter {
  const layout = recordLayout(opts);
  const idx = layout.featureIndexes;
  const comma = TextBuffer.encode(',');
  const keyPrefixes = layout.keyColumns.map((_, i) => TextBuffer.encode(i === 0 ? '' : ','));
  const empty = new Uint8Array(0);
  const tb = new TextBuffer();
  out.write(layout.names.join(',') + '\n');
  return {
    names: layout.names,
    write(batch: FlowBatch): void {
      const f = batch.features;
      for (let r = 0; r < batch.rows; r++) {
        writeKeyColumns(tb, batch.keys[r], keyPrefixes, false);
        const base = r * NUM_FEATURES;
        for (let j = 0; j < idx.length; j++) {
          tb.bytes(comma);
          tb.feature(f[base + idx[j]], empty);
        }
        tb.byte(10);
        if (tb.pos >= TextBuffer.FLUSH_AT) tb.flushTo(out);
      }
      tb.flushTo(out);
    },
  };
}

/**
 * CSV flow export: a header line (schema names; --cic-names selects the CIC-IDS2017 dialect, core/export/cic.ts; --nfstream-names NFStream's, nfstream.ts), then one line per
 * finished flow. No value contains a comma or a quote (addresses, numbers, end-reason words), so none is quoted;
 * a non-finite feature value is an empty cell.
 */
import { NUM_FEATURES } from '../schema.js';
import type { FlowBatch } from '../host.js';
import { cicCsvWriter } from './cic.js';
import { nfstreamCsvWriter } from './nfstream.js';
import { recordLayout, writeKeyColumns } from './record.js';
import { PrefixTable, TextBuffer } from './text-buffer.js';
import type { FlowWriter, TextSink } from './writer.js';

export function csvWriter(out: TextSink, opts: { cicNames?: boolean; nfstreamNames?: boolean; label?: string } = {}): FlowWriter {
  if (opts.cicNames) return cicCsvWriter(out, opts);
  if (opts.nfstreamNames) return nfstreamCsvWriter(out);
  const layout = recordLayout(opts);
  const idx = layout.featureIndexes;
  const keyPrefixes = new PrefixTable(layout.keyColumns.map((_, i) => (i === 0 ? '' : ',')));
  const empty = new Uint8Array(0);
  const tb = new TextBuffer();
  out.write(layout.names.join(',') + '\n');
  return {
    names: layout.names,
    write(batch: FlowBatch): void {
      const f = batch.features;
      const kb = batch.keyBytes;
      const kv = new DataView(kb.buffer, kb.byteOffset, kb.byteLength);
      for (let r = 0; r < batch.rows; r++) {
        writeKeyColumns(tb, kb, kv, r, keyPrefixes, false);
        const base = r * NUM_FEATURES;
        for (let j = 0; j < idx.length; j++) {
          tb.byte(44); // ,
          tb.feature(f[base + idx[j]], empty);
        }
        tb.byte(10);
        if (tb.pos >= TextBuffer.FLUSH_AT) tb.flushTo(out);
      }
      tb.flushTo(out);
    },
  };
}

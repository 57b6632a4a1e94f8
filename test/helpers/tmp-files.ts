/** Test inputs written to numbered files in one temporary folder. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A new temporary folder, and a writer that stores `bytes` in a new file `f<n><ext>` there and returns its path. */
export function tmpFiles(prefix: string, ext: string): { dir: string; file: (bytes: Uint8Array) => string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let n = 0;
  return {
    dir,
    file: (bytes) => {
      const p = join(dir, `f${n++}${ext}`);
      writeFileSync(p, bytes);
      return p;
    },
  };
}
